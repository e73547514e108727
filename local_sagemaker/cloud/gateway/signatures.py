"""SigV4 as AWS checks it: nothing reaches a handler or moto unless signed with a key the cloud issued.

The front recomputes each request's signature with botocore's own signer (``SigV4Auth``, ``S3SigV4Auth``)
and the secret of the key the request names, and compares in constant time. Keys: the one the cloud
issues at each start (its connection file, 0600, hands it to ``connect()``, the CLI and the cloud's own
clients) and the session credentials STS ``AssumeRole`` issued (moto's STS keeps them).
"""

from __future__ import annotations

import hmac
import secrets
import string
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from botocore.auth import HmacV1QueryAuth, S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials
from moto.sts.models import sts_backends

from local_sagemaker.cloud.platform.errors import AwsError
from local_sagemaker.common.account import ACCOUNT_ID

ALGORITHM = "AWS4-HMAC-SHA256"
# What each protocol family answers (AWS's common errors; S3's own codes; JSON services' exception names).
CODES = {
    "s3": {
        "missing": ("AccessDenied", 403),
        "malformed": ("AuthorizationHeaderMalformed", 400),
        "unknown": ("InvalidAccessKeyId", 403),
        "mismatch": ("SignatureDoesNotMatch", 403),
    },
    "json": {
        "missing": ("MissingAuthenticationTokenException", 403),
        "malformed": ("IncompleteSignatureException", 400),
        "unknown": ("UnrecognizedClientException", 400),
        "mismatch": ("InvalidSignatureException", 400),
    },
    "query": {
        "missing": ("MissingAuthenticationToken", 403),
        "malformed": ("IncompleteSignature", 400),
        "unknown": ("InvalidClientTokenId", 403),
        "mismatch": ("SignatureDoesNotMatch", 403),
    },
}
MESSAGES = {
    "missing": "Request is missing Authentication Token",
    "malformed": "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' (AWS4-HMAC-SHA256).",
    "unknown": "The security token included in the request is invalid.",
    "mismatch": "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method.",
}


def issue_key() -> dict[str, str]:
    """A fresh access key for one start of the cloud, shaped as IAM's (AKIA + 16, a 40-character secret)."""
    alphabet = string.ascii_uppercase + "234567"
    return {
        "AccessKeyId": "AKIA" + "".join(secrets.choice(alphabet) for _ in range(16)),
        "SecretAccessKey": secrets.token_urlsafe(30),
    }


