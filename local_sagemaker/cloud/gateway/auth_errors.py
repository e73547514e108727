"""What AWS answers when a request does not authenticate, in the wire format of the service it was meant for.

Four families: S3 (REST-XML, its own codes and a bare ``<Error>`` document with extra elements), the JSON
services (SageMaker, CloudWatch Logs, KMS: ``__type`` and ``message``), SageMaker Runtime (REST-JSON: the type
in ``x-amzn-ErrorType``) and the query services (STS, IAM, CloudWatch: ``<ErrorResponse>``). The family comes
from the credential scope when there is one, and otherwise from what the request looks like, so that an
unsigned S3 PUT gets S3's ``AccessDenied`` and an unsigned InvokeEndpoint gets JSON.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from local_sagemaker.cloud.platform.errors import AwsError

QUERY_SERVICES = frozenset({"sts", "iam", "monitoring"})
INVALID_TOKEN = "The security token included in the request is invalid."
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method."
)
MALFORMED = "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' (AWS4-HMAC-SHA256)."
# case -> family -> (code, HTTP status, message); "json" also answers for SageMaker Runtime.
CODES: dict[str, dict[str, tuple[str, int, str]]] = {
    "missing": {
        "s3": ("AccessDenied", 403, "Access Denied"),
        "json": ("MissingAuthenticationTokenException", 403, "Missing Authentication Token"),
        "query": ("MissingAuthenticationToken", 403, "Request is missing Authentication Token"),
    },
    "malformed": {
        "s3": ("AuthorizationHeaderMalformed", 400, f"The authorization header is malformed. {MALFORMED}"),
        "json": ("IncompleteSignatureException", 400, MALFORMED),
        "query": ("IncompleteSignature", 400, MALFORMED),
    },
    "unknown": {
        "s3": ("InvalidAccessKeyId", 403, "The AWS Access Key Id you provided does not exist in our records."),
        "json": ("UnrecognizedClientException", 400, INVALID_TOKEN),
        "query": ("InvalidClientTokenId", 403, INVALID_TOKEN),
    },
    "mismatch": {
        "s3": ("SignatureDoesNotMatch", 403, MISMATCH),
        "json": ("InvalidSignatureException", 400, MISMATCH),
        "query": ("SignatureDoesNotMatch", 403, MISMATCH),
    },
    "expired_token": {
        "s3": ("ExpiredToken", 400, "The provided token has expired."),
        "json": ("ExpiredTokenException", 400, "The security token included in the request is expired"),
        "query": ("ExpiredToken", 403, "The security token included in the request is expired"),
    },
    # A request signed outside AWS's 15-minute window (S3 has its own code for it, see request_time).
    "skewed": {
        "json": ("InvalidSignatureException", 400, ""),
        "query": ("SignatureDoesNotMatch", 403, ""),
    },
}


class AuthError(AwsError):
    """An ``AwsError`` with the extra elements S3 puts in its error document (and Runtime in its JSON body)."""

    def __init__(self, code: str, message: str, status: int, fields: dict[str, str] | None = None) -> None:
        super().__init__(code, message, status)
        self.fields = fields or {}


def refusal(family: str, case: str, message: str | None = None, **fields: str) -> AuthError:
    """The error of ``case`` (a key of CODES) in ``family``; ``message`` replaces AWS's usual one."""
    code, status, usual = CODES[case]["json" if family == "runtime" else family]
    return AuthError(code, message or usual, status, fields)


def family_of(environ: dict[str, Any], service: str | None) -> str:
    """Which family answers: "s3", "json", "runtime" or "query"; ``service`` is the credential scope's, if any."""
    path = environ.get("PATH_INFO", "")
    invocation = path.startswith("/endpoints/") and path.endswith("invocations")
    if service == "s3":
        return "s3"
    if service in (None, "sagemaker") and invocation:
        return "runtime"
    if service in QUERY_SERVICES:
        return "query"
    if service is not None or "json" in environ.get("CONTENT_TYPE", "") or "HTTP_X_AMZ_TARGET" in environ:
        return "json"
    if "Action" in parse_qs(environ.get("QUERY_STRING", "")) or "form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        return "query"
    return "s3"  # an unsigned REST request with nothing of the other protocols: what S3 would be sent


def s3_error(error: AwsError) -> tuple[int, list[tuple[str, str]], bytes]:
    """S3's error document: ``<Error>`` with Code, Message, the error's own elements, RequestId and HostId."""
    extra = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in getattr(error, "fields", {}).items())
    request_id = uuid.uuid4().hex[:16].upper()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>{extra}"
        f"<RequestId>{request_id}</RequestId><HostId>{request_id}</HostId></Error>"
    ).encode()
    return error.status, [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)], body
