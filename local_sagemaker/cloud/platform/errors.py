"""Errors shaped the way AWS sends them, so boto3 raises the ClientError a user would see on AWS."""

from __future__ import annotations

import json
from xml.sax.saxutils import escape


class AwsError(Exception):
    """An error the local cloud answers with: an AWS error code, a message and an HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class ValidationError(AwsError):
    def __init__(self, message: str) -> None:
        super().__init__("ValidationException", message)


class ResourceInUse(AwsError):
    def __init__(self, message: str) -> None:
        super().__init__("ResourceInUse", message)


class Conflict(AwsError):
    """SageMaker's ConflictException: the change conflicts with the entity's state (a group that still holds
    versions, say)."""

    def __init__(self, message: str) -> None:
        super().__init__("ConflictException", message)


def error_response(error: AwsError, json_protocol: bool) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body in the service's protocol: JSON for SageMaker and Logs, XML for query and S3."""
    if json_protocol:
        body = json.dumps({"__type": error.code, "message": error.message}).encode()
        return error.status, [("Content-Type", "application/x-amz-json-1.1")], body
    body = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{escape(error.code)}</Code>"
        f"<Message>{escape(error.message)}</Message></Error></ErrorResponse>"
    ).encode()
    return error.status, [("Content-Type", "text/xml")], body


def internal_failure(request_id: str) -> AwsError:
    """AWS's answer to an error it did not foresee (HTTP 500); the request id finds the traceback in cloud.log."""
    return AwsError(
        "InternalFailure",
        "The request processing has failed because of an unknown error, exception or failure. "
        f"(local cloud: the traceback is in its log, cloud.log, under request {request_id})",
        status=500,
    )