class Signatures:
    """Checks a WSGI request's signature; raises the ``AwsError`` AWS would answer when it does not hold."""

    def __init__(self, key: dict[str, str]) -> None:
        self.key = key

    def check(self, environ: dict[str, Any], read_body: Callable[[], bytes]) -> None:
        """Raise unless signed; ``read_body`` is called only when the signature covers the body itself."""
        family = family_of(environ)
        header = environ.get("HTTP_AUTHORIZATION", "")
        query = {name: values[0] for name, values in parse_qs(environ.get("QUERY_STRING", "")).items()}
        if not header and "X-Amz-Signature" in query:
            return self._check_presigned_v4(environ, query)
        if not header and {"AWSAccessKeyId", "Signature", "Expires"} <= set(query):
            return self._check_presigned_v2(environ, query)
        if not header:
            raise _error(family, "missing")
        fields = _fields(header)
        if fields is None:
            raise _error(family, "malformed")
        key_id, _, region, service, _ = fields["Credential"]
        credentials = self._credentials(key_id, environ.get("HTTP_X_AMZ_SECURITY_TOKEN"))
        if credentials is None:
            raise _error(family, "unknown")
        if "HTTP_X_AMZ_DATE" not in environ:
            raise _error(family, "malformed")
        signer = (S3SigV4Auth if service == "s3" else SigV4Auth)(credentials, service, region)
        headers = {name: _header(environ, name) for name in fields["SignedHeaders"]}
        # S3 signs the payload's hash as a header (or UNSIGNED-PAYLOAD, or a streaming marker): no body to read.
        request = AWSRequest(
            method=environ["REQUEST_METHOD"],
            url=f"http://{environ.get('HTTP_HOST', '')}{environ.get('RAW_URI') or environ.get('PATH_INFO', '')}",
            data=b"" if "x-amz-content-sha256" in headers else read_body(),
            headers=headers,
        )
        request.context["timestamp"] = environ["HTTP_X_AMZ_DATE"]
        expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
        if not hmac.compare_digest(expected, fields["Signature"][0]):
            raise _error(family, "mismatch")

    def _check_presigned_v4(self, environ: dict[str, Any], query: dict[str, str]) -> None:
        """A URL S3 presigned with SigV4 (``X-Amz-Signature``): the signature covers the query, not the payload."""
        credential = query.get("X-Amz-Credential", "").split("/")
        if len(credential) != 5 or not {"X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders"} <= set(query):
            raise _error("s3", "malformed")
        credentials = self._credentials(credential[0], query.get("X-Amz-Security-Token"))
        if credentials is None:
            raise _error("s3", "unknown")
        signed_at = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        _refuse_expired(signed_at.timestamp() + int(query["X-Amz-Expires"]))
        raw = environ.get("RAW_URI") or environ.get("PATH_INFO", "")
        path, _, query_string = raw.partition("?")
        unsigned = "&".join(part for part in query_string.split("&") if not part.startswith("X-Amz-Signature="))
        signer = S3SigV4QueryAuth(credentials, credential[3], credential[2], expires=int(query["X-Amz-Expires"]))
        request = AWSRequest(
            method=environ["REQUEST_METHOD"],
            url=f"http://{environ.get('HTTP_HOST', '')}{path}?{unsigned}",
            headers={name: _header(environ, name) for name in query["X-Amz-SignedHeaders"].split(";")},
        )
        request.context["timestamp"] = query["X-Amz-Date"]
        expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
        if not hmac.compare_digest(expected, query["X-Amz-Signature"]):
            raise _error("s3", "mismatch")

    def _check_presigned_v2(self, environ: dict[str, Any], query: dict[str, str]) -> None:
        """A URL S3 presigned with SigV2 (what boto3 makes by default for us-east-1): HMAC-SHA1 over the request."""
        credentials = self._credentials(query["AWSAccessKeyId"], query.get("x-amz-security-token"))
        if credentials is None:
            raise _error("s3", "unknown")
        _refuse_expired(float(query["Expires"]))
        headers = HTTPHeaders()
        for name in ("Content-MD5", "Content-Type"):
            if _header(environ, name):
                headers[name] = _header(environ, name)
        raw = environ.get("RAW_URI") or environ.get("PATH_INFO", "")
        expected = _SignedUntil(credentials, query["Expires"]).get_signature(
            environ["REQUEST_METHOD"], urlsplit(raw), headers
        )
        if not hmac.compare_digest(expected, query["Signature"]):
            raise _error("s3", "mismatch")

    def _credentials(self, key_id: str, token: str | None) -> Credentials | None:
        if hmac.compare_digest(key_id, self.key["AccessKeyId"]) and token is None:
            return Credentials(key_id, self.key["SecretAccessKey"])
        for role in sts_backends[ACCOUNT_ID]["aws"].assumed_roles:
            if role.access_key_id == key_id and token is not None and hmac.compare_digest(token, role.session_token):
                return Credentials(key_id, role.secret_access_key, token)
        return None


class _SignedUntil(HmacV1QueryAuth):
    """botocore's SigV2 query signer, with the ``Expires`` the URL carries rather than one computed from now."""

    def __init__(self, credentials: Credentials, expires: str) -> None:
        super().__init__(credentials)
        self._until = expires

    def _get_date(self) -> str:
        return self._until


def _refuse_expired(until: float) -> None:
    if time.time() > until:
        raise AwsError("AccessDenied", "Request has expired", 403)


def _fields(header: str) -> dict[str, list[str]] | None:
    """Credential (5 parts), SignedHeaders and Signature of an ``AWS4-HMAC-SHA256`` header; None if malformed."""
    algorithm, _, rest = header.partition(" ")
    if algorithm != ALGORITHM:
        return None
    fields: dict[str, list[str]] = {}
    for part in rest.split(","):
        name, equals, value = part.strip().partition("=")
        if not equals:
            return None
        fields[name] = value.split("/") if name == "Credential" else value.split(";")
    if set(fields) != {"Credential", "SignedHeaders", "Signature"} or len(fields["Credential"]) != 5:
        return None
    if "host" not in fields["SignedHeaders"] or len(fields["Signature"]) != 1:
        return None
    return fields


def _header(environ: dict[str, Any], name: str) -> str:
    key = name.upper().replace("-", "_")
    return str(environ.get(key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}", ""))


def family_of(environ: dict[str, Any]) -> str:
    """Which error family answers: S3's, a JSON service's, or the query protocol's (STS, IAM, CloudWatch)."""
    header = environ.get("HTTP_AUTHORIZATION", "")
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if "/s3/" in header or "X-Amz-Credential" in query or "AWSAccessKeyId" in query:
        return "s3"
    if "json" in environ.get("CONTENT_TYPE", "") or "/sagemaker/" in header:
        return "json"
    return "query"


def _error(family: str, case: str) -> AwsError:
    code, status = CODES[family][case]
    return AwsError(code, MESSAGES[case], status)
