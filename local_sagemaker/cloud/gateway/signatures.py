"""SigV4 as AWS checks it: nothing reaches a handler or moto unless signed with a key the cloud issued.

The front recomputes each request's signature with botocore's own signer (``SigV4Auth``, ``S3SigV4Auth``)
and the secret of the key the request names, and compares in constant time. Keys: the one the cloud
issues at each start (its connection file, 0600, hands it to ``connect()``, the CLI and the cloud's own
clients) and the session credentials STS ``AssumeRole`` issued (moto's STS keeps them), until their
``Expiration``. Beyond the signature: the request's time (``request_time``) and, for S3, whose signature
covers a declared hash rather than the body, the body itself (``payloads``). Whatever a caller sends, the
answer is AWS's refusal for the service's family (``auth_errors``), never a crash.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from botocore.auth import HmacV1QueryAuth, S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials
from moto.sts.models import sts_backends

from local_sagemaker.cloud.gateway import payloads, request_time
from local_sagemaker.cloud.gateway.auth_errors import family_of, refusal
from local_sagemaker.common.account import ACCOUNT_ID, DEFAULT_REGION

ALGORITHM = "AWS4-HMAC-SHA256"
ROOT = f"arn:aws:iam::{ACCOUNT_ID}:root"
PRESIGNED = {"X-Amz-Signature", "X-Amz-Credential", "AWSAccessKeyId"}  # query parameters of a presigned URL


@dataclass(frozen=True)
class Caller:
    """Who signed: the credentials and the ARN AWS would name in an authorization error."""

    credentials: Credentials
    arn: str


def issue_key() -> dict[str, str]:
    """A fresh access key for one start of the cloud, shaped as IAM's (AKIA + 16, a 40-character secret)."""
    alphabet = string.ascii_uppercase + "234567"
    return {
        "AccessKeyId": "AKIA" + "".join(secrets.choice(alphabet) for _ in range(16)),
        "SecretAccessKey": secrets.token_urlsafe(30),
    }


def credential_scope(environ: dict[str, Any]) -> tuple[str, str] | None:
    """Region and service a request was signed for: ``Credential=AKID/date/<region>/<service>/aws4_request``.

    A presigned URL carries it in its query (``X-Amz-Credential``); one presigned with SigV2 is S3's.
    """
    auth = environ.get("HTTP_AUTHORIZATION", "")
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if not auth and "X-Amz-Credential" in query:
        auth = f"Credential={query['X-Amz-Credential'][0]}"
    elif not auth and "AWSAccessKeyId" in query:
        return DEFAULT_REGION, "s3"
    parts = auth.split("Credential=", 1)[-1].split(",")[0].split("/")
    if "Credential=" not in auth or len(parts) != 5:
        return None
    return parts[2], parts[3]


def family(environ: dict[str, Any]) -> str:
    """The error family answering ``environ`` (see ``auth_errors.family_of``); a presigned URL is S3's."""
    if not environ.get("HTTP_AUTHORIZATION") and PRESIGNED & parse_qs(environ.get("QUERY_STRING", "")).keys():
        return "s3"
    scope = credential_scope(environ)
    return family_of(environ, scope[1] if scope else None)


