"""A small, seeded fuzzer of what authentication reads: SigV4 headers, presigned URL parameters, aws-chunked bodies.

Each case starts from a request the cloud would accept (signed by botocore with the cloud's key) and garbles one
to three of its authentication parts. Whatever comes out, the answer is a 2xx, 3xx or 4xx in the service's wire
format (XML ``<Error>`` for S3, JSON for SageMaker), never a 500, and cloud.log gets no traceback. A failure
names its seed and case number: ``MAZE_FUZZ_SEED=<seed> pytest ... -k fuzz`` replays it.
"""

from __future__ import annotations

import json
import os
import random
import time
from urllib.parse import parse_qsl, quote, urlencode, urlsplit
from xml.etree import ElementTree

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from local_sagemaker.kernel import launcher
from testing.training_jobs import BUCKET
from tests.local_cloud.signing import send

pytestmark = pytest.mark.usefixtures("no_traceback_in_the_log")
CASES = 300
SEED = int(os.environ.get("MAZE_FUZZ_SEED", "19"))
VALUES = [
    "", " ", "abc", "-1", "0", "604801", "99999999999999999999999", "yesterday", "20261301T250000Z", "19700101T000000Z",
    "\u00e9", "\u00ff\u00fe\u00fd", "AKIA\u00e9", "//////", "a=b", ";", ",", "=", "%", "%ZZ", "AWS4-HMAC-SHA256",
    "Credential=", "SignedHeaders=", "Signature=", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "UNSIGNED-PAYLOAD",
    "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "0" * 64, "x" * 3000, "aws-chunked", "x-amz-checksum-crc32",
]  # fmt: skip
AUTH_HEADERS = [
    "Authorization", "X-Amz-Date", "X-Amz-Content-SHA256", "X-Amz-Security-Token", "Content-Encoding",
    "X-Amz-Decoded-Content-Length", "X-Amz-Trailer", "Host",
]  # fmt: skip


def garble(rng: random.Random, value: str) -> str:
    """One random change: a value from VALUES, a cut, a duplicated or swapped part, or an inserted odd character."""
    how = rng.randrange(5)
    if how == 0 or not value:
        return rng.choice(VALUES)
    cut = rng.randrange(len(value) + 1)
    if how == 1:
        return value[:cut]
    if how == 2:
        return value[:cut] + value[cut:] * 2
    if how == 3:
        parts = value.split(rng.choice([",", "/", " ", "="]))
        rng.shuffle(parts)
        return rng.choice([",", "/", " ", "="]).join(parts)
    return value[:cut] + rng.choice(["\u00e9", "\u00ff", ";", ",", "=", "/", " ", "\t", "%"]) + value[cut:]


def signed_s3(cloud: launcher.CloudInfo, body: bytes, chunked: bool) -> dict[str, str]:
    headers = {"Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": "5"} if chunked else {}
    request = AWSRequest(method="PUT", url=f"{cloud.endpoint}/{BUCKET}/fuzz/object", data=body, headers=headers)
    S3SigV4Auth(Credentials(cloud.access_key_id, cloud.secret_access_key), "s3", "us-east-1").add_auth(request)
    if chunked:
        request.headers.replace_header("X-Amz-Content-SHA256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    return dict(request.headers)


def case(rng: random.Random, cloud: launcher.CloudInfo, urls: dict[str, str]) -> tuple[str, str, str, bytes, dict]:
    """(family, method, target, body, headers) of one garbled request."""
    kind = rng.choice(["s3-header", "s3-chunked", "json", "presigned-v4", "presigned-v2"])
    if kind.startswith("presigned"):
        url = urlsplit(urls[kind])
        query = parse_qsl(url.query, keep_blank_values=True)
        for _ in range(rng.randint(1, 3)):
            index = rng.randrange(len(query))
            name, value = query[index]
            query[index] = (garble(rng, name) if rng.random() < 0.2 else name, garble(rng, value))
        return "s3", "GET", f"{url.path}?{urlencode(query, quote_via=quote)}", b"", {}
    if kind == "json":
        target = {"X-Amz-Target": "SageMaker.ListTrainingJobs", "Content-Type": "application/x-amz-json-1.1"}
        body = b"{}"
        headers = launcher.signed_headers(cloud.key, "POST", f"{cloud.endpoint}/", body, target)
        family, method = "json", "POST"
    else:
        body = b"5;chunk-signature=" + b"0" * 64 + b"\r\nhello\r\n0;chunk-signature=" + b"0" * 64 + b"\r\n\r\n"
        body = body if kind == "s3-chunked" else b"hello"
        headers, family, method = signed_s3(cloud, body, kind == "s3-chunked"), "s3", "PUT"
        if kind == "s3-chunked" and rng.random() < 0.5:
            cut = rng.randrange(len(body))
            body = body[:cut] + rng.choice([b"", b"\r\n", b";", b"zz", b"\xff"]) + body[cut + 1 :]
    for _ in range(rng.randint(1, 3)):
        name = rng.choice(AUTH_HEADERS)
        headers[name] = garble(rng, headers.get(name, ""))
    if headers.get("Host", "x").strip() == "":
        headers["Host"] = urlsplit(cloud.endpoint).netloc
    return family, method, "/" if family == "json" else f"/{BUCKET}/fuzz/object", body, headers


def well_formed(family: str, headers: dict[str, str], status: int, body: bytes) -> bool:
    """A refusal in the family's format: S3's ``<Error>`` document, or a JSON document with its ``__type``.

    A garbled credential scope may name another service (``sé3``): that request is answered as that service's.
    """
    scope = headers.get("Authorization", "").partition("Credential=")[2].split(",")[0].split("/")
    if len(scope) == 5 and scope[3] not in ("s3", "sagemaker"):
        family = "any"
    if status < 400 or not body:
        return True
    try:
        if family != "json" and body.lstrip().startswith(b"<"):
            return ElementTree.fromstring(body).tag == "Error" or family == "any"
        return family != "s3" and "__type" in json.loads(body)
    except (ElementTree.ParseError, ValueError):
        return False


def test_garbled_authentication_never_gets_a_500(cloud, s3) -> None:
    s3.put_object(Bucket=BUCKET, Key="fuzz/object", Body=b"hello")
    signer = cloud.client("s3", config=Config(signature_version="s3v4"))
    params = {"Params": {"Bucket": BUCKET, "Key": "fuzz/object"}, "ExpiresIn": 300}
    urls = {"presigned-v4": signer.generate_presigned_url("get_object", **params)}
    v2 = cloud.client("s3", config=Config(signature_version="s3"))
    urls["presigned-v2"] = v2.generate_presigned_url("get_object", **params)
    rng = random.Random(SEED)
    started, statuses = time.monotonic(), []
    for number in range(CASES):
        family, method, target, body, headers = case(rng, cloud, urls)
        status, _, answer = send(cloud.endpoint, method, target, body, headers)
        where = f"seed {SEED}, case {number}: {method} {target[:200]} {headers}"
        assert status < 500, f"{status} {answer[:300]!r} for {where}"
        assert well_formed(family, headers, status, answer), f"{answer[:300]!r} for {where}"
        statuses.append(status)
    elapsed = time.monotonic() - started
    print(f"{CASES} cases in {elapsed:.1f} s; statuses {sorted(set(statuses))}")
    assert elapsed < 20
    assert len(set(statuses)) > 2, "the cases reach more than one kind of answer"
