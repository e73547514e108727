"""Delete what a team left running: endpoints bill by the hour whether they serve or not.

A notebook that deletes its endpoint in its last cell leaves it running when any cell before
fails. ``guard_endpoints`` closes that gap: installed right after the SDK set-up, it deletes the
endpoints this kernel created when a cell raises (an interrupted cell included) and when the
kernel exits. Only this kernel's: a team with two notebooks open must not lose task 2's endpoint
because task 1's kernel was shut down; ``python -m maze cleanup`` deletes every endpoint of a team.
Everything goes through the boto3 SageMaker client the notebook passes in, so it works the same
on AWS and against the local cloud. A team's resources are the ones whose names start with
``maze-<team>-`` (the SDK appends a timestamp to that base): a prefix, never a bare substring, and
team names hold no hyphen, so team ``a`` never touches team ``ab``'s endpoints.
"""

from __future__ import annotations

import atexit
import contextlib
import os
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

# kind -> (list operation, result key, name key) and (delete operation, name key)
_LISTINGS = {
    "endpoint": ("list_endpoints", "Endpoints", "EndpointName"),
    "endpoint config": ("list_endpoint_configs", "EndpointConfigs", "EndpointConfigName"),
    "model": ("list_models", "Models", "ModelName"),
}
_DELETIONS = {
    "endpoint": ("delete_endpoint", "EndpointName"),
    "endpoint config": ("delete_endpoint_config", "EndpointConfigName"),
    "model": ("delete_model", "ModelName"),
}


def team_prefix(team: str) -> str:
    """Every SageMaker resource of a team is named ``maze-<team>-...``."""
    return f"maze-{team}-"


def team_names(sagemaker_client: Any, kind: str, team: str) -> list[str]:
    """Names of the team's resources of one kind (``endpoint``, ``endpoint config``, ``model``), every page."""
    operation, key, name_key = _LISTINGS[kind]
    prefix = team_prefix(team)
    names: list[str] = []
    for page in sagemaker_client.get_paginator(operation).paginate(NameContains=prefix):
        names += [item[name_key] for item in page[key] if item[name_key].startswith(prefix)]
    return names


def _delete(sagemaker_client: Any, kind: str, names: list[str]) -> list[str]:
    """Delete each; one already gone (deleted meanwhile by another kernel) is not an error."""
    operation, name_key = _DELETIONS[kind]
    deleted = []
    for name in names:
        try:
            getattr(sagemaker_client, operation)(**{name_key: name})
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("ValidationException", "ResourceNotFound"):
                raise
            continue
        deleted.append(name)
    return deleted


def delete_team_endpoints(sagemaker_client: Any, team: str) -> list[str]:
    """Delete every endpoint of the team (configurations and models stay: they cost nothing); the names deleted."""
    return _delete(sagemaker_client, "endpoint", team_names(sagemaker_client, "endpoint", team))


def delete_team_resources(sagemaker_client: Any, team: str) -> list[str]:
    """Delete the team's endpoints, then their configurations, then the models; the names deleted.

    For a facilitator after the event (``python -m maze cleanup``): it also removes the records
    the progress board reads.
    """
    deleted = delete_team_endpoints(sagemaker_client, team)
    for kind in ("endpoint config", "model"):
        deleted += _delete(sagemaker_client, kind, team_names(sagemaker_client, kind, team))
    return deleted


def guard_endpoints(sagemaker_client: Any, team: str) -> None:
    """Delete the endpoints this kernel creates through ``sagemaker_client`` when a cell raises, and at exit.

    The client records every ``CreateEndpoint`` it sends (the SDK's ``deploy()`` included, when its
    session uses this client), so the guard knows which endpoints are this kernel's. Running the
    installing cell again replaces the guard rather than adding a second one. Outside IPython (a
    plain script) only the exit hook is installed.
    """
    global _guard
    _unregister(_guard)
    _guard = _Guard(sagemaker_client, team)
    sagemaker_client.meta.events.register("before-parameter-build.sagemaker.CreateEndpoint", _guard.record)
    atexit.register(_guard.at_exit)
    shell = _ipython()
    if shell is not None:
        shell.events.register("post_run_cell", _guard.after_cell)


class _Guard:
    def __init__(self, sagemaker_client: Any, team: str) -> None:
        self.client, self.team = sagemaker_client, team
        self.created: list[str] = []
        # Processes forked from the kernel (a load test's) inherit the hooks; only the kernel acts.
        self.pid = os.getpid()

    def record(self, params: dict[str, Any], **_: Any) -> None:
        if params.get("EndpointName", "").startswith(team_prefix(self.team)):
            self.created.append(params["EndpointName"])

    def _delete_created(self) -> list[str]:
        live = set(team_names(self.client, "endpoint", self.team))
        deleted = _delete(self.client, "endpoint", [name for name in dict.fromkeys(self.created) if name in live])
        self.created = [name for name in self.created if name not in deleted]
        return deleted

    def after_cell(self, result: Any) -> None:
        if os.getpid() != self.pid or result.success or not self.created:
            return
        try:
            deleted = self._delete_created()
        except (BotoCoreError, ClientError) as error:
            print(f"maze clean-up: the cell failed; deleting this notebook's endpoints failed too: {error}")
            return
        if deleted:
            print(
                f"maze clean-up: the cell failed, so this notebook's endpoints were deleted "
                f"(they bill by the hour): {', '.join(deleted)}. Run the deploy cell again to go on."
            )

    def at_exit(self) -> None:
        if os.getpid() != self.pid or not self.created:
            return
        # The kernel is going away: nobody is left to read an error.
        with contextlib.suppress(BotoCoreError, ClientError):
            self._delete_created()


_guard: _Guard | None = None


def _unregister(guard: _Guard | None) -> None:
    if guard is None:
        return
    atexit.unregister(guard.at_exit)
    guard.client.meta.events.unregister("before-parameter-build.sagemaker.CreateEndpoint", guard.record)
    shell = _ipython()
    if shell is not None and guard.after_cell in shell.events.callbacks["post_run_cell"]:
        shell.events.unregister("post_run_cell", guard.after_cell)


def _ipython() -> Any:
    """The running IPython shell, or None (IPython not installed, or not running)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()
