"""When a signed request is valid: AWS's 15-minute window, and the lifetime a presigned URL states.

A captured request must not replay forever: a request signed in its Authorization header is accepted within
15 minutes either side of the server's clock; a presigned URL from its ``X-Amz-Date`` for ``X-Amz-Expires``
seconds (at most 7 days), a SigV2 one until its ``Expires``. Each refusal is AWS's, for the service's family;
a value that is not a date or a number is refused as AWS refuses it (400/403), never parsed into a crash.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import NoReturn

from local_sagemaker.cloud.gateway.auth_errors import AuthError, refusal

WINDOW_SECONDS = 15 * 60
MAX_PRESIGNED_SECONDS = 7 * 24 * 3600
AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"


def amz_date(value: str) -> datetime | None:
    """An ``X-Amz-Date`` (ISO 8601 basic format, UTC) as a datetime; None unless exactly that format."""
    if not AMZ_DATE.fullmatch(value):
        return None
    try:
        return datetime.strptime(value, AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def check_header_date(family: str, value: str | None) -> None:
    """The X-Amz-Date of a request signed in its Authorization header: well-formed and within the window."""
    signed = amz_date(value or "")
    if signed is None:
        if family == "s3":
            raise AuthError("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header", 403)
        message = f"Date must be in ISO-8601 'basic format'. Got {value!r}. See http://en.wikipedia.org/wiki/ISO_8601"
        raise refusal(family, "malformed", message)
    now = time.time()
    skew = signed.timestamp() - now
    if abs(skew) <= WINDOW_SECONDS:
        return
    if family == "s3":
        raise AuthError(
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
            403,
            {
                "RequestTime": value or "",
                "ServerTime": _iso(now),
                "MaxAllowedSkewMilliseconds": str(WINDOW_SECONDS * 1000),
            },
        )
    if skew < 0:
        bound = f"{_basic(now - WINDOW_SECONDS)} ({_basic(now)} - 15 min.)"
        raise refusal(family, "skewed", f"Signature expired: {value} is now earlier than {bound}")
    bound = f"{_basic(now + WINDOW_SECONDS)} ({_basic(now)} + 15 min.)"
    raise refusal(family, "skewed", f"Signature not yet current: {value} is still later than {bound}")


def check_presigned_v4(query: dict[str, str]) -> int:
    """The parameters of a SigV4 presigned URL, as S3 checks them before the signature; returns its X-Amz-Expires."""
    required = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders")
    if not set(required) | {"X-Amz-Expires"} <= set(query):
        _query_error(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, "
            "X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
        )
    if query["X-Amz-Algorithm"] != "AWS4-HMAC-SHA256":
        _query_error('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"')
    if len(query["X-Amz-Credential"].split("/")) != 5:
        _query_error(
            "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; "
            'expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
        )
    signed = amz_date(query["X-Amz-Date"])
    if signed is None:
        _query_error("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
    expires = query["X-Amz-Expires"]
    if not re.fullmatch(r"-?\d{1,18}", expires):
        _query_error("X-Amz-Expires should be a number")
    seconds = int(expires)
    if seconds < 0:
        _query_error("X-Amz-Expires must be non-negative")
    if seconds > MAX_PRESIGNED_SECONDS:
        _query_error(f"X-Amz-Expires must be less than a week (in seconds) that is; {MAX_PRESIGNED_SECONDS} seconds")
    now = time.time()
    if signed.timestamp() - now > WINDOW_SECONDS:
        raise AuthError("AccessDenied", "Request is not valid yet", 403, {"X-Amz-Date": query["X-Amz-Date"]})
    until = signed.timestamp() + seconds
    if now > until:
        raise AuthError(
            "AccessDenied",
            "Request has expired",
            403,
            {"X-Amz-Expires": expires, "Expires": _iso(until), "ServerTime": _iso(now)},
        )
    return seconds


def check_presigned_v2(expires: str) -> None:
    """The ``Expires`` of a SigV2 presigned URL: seconds since the epoch, not yet past."""
    if not re.fullmatch(r"\d{1,12}", expires):
        raise AuthError("AccessDenied", f"Invalid date (should be seconds since epoch): {expires}", 403)
    now = time.time()
    if now > int(expires):
        fields = {"Expires": _iso(int(expires)), "ServerTime": _iso(now)}
        raise AuthError("AccessDenied", "Request has expired", 403, fields)


def _query_error(message: str) -> NoReturn:
    raise AuthError("AuthorizationQueryParametersError", message, 400)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _basic(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime(AMZ_DATE_FORMAT)
