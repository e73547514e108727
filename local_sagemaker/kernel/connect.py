"""The one switch of every notebook: AWS, or the local cloud.

On SageMaker Studio, or with ``MAZE_TARGET=aws``, it changes nothing: boto3 and the SDK find
real AWS the usual way. Otherwise it finds or starts the local cloud and points boto3 and the
SageMaker SDK at it, so the rest of the notebook is the code a participant runs on AWS.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import boto3
import botocore.handlers
from botocore.exceptions import EndpointConnectionError

from local_sagemaker.common import state_files
from local_sagemaker.common.account import ACCOUNT_ID, DEFAULT_REGION, ROLE_ARN, SESSION_SECONDS
from local_sagemaker.kernel import launcher
from local_sagemaker.kernel.sdk_polling import POLL_SCALE, ScaledClock, when_imported
from local_sagemaker.kernel.supported_python import require as require_supported_python
from local_sagemaker.kernel.team import team_name
from local_sagemaker.kernel.versions import check_local_cloud, check_versions

STUDIO_METADATA = Path("/opt/ml/metadata/resource-metadata.json")
# How long an auto-started cloud outlives the last notebook kernel that used it.
IDLE_SECONDS = float(os.environ.get("MAZE_IDLE_SECONDS", "300"))
# The SDK's modules that hold an ``sts_regional_endpoint`` (sagemaker 2.257.7, sagemaker-core 1.x).
STS_MODULES = ("sagemaker.utils", "sagemaker.session", "sagemaker_core.helper.session_helper")


@dataclass(frozen=True)
class Connection:
    """Where this kernel's AWS calls go."""

    target: str
    endpoint: str | None = None
    region: str | None = None
    team: str = field(default_factory=team_name)

    def __str__(self) -> str:
        where = "AWS" if self.target == "aws" else f"the local cloud at {self.endpoint} (offline, {self.region})"
        return f"SageMaker Maze: this notebook talks to {where}, as team '{self.team}'."


def chosen_target() -> str:
    target = os.environ.get("MAZE_TARGET", "aws" if STUDIO_METADATA.exists() else "local").strip().lower()
    if target not in ("aws", "local"):
        raise ValueError(f"MAZE_TARGET={target!r}: use 'aws' (real SageMaker) or 'local' (the offline local cloud).")
    return target


def connect() -> Connection:
    """Check the kernel's Python and packages, quieten the SDK, choose the cloud for this kernel and say which."""
    require_supported_python()
    kernel = check_versions()
    _quiet_sdk()
    if chosen_target() == "aws":
        connection = Connection("aws")
    else:
        check_local_cloud()
        info, _ = launcher.find_or_start(state_files.state_dir(), idle_seconds=IDLE_SECONDS)
        connection = _point_at(info)
    print(f"{connection}\nKernel: {kernel}.")
    return connection


def _quiet_sdk() -> None:
    """The SDK's own switches for its v2 deprecation warning and its ``sagemaker.config INFO`` lines.

    This workshop uses SDK v2 on purpose (v3 has no ``sagemaker.sklearn``); the warning would repeat
    that on every estimator and model. The SDK reads the variable each time it would warn, and leaves
    the level of a ``sagemaker.config`` logger that is already set, so this works before and after
    ``import sagemaker`` (only the warning of an import that came first has been printed already).
    """
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    logging.getLogger("sagemaker.config").setLevel(logging.WARNING)


