"""Delete what a team left running: endpoints bill by the hour whether they serve or not.

A notebook that deletes its endpoint in its last cell leaves it running when any cell before
fails. ``guard_endpoints`` closes that gap: installed right after the SDK set-up, it deletes the
team's endpoints when a cell raises (an interrupted cell included) and when the kernel exits.
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
    """Delete the team's endpoints when a notebook cell raises, and when the kernel exits.

    Running the installing cell again replaces the guard rather than adding a second one. Outside
    IPython (a plain script) only the exit hook is installed.
    """
    global _guard
    _unregister(_guard)
    _guard = _Guard(sagemaker_client, team)
    atexit.register(_guard.at_exit)
    shell = _ipython()
    if shell is not None:
        shell.events.register("post_run_cell", _guard.after_cell)


class _Guard:
    def __init__(self, sagemaker_client: Any, team: str) -> None:
        self.client, self.team = sagemaker_client, team
        # Processes forked from the kernel (a load test's) inherit the hooks; only the kernel acts.
        self.pid = os.getpid()

    def after_cell(self, result: Any) -> None:
        if os.getpid() != self.pid or result.success:
            return
        try:
            deleted = delete_team_endpoints(self.client, self.team)
        except (BotoCoreError, ClientError) as error:
            print(f"maze clean-up: the cell failed; deleting the endpoints of team {self.team} failed too: {error}")
            return
        if deleted:
            print(
                f"maze clean-up: the cell failed, so the endpoints of team {self.team} were deleted "
                f"(they bill by the hour): {', '.join(deleted)}. Run the deploy cell again to go on."
            )

    def at_exit(self) -> None:
        if os.getpid() != self.pid:
            return
        # The kernel is going away: nobody is left to read an error.
        with contextlib.suppress(BotoCoreError, ClientError):
            delete_team_endpoints(self.client, self.team)


_guard: _Guard | None = None


def _unregister(guard: _Guard | None) -> None:
    if guard is None:
        return
    atexit.unregister(guard.at_exit)
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
