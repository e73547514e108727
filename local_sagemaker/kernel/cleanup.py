"""Delete what a team left running: endpoints bill by the hour whether they serve or not.

A notebook that deletes its endpoint in its last cell leaves it running when the participant
stops before that cell. ``guard_endpoints`` closes that gap without costing a redeploy (5 to 10
minutes on AWS) for a typo: a cell that fails deletes nothing; the endpoints this kernel created
are deleted when the kernel exits, and when no cell has run for ``MAZE_ENDPOINT_IDLE_MINUTES``
(30 by default), the sign of a notebook left alone. Only this kernel's: a team with two notebooks
open must not lose task 2's endpoint because task 1's kernel was shut down; ``python -m maze
cleanup`` deletes every endpoint of a team. Everything goes through the boto3 SageMaker client the
notebook passes in, so it works the same on AWS and against the local cloud. A team's resources
are the ones whose names start with ``maze-<team>-`` (the SDK appends a timestamp to that base): a
prefix, never a bare substring, and team names hold no hyphen, so team ``a`` never touches team
``ab``'s endpoints.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time
from typing import Any

import boto3
from botocore import handlers
from botocore.exceptions import BotoCoreError, ClientError

# kind -> (list operation, result key, name key, id key, list arguments) and (delete operation, id member). A
# model package version is named after its group (maze-<team>-...), listed only when asked for versions, and
# deleted by its ARN.
_LISTINGS: dict[str, tuple[str, str, str, str, dict[str, str]]] = {
    "endpoint": ("list_endpoints", "Endpoints", "EndpointName", "EndpointName", {}),
    "endpoint config": ("list_endpoint_configs", "EndpointConfigs", "EndpointConfigName", "EndpointConfigName", {}),
    "model": ("list_models", "Models", "ModelName", "ModelName", {}),
    "model package": (
        "list_model_packages",
        "ModelPackageSummaryList",
        "ModelPackageName",
        "ModelPackageArn",
        {"ModelPackageType": "Versioned"},
    ),
    "model package group": (
        "list_model_package_groups",
        "ModelPackageGroupSummaryList",
        "ModelPackageGroupName",
        "ModelPackageGroupName",
        {},
    ),
}
_DELETIONS = {
    "endpoint": ("delete_endpoint", "EndpointName"),
    "endpoint config": ("delete_endpoint_config", "EndpointConfigName"),
    "model": ("delete_model", "ModelName"),
    "model package": ("delete_model_package", "ModelPackageName"),
    "model package group": ("delete_model_package_group", "ModelPackageGroupName"),
}
# What a facilitator's clean-up deletes, in an order each deletion allows: an endpoint before its configuration,
# a group's versions before the group.
KINDS = tuple(_LISTINGS)
IDLE_SETTING = "MAZE_ENDPOINT_IDLE_MINUTES"
DEFAULT_IDLE_MINUTES = 30.0
RULE = (
    "an endpoint a notebook creates is deleted when its kernel shuts down, or when no cell has run for "
    f"{IDLE_SETTING} minutes ({DEFAULT_IDLE_MINUTES:g} unless set); a cell that fails deletes nothing"
)
# What a plain script's idle clock counts (outside IPython there are no cells): its calls to SageMaker Runtime,
# and those through the guarded SageMaker client.
RUNTIME_CALL, SAGEMAKER_CALL = "before-call.sagemaker-runtime", "before-call.sagemaker"


def team_prefix(team: str) -> str:
    """Every SageMaker resource of a team is named ``maze-<team>-...``."""
    return f"maze-{team}-"


def team_names(sagemaker_client: Any, kind: str, team: str) -> list[str]:
    """The team's resources of one kind (one of KINDS), every page: their names (a model package version's ARN)."""
    operation, key, name_key, id_key, arguments = _LISTINGS[kind]
    prefix = team_prefix(team)
    names: list[str] = []
    for page in sagemaker_client.get_paginator(operation).paginate(NameContains=prefix, **arguments):
        names += [item[id_key] for item in page[key] if item[name_key].startswith(prefix)]
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
    """Delete the team's endpoints, then their configurations, the models, the model package versions and their
    groups; the names deleted.

    For a facilitator after the event (``python -m maze cleanup``): it also removes the records
    the progress board reads.
    """
    deleted = delete_team_endpoints(sagemaker_client, team)
    for kind in KINDS[1:]:
        deleted += _delete(sagemaker_client, kind, team_names(sagemaker_client, kind, team))
    return deleted


def guard_endpoints(sagemaker_client: Any, team: str) -> None:
    """The endpoints this notebook creates are deleted when its kernel shuts down, or when no cell has run for
    ``MAZE_ENDPOINT_IDLE_MINUTES`` minutes (30 unless set); a cell that fails deletes nothing.

    Why: a typo in a later cell must not cost a 5 to 10 minute redeploy, but no endpoint may bill
    on for hours after its notebook was left. The idle time runs from the end of the last cell, so
    a cell that runs long (a load test) never counts as idle; a deletion prints the endpoints'
    names and this rule, when it happens and again before the next cell runs. The client records
    every ``CreateEndpoint`` it sends (the SDK's ``deploy()`` included, when its session uses this
    client), so the guard knows which endpoints are this kernel's. Running the installing cell again
    replaces the guard (and keeps what it knew) rather than adding a second one.

    Outside IPython (a plain script, no cells) the idle time runs from the installation, and each
    call the script makes through ``sagemaker_client`` (creating an endpoint, waiting for it) or to
    SageMaker Runtime (``InvokeEndpoint``...) starts it again. botocore gives each client a copy of
    its session's hooks, so only Runtime calls through clients created after the installation
    count: install the guard before the ``sagemaker.Session`` whose predictors the script uses.
    """
    global _guard
    idle_seconds = _idle_minutes() * 60
    previous, _guard = _guard, None
    if previous is not None:
        previous.uninstall()
    _guard = _Guard(sagemaker_client, team, idle_seconds, _ipython())
    if previous is not None and previous.team == team:
        _guard.created = previous.created
    _guard.install()


def _idle_minutes() -> float:
    """``MAZE_ENDPOINT_IDLE_MINUTES``: a positive number of minutes, fractions allowed."""
    raw = os.environ.get(IDLE_SETTING, "").strip()
    if not raw:
        return DEFAULT_IDLE_MINUTES
    try:
        minutes = float(raw)
    except ValueError:
        minutes = 0.0
    if not 0 < minutes < float("inf"):
        raise ValueError(
            f"{IDLE_SETTING}={raw!r} is not a number of minutes: set a positive number, e.g. "
            f"{IDLE_SETTING}=45, or unset it for {DEFAULT_IDLE_MINUTES:g}."
        )
    return minutes


class _Guard:
    """One kernel's endpoints, its idle clock and the daemon thread that reads it."""

    def __init__(self, sagemaker_client: Any, team: str, idle_seconds: float, shell: Any) -> None:
        self.client, self.team, self.idle_seconds, self.shell = sagemaker_client, team, idle_seconds, shell
        self.created: list[str] = []
        # Processes forked from the kernel (a load test's) inherit the hooks; only the kernel acts.
        self.pid = os.getpid()
        # Held while the guard deletes: a cell that starts meanwhile waits, then shows what was deleted.
        self.lock = threading.RLock()
        self.last_activity = time.monotonic()
        self.busy = shell is not None  # installed from a cell, which is running
        self.notice = ""  # what an idle deletion printed, printed again before the next cell
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="maze-endpoint-idle-guard", daemon=True)

    def install(self) -> None:
        self.client.meta.events.register("before-parameter-build.sagemaker.CreateEndpoint", self.record)
        atexit.register(self.at_exit)
        if self.shell is not None:
            self.shell.events.register("pre_run_cell", self.before_cell)
            self.shell.events.register("post_run_cell", self.after_cell)
        else:
            self.client.meta.events.register(SAGEMAKER_CALL, self.called)
            handlers.BUILTIN_HANDLERS.append((RUNTIME_CALL, self.called))  # sessions created from now on
            if boto3.DEFAULT_SESSION is not None:
                boto3.DEFAULT_SESSION.events.register(RUNTIME_CALL, self.called)
        self.thread.start()

    def uninstall(self) -> None:
        self.stop.set()
        atexit.unregister(self.at_exit)
        self.client.meta.events.unregister("before-parameter-build.sagemaker.CreateEndpoint", self.record)
        if self.shell is not None:
            for event, callback in (("pre_run_cell", self.before_cell), ("post_run_cell", self.after_cell)):
                if callback in self.shell.events.callbacks[event]:
                    self.shell.events.unregister(event, callback)
        else:
            self.client.meta.events.unregister(SAGEMAKER_CALL, self.called)
            with contextlib.suppress(ValueError):
                handlers.BUILTIN_HANDLERS.remove((RUNTIME_CALL, self.called))
            if boto3.DEFAULT_SESSION is not None:
                boto3.DEFAULT_SESSION.events.unregister(RUNTIME_CALL, self.called)

    def record(self, params: dict[str, Any], **_: Any) -> None:
        if params.get("EndpointName", "").startswith(team_prefix(self.team)):
            with self.lock:
                self.created.append(params["EndpointName"])

    def before_cell(self, *_: Any) -> None:
        with self.lock:
            self.busy = True
            if self.notice:
                print(self.notice)
                self.notice = ""

    def after_cell(self, *_: Any) -> None:
        """Every cell, failed or not, only restarts the idle clock."""
        self.last_activity, self.busy = time.monotonic(), False

    def called(self, **_: Any) -> None:
        if os.getpid() == self.pid:
            self.last_activity = time.monotonic()

    def _delete_created(self) -> list[str]:
        with self.lock:
            live = set(team_names(self.client, "endpoint", self.team))
            deleted = _delete(self.client, "endpoint", [name for name in dict.fromkeys(self.created) if name in live])
            self.created = [name for name in self.created if name not in deleted and name in live]
            return deleted

    def _watch(self) -> None:
        """Look at the idle clock a few times per limit (every 30 s at most) until the guard is replaced."""
        while not self.stop.wait(min(30.0, self.idle_seconds / 10)):
            with self.lock:
                if not self.busy and self.created and time.monotonic() - self.last_activity >= self.idle_seconds:
                    self._delete_idle()

    def _delete_idle(self) -> None:
        if self.shell is not None:
            quiet, again = "no cell has run in this notebook", " Run the deploy cell again to go on."
        else:
            quiet, again = "this program has called neither SageMaker nor an endpoint", ""
        minutes = f"{self.idle_seconds / 60:g}"
        try:
            deleted = self._delete_created()
        except (BotoCoreError, ClientError) as error:
            self.last_activity = time.monotonic()  # try again after another idle period, not every few seconds
            print(f"maze clean-up: {quiet} for {minutes} minutes; deleting its endpoints failed: {error}")
            return
        if deleted:
            self.notice = (
                f"maze clean-up: {quiet} for {minutes} minutes, so the endpoints it created were deleted (they bill "
                f"by the hour): {', '.join(deleted)}.{again} The rule: {RULE}."
            )
            print(self.notice)

    def at_exit(self) -> None:
        self.stop.set()
        if os.getpid() != self.pid or not self.created:
            return
        # The kernel is going away: nobody is left to read an error.
        with contextlib.suppress(BotoCoreError, ClientError):
            self._delete_created()


_guard: _Guard | None = None


def _ipython() -> Any:
    """The running IPython shell, or None (IPython not installed, or not running)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()
