"""STS ``AssumeRole`` only for roles that exist and for as long as they allow, as on AWS (moto's STS would hand
out credentials for any ARN and any duration).

The roles that exist are IAM's: the execution role the cloud creates at start and any role created through
IAM since. Anything else is ``AccessDenied`` (403), the answer AWS gives for a role that does not exist or
does not trust the caller, so a typo in a role ARN fails where it is made, not at the job's first S3 call.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from moto.iam.models import iam_backends

from local_sagemaker.cloud.platform.errors import AwsError
from local_sagemaker.common.account import ACCOUNT_ID

ASSUMING = ("AssumeRole", "AssumeRoleWithWebIdentity", "AssumeRoleWithSAML")
MIN_SESSION_SECONDS = 900


def check_assume_role(environ: dict[str, Any], body: bytes, caller: str) -> None:
    """Raise AWS's ``AccessDenied`` if the request assumes a role IAM does not have; other requests pass."""
    parameters = parse_qs(environ.get("QUERY_STRING", ""))
    if "form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        parameters.update(parse_qs(body.decode("utf-8", "replace")))
    action = parameters.get("Action", [""])[0]
    if action not in ASSUMING:
        return
    role_arn = parameters.get("RoleArn", [""])[0]
    role = _role(role_arn)
    if role is None:
        raise AwsError(
            "AccessDenied",
            f"User: {caller} is not authorized to perform: sts:{action} on resource: {role_arn} "
            "(local cloud: no IAM role has this ARN; use the execution role's ARN or create the role with IAM first)",
            403,
        )
    _check_duration(parameters.get("DurationSeconds", ["3600"])[0], int(role.max_session_duration or 3600))


def _check_duration(value: str, most: int) -> None:
    """STS's bounds on ``DurationSeconds`` (moto takes any): 15 minutes up to the role's MaxSessionDuration."""
    if not value.isdigit() or int(value) < MIN_SESSION_SECONDS:
        raise AwsError(
            "ValidationError",
            f"1 validation error detected: Value {value!r} at 'durationSeconds' failed to satisfy constraint: "
            f"Member must have value greater than or equal to {MIN_SESSION_SECONDS}",
        )
    if int(value) > most:
        raise AwsError(
            "ValidationError",
            f"The requested DurationSeconds exceeds the MaxSessionDuration set for this role ({most} seconds).",
        )


def _role(role_arn: str) -> Any:
    """IAM's role of this ARN (moto's ``Role``), or None."""
    iam = iam_backends[ACCOUNT_ID]["aws"]
    return next((role for role in iam.roles.values() if role.arn == role_arn), None)