def _point_at(info: launcher.CloudInfo) -> Connection:
    region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or DEFAULT_REGION
    _register_kernel(info)
    # A named profile would take precedence over the environment's credentials.
    os.environ.pop("AWS_PROFILE", None)
    os.environ.update(
        AWS_ENDPOINT_URL=info.endpoint,
        AWS_DEFAULT_REGION=region,
        AWS_REGION=region,
        AWS_ACCESS_KEY_ID=info.access_key_id,
        AWS_SECRET_ACCESS_KEY=info.secret_access_key,
        SAGEMAKER_USER_CONFIG_OVERRIDE=str(_write_sdk_config(info.state_dir, region)),
    )
    os.environ.pop("AWS_SESSION_TOKEN", None)
    # As in a Studio notebook, the kernel works as the SageMaker execution role, for a workshop day: the cloud
    # enforces the session's Expiration as STS does, and Studio's refreshing credentials have no twin here.
    sts = boto3.session.Session().client("sts", endpoint_url=info.endpoint, region_name=region)
    credentials = sts.assume_role(
        RoleArn=ROLE_ARN, RoleSessionName="maze-participant", DurationSeconds=SESSION_SECONDS
    )["Credentials"]
    os.environ.update(
        AWS_ACCESS_KEY_ID=credentials["AccessKeyId"],
        AWS_SECRET_ACCESS_KEY=credentials["SecretAccessKey"],
        AWS_SESSION_TOKEN=credentials["SessionToken"],
    )
    boto3.DEFAULT_SESSION = None  # it caches the credentials it resolved first
    for module in STS_MODULES:
        when_imported(module, _adjust_sdk)
    if ("needs-retry", _explain_unreachable_cloud) not in botocore.handlers.BUILTIN_HANDLERS:
        botocore.handlers.BUILTIN_HANDLERS.append(("needs-retry", _explain_unreachable_cloud))
    # botocore announces at INFO level, on every client, that it uses AWS_ENDPOINT_URL.
    logging.getLogger("botocore.configprovider").setLevel(logging.WARNING)
    return Connection("local", info.endpoint, region)


def _explain_unreachable_cloud(caught_exception: Exception | None = None, **_: object) -> None:
    """An AWS call that cannot reach the local cloud says why and how to fix it, instead of retrying."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    if (
        isinstance(caught_exception, EndpointConnectionError)
        and endpoint
        and caught_exception.kwargs.get("endpoint_url", "").startswith(endpoint)
    ):
        raise launcher.LocalCloudNotRunning(
            f"The local cloud at {endpoint} is not running (stopped with `down`, or shut down after its last "
            "notebook kernel exited). Run the notebook's first cell again (local_sagemaker.connect()) to start it, "
            "or start it from a terminal with `python -m local_sagemaker up`. A new local cloud starts empty: "
            "rerun the cells that upload data or train before this one."
        ) from caught_exception


def _register_kernel(info: launcher.CloudInfo) -> None:
    """The cloud stays up while a kernel that connected lives (and a grace period after)."""
    info.call("clients", {"pid": os.getpid()})


def _write_sdk_config(state: Path, region: str) -> Path:
    """The SDK's own config file: the default bucket AWS would name, and no telemetry to AWS hosts."""
    path = state / "sagemaker-config.yaml"
    state_files.write_private(
        path,
        "SchemaVersion: '1.0'\n"
        "SageMaker:\n"
        "  PythonSDK:\n"
        "    Modules:\n"
        "      TelemetryOptOut: true\n"
        "      Session:\n"
        f"        DefaultS3Bucket: sagemaker-{region}-{ACCOUNT_ID}\n",
    )
    return path


def _local_sts_endpoint(region: str) -> str:
    """Offline stand-in for the SDK's ``sts_regional_endpoint``: every region's STS is the local cloud."""
    return os.environ["AWS_ENDPOINT_URL"]


def _adjust_sdk(module: ModuleType) -> None:
    """Two offline-only adjustments of the SDK; see ``sdk_polling`` for the second (``sagemaker.session`` only).

    The SDK builds its STS clients with an explicit regional AWS URL from ``sts_regional_endpoint``,
    which AWS_ENDPOINT_URL cannot override; without this, get_execution_role() and default_bucket()
    would call AWS. Each module of STS_MODULES defines or imports that function by name.
    """
    module.sts_regional_endpoint = _local_sts_endpoint
    if module.__name__ == "sagemaker.session" and not isinstance(module.time, ScaledClock):
        module.time = ScaledClock(POLL_SCALE)
