"""SigV4 as AWS enforces it (issue 19, item 2): the payload, the 15-minute window, presigned URLs, STS sessions,
malformed input before authentication, and each service's wire format for its refusals."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import zlib
from base64 import b64encode
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import boto3
import pytest
from botocore import UNSIGNED
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from moto.sts.models import sts_backends
from werkzeug.test import EnvironBuilder

from local_sagemaker.cloud.gateway import payloads
from local_sagemaker.cloud.gateway.auth_errors import AuthError
from local_sagemaker.cloud.gateway.signatures import Signatures
from local_sagemaker.common.account import ACCOUNT_ID, ROLE_ARN
from local_sagemaker.kernel import launcher
from testing.training_jobs import BUCKET
from tests.local_cloud.signing import s3_error, send, signed_at, signed_chunks, signing_key

REGION = "us-east-1"
ONE_ATTEMPT = Config(retries={"total_max_attempts": 1})


pytestmark = pytest.mark.usefixtures("no_traceback_in_the_log")


def client(cloud: launcher.CloudInfo, service: str, config: Config | None = None, **options: Any) -> Any:
    """A boto3 client of the cloud's key that tries once (a refusal is the answer under test, not a glitch)."""
    options = {"endpoint_url": cloud.endpoint, **options}
    keys = {"aws_access_key_id": cloud.access_key_id, "aws_secret_access_key": cloud.secret_access_key}
    merged = ONE_ATTEMPT.merge(config) if config else ONE_ATTEMPT
    return boto3.client(service, region_name=REGION, config=merged, **keys, **options)