class Signatures:
    """Checks a WSGI request's signature; raises the ``AwsError`` AWS would answer when it does not hold."""

    def __init__(self, key: dict[str, str]) -> None:
        self.key = key

    def check(self, environ: dict[str, Any], read_body: Callable[[], bytes]) -> Caller:
        """Who signed the request; raises unless it is signed, in time, and (S3) its body is the one signed."""
        answering = family(environ)
        header = environ.get("HTTP_AUTHORIZATION", "")
        query = {name: values[0] for name, values in parse_qs(environ.get("QUERY_STRING", "")).items()}
        if not header and "X-Amz-Signature" in query:
            return self._check_presigned_v4(environ, query)
        if not header and {"AWSAccessKeyId", "Signature", "Expires"} <= set(query):
            return self._check_presigned_v2(environ, query)
        if not header:
            raise refusal(answering, "missing")
        fields = _fields(header)
        if fields is None:
            raise refusal(answering, "malformed")
        key_id, _, region, service, _ = fields["Credential"]
        caller = self._caller(answering, key_id, environ.get("HTTP_X_AMZ_SECURITY_TOKEN"))
        request_time.check_header_date(answering, environ.get("HTTP_X_AMZ_DATE"))
        headers = {name: _header(environ, name) for name in fields["SignedHeaders"]}
        declared = environ.get("HTTP_X_AMZ_CONTENT_SHA256")
        body = b"" if service == "s3" and declared is not None else read_body()
        if service != "s3" and declared is not None and declared != hashlib.sha256(body).hexdigest():
            raise refusal(answering, "mismatch")  # what AWS signs for these services is the body itself
        signer = (S3SigV4Auth if service == "s3" else SigV4Auth)(caller.credentials, service, region)
        request = AWSRequest(method=environ["REQUEST_METHOD"], url=_url(environ), data=body, headers=headers)
        request.context["timestamp"] = environ["HTTP_X_AMZ_DATE"]
        seed = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
        if not _same(seed, fields["Signature"][0]):
            raise refusal(answering, "mismatch")
        if service == "s3":
            chain = payloads.Chain(
                environ["HTTP_X_AMZ_DATE"], signer.credential_scope(request), seed,
                lambda text: signer.signature(text, request),
            )  # fmt: skip
            payloads.check(declared, read_body(), environ.get("HTTP_X_AMZ_DECODED_CONTENT_LENGTH"), chain)
        return caller

    def _check_presigned_v4(self, environ: dict[str, Any], query: dict[str, str]) -> Caller:
        """A URL S3 presigned with SigV4 (``X-Amz-Signature``): the signature covers the query, not the payload."""
        expires = request_time.check_presigned_v4(query)  # first: the parameters' shape, then the key
        credential = query["X-Amz-Credential"].split("/")
        caller = self._caller("s3", credential[0], query.get("X-Amz-Security-Token"))
        path, _, query_string = _raw_uri(environ).partition("?")
        unsigned = "&".join(part for part in query_string.split("&") if not part.startswith("X-Amz-Signature="))
        signer = S3SigV4QueryAuth(caller.credentials, credential[3], credential[2], expires=expires)
        request = AWSRequest(
            method=environ["REQUEST_METHOD"],
            url=f"http://{environ.get('HTTP_HOST', '')}{path}?{unsigned}",
            headers={name: _header(environ, name) for name in query["X-Amz-SignedHeaders"].split(";")},
        )
        request.context["timestamp"] = query["X-Amz-Date"]
        expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
        if not _same(expected, query["X-Amz-Signature"]):
            raise refusal("s3", "mismatch")
        return caller

    def _check_presigned_v2(self, environ: dict[str, Any], query: dict[str, str]) -> Caller:
        """A URL S3 presigned with SigV2 (what boto3 makes by default for us-east-1): HMAC-SHA1 over the request."""
        caller = self._caller("s3", query["AWSAccessKeyId"], query.get("x-amz-security-token"))
        request_time.check_presigned_v2(query["Expires"])
        headers = HTTPHeaders()
        for name in ("Content-MD5", "Content-Type"):
            if _header(environ, name):
                headers[name] = _header(environ, name)
        expected = _SignedUntil(caller.credentials, query["Expires"]).get_signature(
            environ["REQUEST_METHOD"], urlsplit(_raw_uri(environ)), headers
        )
        if not _same(expected, query["Signature"]):
            raise refusal("s3", "mismatch")
        return caller

    def _caller(self, answering: str, key_id: str, token: str | None) -> Caller:
        """The caller whose key ``key_id`` is; AWS's refusal for a key it never issued or whose session ended."""
        if _same(key_id, self.key["AccessKeyId"]) and token is None:
            return Caller(Credentials(key_id, self.key["SecretAccessKey"]), ROOT)
        for role in sts_backends[ACCOUNT_ID]["aws"].assumed_roles:
            if _same(role.access_key_id, key_id) and token is not None and _same(role.session_token, token):
                if role.expiration.replace(tzinfo=UTC) <= datetime.now(UTC):
                    raise refusal(answering, "expired_token")
                return Caller(Credentials(key_id, role.secret_access_key, token), role.arn)
        raise refusal(answering, "unknown")


class _SignedUntil(HmacV1QueryAuth):
    """botocore's SigV2 query signer, with the ``Expires`` the URL carries rather than one computed from now."""

    def __init__(self, credentials: Credentials, expires: str) -> None:
        super().__init__(credentials)
        self._until = expires

    def _get_date(self) -> str:
        return self._until


def _same(expected: str, given: str) -> bool:
    """Constant-time comparison of any two strings a caller may send (``hmac`` refuses non-ASCII ``str``)."""
    return hmac.compare_digest(expected.encode("utf-8", "surrogateescape"), given.encode("utf-8", "surrogateescape"))


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


def _raw_uri(environ: dict[str, Any]) -> str:
    return environ.get("RAW_URI") or environ.get("PATH_INFO", "")


def _url(environ: dict[str, Any]) -> str:
    return f"http://{environ.get('HTTP_HOST', '')}{_raw_uri(environ)}"


def _header(environ: dict[str, Any], name: str) -> str:
    key = name.upper().replace("-", "_")
    return str(environ.get(key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}", ""))
