"""Requests signed as boto3 signs them, at a chosen time or with a chosen payload encoding, for the SigV4 tests."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import http.client
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import pytest
from botocore import auth


@contextmanager
def signed_at(monkeypatch: pytest.MonkeyPatch, seconds_from_now: float) -> Iterator[None]:
    """botocore's SigV4 signers, inside the block, take ``now + seconds_from_now`` as the time of signing."""
    moment = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) + datetime.timedelta(seconds=seconds_from_now)
    with monkeypatch.context() as patch:
        patch.setattr(auth, "get_current_datetime", lambda: moment)
        yield


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """SigV4's derived key (AWS's documented HMAC chain), for chunk signatures botocore does not produce."""
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def signed_chunks(
    key: bytes, timestamp: str, scope: str, seed: str, data: bytes, chunk_size: int, trailer: str = ""
) -> bytes:
    """An ``aws-chunked`` body as the AWS CLI v2 and the Java SDK send it (STREAMING-AWS4-HMAC-SHA256-PAYLOAD).

    Written from AWS's specification (sigv4-streaming), independently of the cloud's verifier; the test
    of the verifier against AWS's own published example anchors both.
    """
    empty = hashlib.sha256(b"").hexdigest()
    previous, out = seed, bytearray()
    pieces = [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)] + [b""]
    for piece in pieces:
        text = (
            f"AWS4-HMAC-SHA256-PAYLOAD\n{timestamp}\n{scope}\n{previous}\n{empty}\n{hashlib.sha256(piece).hexdigest()}"
        )
        previous = hmac.new(key, text.encode(), hashlib.sha256).hexdigest()
        out += f"{len(piece):x};chunk-signature={previous}\r\n".encode() + piece
        out += b"\r\n" if piece or not trailer else b""
    if trailer:
        hashed = hashlib.sha256(trailer.encode()).hexdigest()
        text = f"AWS4-HMAC-SHA256-TRAILER\n{timestamp}\n{scope}\n{previous}\n{hashed}"
        signature = hmac.new(key, text.encode(), hashlib.sha256).hexdigest()
        out += f"{trailer.strip()}\r\nx-amz-trailer-signature:{signature}\r\n\r\n".encode()
    return bytes(out)


def send(
    endpoint: str, method: str, target: str, body: bytes | Any = b"", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """A raw HTTP request to the front exactly as given (``target``: path and query); its status, headers, body."""
    address = urlsplit(endpoint)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    try:
        chunked = "chunked" in (headers or {}).get("Transfer-Encoding", "")
        connection.request(method, target, body=body, headers=headers or {}, encode_chunked=chunked)
        answer = connection.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read()
    finally:
        connection.close()


def s3_error(body: bytes) -> dict[str, str]:
    """The elements of S3's error document, which is a bare ``<Error>`` (not the query protocol's wrapper)."""
    root = ElementTree.fromstring(body)
    assert root.tag == "Error", body
    return {child.tag: child.text or "" for child in root}