def refused(call: Any, **request: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as raised:
        call(**request)
    error = raised.value.response
    return error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"], error["Error"].get("Message", "")


class _S3Signer(S3SigV4Auth):
    """botocore's S3 signer declaring ``payload`` as the body's hash (what a client chooses, not the body)."""

    def __init__(self, credentials: Credentials, payload: str | None) -> None:
        super().__init__(credentials, "s3", REGION)
        self.declared = payload

    def payload(self, request: AWSRequest) -> str:
        return self.declared or super().payload(request)


def s3_put_headers(
    cloud: launcher.CloudInfo, key: str, body: bytes, payload: str | None = None, headers: dict[str, str] | None = None
) -> dict[str, str]:
    request = AWSRequest(method="PUT", url=f"{cloud.endpoint}/{BUCKET}/{key}", data=body, headers=headers or {})
    _S3Signer(Credentials(cloud.access_key_id, cloud.secret_access_key), payload).add_auth(request)
    return dict(request.headers)


def stored(s3: Any, key: str) -> bytes | None:
    try:
        return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    except ClientError:
        return None


# --- the payload: S3 ------------------------------------------------------------------------------------------


def signing_key_of_example() -> bytes:
    return signing_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", REGION, "s3")


def aws_example_chain() -> payloads.Chain:
    """AWS's published example of a chunked upload (sigv4-streaming): its key, time, scope and seed signature."""
    key = signing_key_of_example()
    seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    return payloads.Chain(
        "20130524T000000Z",
        "20130524/us-east-1/s3/aws4_request",
        seed,
        lambda text: hmac.new(key, text.encode(), hashlib.sha256).hexdigest(),
    )


def aws_example_body(
    first_signature: str = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
) -> bytes:
    return (
        f"10000;chunk-signature={first_signature}\r\n".encode()
        + b"a" * 65536
        + b"\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n"
        + b"a" * 1024
        + b"\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n"
    )


def test_the_chunk_verifier_accepts_awss_published_example_and_refuses_it_altered() -> None:
    chain = aws_example_chain()
    streaming = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    payloads.check(streaming, aws_example_body(), "66560", chain)
    assert signed_chunks(signing_key_of_example(), chain.timestamp, chain.scope, chain.seed, b"a" * 66560, 65536) == (
        aws_example_body()
    ), "the tests' encoder agrees with AWS's example too"
    altered = aws_example_body().replace(b"a" * 1024 + b"\r\n0;", b"a" * 1023 + b"b\r\n0;")
    with pytest.raises(AuthError) as raised:
        payloads.check(streaming, altered, "66560", chain)
    assert (raised.value.code, raised.value.status) == ("SignatureDoesNotMatch", 403)
    with pytest.raises(AuthError) as raised:
        payloads.check(streaming, aws_example_body(), "66561", chain)
    assert (raised.value.code, raised.value.status) == ("IncompleteBody", 400)


def test_an_s3_put_signed_for_one_body_is_refused_with_another(cloud, s3) -> None:
    headers = s3_put_headers(cloud, "payload/swapped", b"the body that was signed")
    status, answer_headers, body = send(cloud.endpoint, "PUT", f"/{BUCKET}/payload/swapped", b"another body", headers)
    error = s3_error(body)
    assert (status, error["Code"]) == (400, "XAmzContentSHA256Mismatch")
    assert "xml" in answer_headers["Content-Type"]
    assert error["ClientComputedContentSHA256"] == hashlib.sha256(b"the body that was signed").hexdigest()
    assert error["S3ComputedContentSHA256"] == hashlib.sha256(b"another body").hexdigest()
    assert stored(s3, "payload/swapped") is None
    status, _, _ = send(cloud.endpoint, "PUT", f"/{BUCKET}/payload/swapped", b"the body that was signed", headers)
    assert status == 200 and stored(s3, "payload/swapped") == b"the body that was signed"


def test_an_unsigned_payload_is_accepted_and_an_unknown_declaration_is_not(cloud, s3) -> None:
    headers = s3_put_headers(cloud, "payload/unsigned", b"x", payload="UNSIGNED-PAYLOAD")
    status, _, _ = send(cloud.endpoint, "PUT", f"/{BUCKET}/payload/unsigned", b"whatever is sent", headers)
    assert status == 200 and stored(s3, "payload/unsigned") == b"whatever is sent"
    headers = s3_put_headers(cloud, "payload/odd", b"x", payload="SHA256-OF-SOMETHING")
    status, _, body = send(cloud.endpoint, "PUT", f"/{BUCKET}/payload/odd", b"x", headers)
    assert (status, s3_error(body)["Code"]) == (400, "InvalidArgument")


def chunked_put(cloud: launcher.CloudInfo, key: str, data: bytes, trailer: str = "") -> tuple[dict[str, str], bytes]:
    """Headers and body of a STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] upload, as the AWS CLI v2 sends one."""
    declared = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" + ("-TRAILER" if trailer else "")
    extra = {"Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": str(len(data))}
    if trailer:
        extra["X-Amz-Trailer"] = trailer.split(":")[0]
    headers = s3_put_headers(cloud, key, b"", payload=declared, headers=extra)
    timestamp = headers["X-Amz-Date"]
    seed = headers["Authorization"].rsplit("Signature=", 1)[1]
    key_bytes = signing_key(cloud.secret_access_key, timestamp[:8], REGION, "s3")
    body = signed_chunks(key_bytes, timestamp, f"{timestamp[:8]}/{REGION}/s3/aws4_request", seed, data, 4096, trailer)
    return headers, body


def test_signed_chunks_as_the_aws_cli_sends_them_are_verified_chunk_by_chunk(cloud, s3) -> None:
    data = bytes(range(256)) * 40  # three chunks of 4 KiB, the last one short
    headers, body = chunked_put(cloud, "payload/chunked", data)
    assert send(cloud.endpoint, "PUT", f"/{BUCKET}/payload/chunked", body, headers)[0] == 200
    assert stored(s3, "payload/chunked") == data

    headers, body = chunked_put(cloud, "payload/chunked-altered", data)
    altered = body.replace(data[5000:5010], b"X" * 10, 1)
    status, _, answer = send(cloud.endpoint, "PUT", f"/{BUCKET}/payload/chunked-altered", altered, headers)
    assert (status, s3_error(answer)["Code"]) == (403, "SignatureDoesNotMatch")
    assert stored(s3, "payload/chunked-altered") is None

    checksum = b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    headers, body = chunked_put(cloud, "payload/chunked-trailer", data, trailer=f"x-amz-checksum-crc32:{checksum}\n")
    assert send(cloud.endpoint, "PUT", f"/{BUCKET}/payload/chunked-trailer", body, headers)[0] == 200
    assert stored(s3, "payload/chunked-trailer") == data


class _Raw:
    def __init__(self, content: bytes) -> None:
        self.content = content

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.content


def https_s3(cloud: launcher.CloudInfo, alter: Any = None) -> tuple[Any, list[dict[str, str]]]:
    """An S3 client addressed over HTTPS, as on AWS, whose requests are carried to the cloud's plain-HTTP port.

    boto3 chooses its upload encoding by scheme: over HTTPS it streams PutObject as STREAMING-UNSIGNED-PAYLOAD-
    TRAILER with a CRC32 trailer. ``alter`` may change the body on the way, as a faulty network would.
    """
    https = client(cloud, "s3", endpoint_url=cloud.endpoint.replace("http://", "https://"))
    sent: list[dict[str, str]] = []

    def forward(request: Any, **_: Any) -> AWSResponse:
        body = request.body.read() if hasattr(request.body, "read") else request.body or b""
        body = alter(body) if alter else body
        headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        sent.append(headers)
        url = urlsplit(request.url)
        target = url.path + (f"?{url.query}" if url.query else "")
        chunked = "chunked" in headers.get("Transfer-Encoding", "")
        status, answer_headers, content = send(
            cloud.endpoint, request.method, target, [body] if chunked else body, headers
        )
        return AWSResponse(request.url, status, answer_headers, _Raw(content))

    https.meta.events.register("before-send.s3", forward)
    return https, sent


def test_boto3_streams_with_a_checksum_trailer_over_https_and_the_trailer_is_checked(cloud, s3) -> None:
    https, sent = https_s3(cloud)
    https.put_object(Bucket=BUCKET, Key="payload/trailer", Body=b"streamed with a trailer")
    assert sent[-1]["X-Amz-Content-SHA256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    assert sent[-1]["X-Amz-Trailer"] == "x-amz-checksum-crc32"
    assert stored(s3, "payload/trailer") == b"streamed with a trailer"

    corrupt, _ = https_s3(cloud, alter=lambda body: body.replace(b"streamed", b"streamex"))
    code, status, message = refused(corrupt.put_object, Bucket=BUCKET, Key="payload/trailer-bad", Body=b"streamed!")
    assert (code, status) == ("BadDigest", 400) and "CRC32" in message
    assert stored(s3, "payload/trailer-bad") is None


def test_boto3_signs_the_payload_hash_over_plain_http_as_to_the_local_cloud(cloud, s3) -> None:
    plain = client(cloud, "s3")
    sent: list[dict[str, Any]] = []
    plain.meta.events.register("before-send.s3", lambda request, **_: sent.append(dict(request.headers)))
    plain.put_object(Bucket=BUCKET, Key="payload/plain", Body=b"plain http")
    declared = sent[-1]["X-Amz-Content-SHA256"]
    assert (declared.decode() if isinstance(declared, bytes) else declared) == hashlib.sha256(b"plain http").hexdigest()
    assert "Content-Encoding" not in sent[-1]


# --- the payload: JSON services (the body is in the canonical request) -----------------------------------------


def test_a_sagemaker_request_signed_for_one_body_is_refused_with_another(cloud) -> None:
    target = {"X-Amz-Target": "SageMaker.ListTrainingJobs", "Content-Type": "application/x-amz-json-1.1"}
    signed = launcher.signed_headers(cloud.key, "POST", f"{cloud.endpoint}/", b'{"MaxResults": 1}', target)
    status, _, body = send(cloud.endpoint, "POST", "/", b'{"MaxResults": 2}', signed)
    assert (status, json.loads(body)["__type"]) == (400, "InvalidSignatureException")
    # A declared payload hash does not stand in for the body outside S3.
    declared = {**target, "X-Amz-Content-SHA256": hashlib.sha256(b'{"MaxResults": 1}').hexdigest()}
    signed = launcher.signed_headers(cloud.key, "POST", f"{cloud.endpoint}/", b'{"MaxResults": 1}', declared)
    status, _, body = send(cloud.endpoint, "POST", "/", b'{"MaxResults": 2}', signed)
    assert (status, json.loads(body)["__type"]) == (400, "InvalidSignatureException")
    assert send(cloud.endpoint, "POST", "/", b'{"MaxResults": 1}', signed)[0] == 200


# --- the 15-minute window ---------------------------------------------------------------------------------------

MINUTE, DAY = 60, 24 * 3600
WINDOW_REFUSALS = {
    "s3": ("list_buckets", ("RequestTimeTooSkewed", 403)),
    "sagemaker": ("list_training_jobs", ("InvalidSignatureException", 400)),
    "sts": ("get_caller_identity", ("SignatureDoesNotMatch", 403)),
}


@pytest.mark.parametrize(
    "offset", [-16 * MINUTE, -60 * MINUTE, -20 * DAY, 60 * MINUTE], ids=["-16m", "-1h", "-20d", "+1h"]
)
@pytest.mark.parametrize("service", sorted(WINDOW_REFUSALS))
def test_a_request_signed_outside_the_15_minute_window_is_refused(cloud, monkeypatch, service, offset) -> None:
    call, expected = WINDOW_REFUSALS[service]
    caller = client(cloud, service)
    with signed_at(monkeypatch, offset):
        code, status, message = refused(getattr(caller, call))
    assert (code, status) == expected
    if service != "s3":
        assert message.startswith("Signature expired" if offset < 0 else "Signature not yet current")
    with signed_at(monkeypatch, -14 * MINUTE):
        getattr(caller, call)()  # inside the window: answered


def test_s3s_skew_error_says_by_how_much(cloud, monkeypatch) -> None:
    headers = {}
    with signed_at(monkeypatch, -DAY):
        request = AWSRequest(method="GET", url=f"{cloud.endpoint}/{BUCKET}", headers=headers)
        S3SigV4Auth(Credentials(cloud.access_key_id, cloud.secret_access_key), "s3", REGION).add_auth(request)
    status, _, body = send(cloud.endpoint, "GET", f"/{BUCKET}", b"", dict(request.headers))
    error = s3_error(body)
    assert (status, error["Code"], error["MaxAllowedSkewMilliseconds"]) == (403, "RequestTimeTooSkewed", "900000")
    assert error["RequestTime"] == request.headers["X-Amz-Date"]


# --- presigned URLs ----------------------------------------------------------------------------------------------


def presigned(cloud: launcher.CloudInfo, key: str, seconds: int, version: str = "s3v4") -> str:
    signer = client(cloud, "s3", config=Config(signature_version=version))
    return signer.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=seconds)


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    return send(f"{parts.scheme}://{parts.netloc}", "GET", f"{parts.path}?{parts.query}")


def test_a_presigned_url_lives_as_long_as_it_says_and_at_most_7_days(cloud, s3, monkeypatch) -> None:
    s3.put_object(Bucket=BUCKET, Key="presigned/doc", Body=b"shared")
    assert get(presigned(cloud, "presigned/doc", 7 * DAY))[0] == 200
    status, _, body = get(presigned(cloud, "presigned/doc", 7 * DAY + 1))
    assert (status, s3_error(body)["Code"]) == (400, "AuthorizationQueryParametersError")
    with signed_at(monkeypatch, -120):
        expired = presigned(cloud, "presigned/doc", 60)
        alive = presigned(cloud, "presigned/doc", 3600)
    status, _, body = get(expired)
    error = s3_error(body)
    assert (status, error["Code"], error["Message"], error["X-Amz-Expires"]) == (
        403,
        "AccessDenied",
        "Request has expired",
        "60",
    )
    assert get(alive)[0] == 200
    with signed_at(monkeypatch, DAY):
        early = presigned(cloud, "presigned/doc", 60)
    assert get(early)[0] == 403


# --- STS sessions and roles ---------------------------------------------------------------------------------------


def test_assume_role_needs_a_role_that_exists(cloud) -> None:
    sts, iam = client(cloud, "sts"), client(cloud, "iam")
    missing = f"arn:aws:iam::{ACCOUNT_ID}:role/NoSuchRole"
    code, status, message = refused(sts.assume_role, RoleArn=missing, RoleSessionName="tests")
    assert (code, status) == ("AccessDenied", 403) and missing in message
    assert sts.assume_role(RoleArn=ROLE_ARN, RoleSessionName="tests")["Credentials"]["AccessKeyId"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    role = iam.create_role(RoleName="created-through-iam", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    try:
        credentials = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="tests")["Credentials"]
        session = boto3.client(
            "s3", region_name=REGION, endpoint_url=cloud.endpoint, aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"], aws_session_token=credentials["SessionToken"],
        )  # fmt: skip
        session.list_buckets()
        code, status, _ = refused(sts.assume_role, RoleArn=role["Arn"], RoleSessionName="tests", DurationSeconds=7200)
        assert (code, status) == ("ValidationError", 400)  # past the role's MaxSessionDuration (1 hour)
    finally:
        iam.delete_role(RoleName="created-through-iam")


EXPIRED = {"s3": ("ExpiredToken", 400), "sagemaker": ("ExpiredTokenException", 400), "sts": ("ExpiredToken", 403)}


@pytest.mark.parametrize("service", sorted(EXPIRED))
def test_session_credentials_stop_at_their_expiration(service) -> None:
    """In-process: the front's own check, on a request boto3 signs, with a session of moto's STS that has ended.

    (A session lasts at least 15 minutes on AWS and here: the cloud process cannot be made to wait in a test.)
    """
    role = sts_backends[ACCOUNT_ID]["aws"].assume_role(REGION, "expiring", ROLE_ARN, "", 900, "")
    key = {"AccessKeyId": "AKIAOTHERKEY00000000", "SecretAccessKey": "unused"}
    request = AWSRequest(method="GET", url="http://127.0.0.1:1/")
    credentials = Credentials(role.access_key_id, role.secret_access_key, role.session_token)
    (S3SigV4Auth if service == "s3" else SigV4Auth)(credentials, service, REGION).add_auth(request)
    environ = EnvironBuilder(
        method="GET",
        path="/",
        base_url="http://127.0.0.1:1",
        headers=dict(request.headers),
    ).get_environ()
    Signatures(key).check(environ, lambda: b"")  # a live session signs
    role.expiration = role.expiration.replace(year=2000)
    with pytest.raises(AuthError) as raised:
        Signatures(key).check(environ, lambda: b"")
    assert (raised.value.code, raised.value.status) == EXPIRED[service]


# --- malformed input before authentication ------------------------------------------------------------------------

NON_ASCII_KEY = (
    "AWS4-HMAC-SHA256 Credential=AKIA\u00e9\u00e9/20260101/us-east-1/{service}/aws4_request, "
    "SignedHeaders=host, Signature=00"
)


def malformed_cases(cloud: launcher.CloudInfo) -> list[tuple[str, str, dict[str, str], str, int]]:
    """(name, target, headers, expected family, expected status) of requests a careless or hostile caller sends."""
    url = presigned(cloud, "presigned/doc", 60)
    query = urlsplit(url).query
    v2 = urlsplit(presigned(cloud, "presigned/doc", 60, "s3")).query
    key_target = f"/{BUCKET}/presigned/doc"
    json_headers = {"X-Amz-Target": "SageMaker.ListTrainingJobs", "Content-Type": "application/x-amz-json-1.1"}
    return [
        ("non-ASCII key, S3", f"/{BUCKET}", {"Authorization": NON_ASCII_KEY.format(service="s3")}, "s3", 403),
        (
            "non-ASCII key, SageMaker",
            "/",
            {**json_headers, "Authorization": NON_ASCII_KEY.format(service="sagemaker")},
            "json",
            400,
        ),
        (
            "presigned non-ASCII key",
            f"{key_target}?{query.replace('X-Amz-Credential=', 'X-Amz-Credential=%C3%A9')}",
            {},
            "s3",
            403,
        ),
        (
            "X-Amz-Expires=abc",
            f"{key_target}?{re.sub('X-Amz-Expires=[0-9]+', 'X-Amz-Expires=abc', query)}",
            {},
            "s3",
            400,
        ),
        (
            "X-Amz-Date=yesterday",
            f"{key_target}?{re.sub('X-Amz-Date=[0-9TZ]+', 'X-Amz-Date=yesterday', query)}",
            {},
            "s3",
            400,
        ),
        ("SigV2 Expires=abc", f"{key_target}?{re.sub('Expires=[0-9]+', 'Expires=abc', v2)}", {}, "s3", 403),
        ("bad Authorization shape", f"/{BUCKET}", {"Authorization": "AWS4-HMAC-SHA256 Credential=a/b"}, "s3", 400),
        ("SigV2 header", f"/{BUCKET}", {"Authorization": "AWS AKIAEXAMPLE:c2lnbmF0dXJl"}, "s3", 400),
        (
            "X-Amz-Date garbage",
            "/",
            {
                **json_headers,
                "X-Amz-Date": "\u00ff\u00fe",
                "Authorization": launcher.signed_headers(cloud.key, "POST", f"{cloud.endpoint}/", b"", json_headers)[
                    "Authorization"
                ],
            },
            "json",
            400,
        ),  # noqa: E501
    ]


def test_malformed_input_before_authentication_gets_a_400_or_403_in_the_services_format(cloud) -> None:
    for name, target, headers, family, expected in malformed_cases(cloud):
        method = "POST" if family == "json" else "GET"
        status, answer_headers, body = send(cloud.endpoint, method, target, b"", headers)
        assert status == expected, (name, status, body)
        if family == "s3":
            assert s3_error(body)["Code"], name
        else:
            assert json.loads(body)["__type"], name


# --- the wire format of a refusal -------------------------------------------------------------------------------


def test_an_unsigned_s3_put_gets_s3s_access_denied(cloud, s3) -> None:
    status, headers, body = send(cloud.endpoint, "PUT", f"/{BUCKET}/unsigned/put", b"data")
    assert (status, s3_error(body)["Code"]) == (403, "AccessDenied") and "xml" in headers["Content-Type"]
    anonymous = client(cloud, "s3", config=Config(signature_version=UNSIGNED))
    assert refused(anonymous.put_object, Bucket=BUCKET, Key="unsigned/put", Body=b"x")[:2] == ("AccessDenied", 403)
    assert stored(s3, "unsigned/put") is None


def test_an_unsigned_invoke_endpoint_gets_json(cloud) -> None:
    status, headers, body = send(
        cloud.endpoint, "POST", f"/endpoints/{quote('any')}/invocations", b"1,2", {"Content-Type": "text/csv"}
    )
    assert status == 403 and headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert json.loads(body)["message"] == "Missing Authentication Token"
    anonymous = client(cloud, "sagemaker-runtime", config=Config(signature_version=UNSIGNED))
    code, status, _ = refused(anonymous.invoke_endpoint, EndpointName="any", Body=b"1,2", ContentType="text/csv")
    assert (code, status) == ("MissingAuthenticationTokenException", 403)
