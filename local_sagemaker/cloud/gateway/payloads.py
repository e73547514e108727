"""S3's payload checks: the body is the one the client signed (``x-amz-content-sha256``).

S3 signs the hash a client declares instead of the body, so the body must be checked against that
declaration, in each of the forms S3 accepts:

- a hex SHA-256 of the body (boto3 over plain HTTP, as to the local cloud): equal, or 400 ``XAmzContentSHA256Mismatch``;
- ``UNSIGNED-PAYLOAD`` (presigned URLs, clients that opt out): nothing to check;
- ``STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`` (the AWS CLI v2, the Java and JavaScript SDKs): an
  ``aws-chunked`` body whose every chunk carries a signature chained from the request's, and an optional
  trailer signed the same way;
- ``STREAMING-UNSIGNED-PAYLOAD-TRAILER`` (boto3's default for PutObject/UploadPart over HTTPS): unsigned chunks,
  then a checksum trailer (``x-amz-checksum-crc32`` by default) that must match the data.

moto decodes ``aws-chunked`` bodies itself; this module only decides whether to let them through.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass

from botocore.httpchecksum import Crc32Checksum, Sha1Checksum, Sha256Checksum

from local_sagemaker.cloud.gateway.auth_errors import AuthError, refusal

UNSIGNED = "UNSIGNED-PAYLOAD"
SIGNED_CHUNKS = ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER")
UNSIGNED_CHUNKS = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
HEX_SHA256 = re.compile(r"[0-9a-f]{64}")
CHUNK_HEADER = re.compile(rb"([0-9a-fA-F]{1,16})(?:;chunk-signature=([0-9a-f]{64}))?")
# The trailer checksums computed exactly here; others (CRC32C, CRC64NVME need awscrt) are left to moto.
CHECKSUMS = {
    "x-amz-checksum-crc32": Crc32Checksum,
    "x-amz-checksum-sha1": Sha1Checksum,
    "x-amz-checksum-sha256": Sha256Checksum,
}


@dataclass(frozen=True)
class Chain:
    """What chunk signatures chain from: the request's timestamp, scope and signature, and its signing key."""

    timestamp: str
    scope: str
    seed: str
    sign: Callable[[str], str]  # string to sign -> hex HMAC with the request's signing key

    def next(self, previous: str, kind: str, hashed: str) -> str:
        payload_line = f"{EMPTY_SHA256}\n{hashed}" if kind == "PAYLOAD" else hashed
        return self.sign(f"AWS4-HMAC-SHA256-{kind}\n{self.timestamp}\n{self.scope}\n{previous}\n{payload_line}")


def check(declared: str | None, body: bytes, decoded_length: str | None, chain: Chain) -> None:
    """Raise S3's error unless ``body`` is what ``declared`` (the x-amz-content-sha256 header) says it is."""
    if declared is None:
        raise AuthError("InvalidRequest", "Missing required header for this request: x-amz-content-sha256", 400)
    if declared == UNSIGNED:
        return
    if HEX_SHA256.fullmatch(declared):
        computed = hashlib.sha256(body).hexdigest()
        if not hmac.compare_digest(computed, declared):
            raise AuthError(
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
                400,
                {"ClientComputedContentSHA256": declared, "S3ComputedContentSHA256": computed},
            )
        return
    if declared in SIGNED_CHUNKS or declared == UNSIGNED_CHUNKS:
        data = _dechunk(body, chain if declared in SIGNED_CHUNKS else None)
        if decoded_length is not None and decoded_length != str(len(data)):
            raise _incomplete(f"x-amz-decoded-content-length is {decoded_length} but the chunks hold {len(data)} bytes")
        return
    raise AuthError(
        "InvalidArgument",
        f"x-amz-content-sha256 must be {UNSIGNED}, {UNSIGNED_CHUNKS}, {', '.join(SIGNED_CHUNKS)} "
        "or a valid sha256 value.",
        400,
        {"ArgumentName": "x-amz-content-sha256", "ArgumentValue": declared[:64]},
    )


def _dechunk(body: bytes, chain: Chain | None) -> bytes:
    """The data of an ``aws-chunked`` body, every chunk signature (when ``chain``) and the trailer verified."""
    data, position, previous = bytearray(), 0, chain.seed if chain else ""
    while True:
        end = body.find(b"\r\n", position)
        header = CHUNK_HEADER.fullmatch(body[position:end]) if end >= 0 else None
        if header is None or (chain is not None) != (header[2] is not None):
            raise _incomplete(f"malformed chunk header at byte {position}")
        size, position = int(header[1], 16), end + 2
        chunk = body[position : position + size]
        if chain is not None:
            previous = _verified(chain, previous, "PAYLOAD", hashlib.sha256(chunk).hexdigest(), header[2].decode())
        if size == 0:
            break
        if len(chunk) != size or body[position + size : position + size + 2] != b"\r\n":
            raise _incomplete(f"a chunk of {size} bytes at byte {position} is cut short")
        data += chunk
        position += size + 2
    _check_trailer(body[position:], bytes(data), chain, previous)
    return bytes(data)


def _check_trailer(trailer: bytes, data: bytes, chain: Chain | None, previous: str) -> None:
    """The trailing headers after the last chunk: a checksum of the data, signed when the chunks were."""
    lines = [line for line in trailer.replace(b"\r\n", b"\n").split(b"\n") if line]
    fields: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon:
            raise _incomplete(f"malformed trailer line {line[:80]!r}")
        fields[name.strip().lower()] = value.strip()
    signature = fields.pop("x-amz-trailer-signature", None)
    if chain is not None and fields:
        canonical = "".join(f"{name}:{value}\n" for name, value in fields.items())
        _verified(chain, previous, "TRAILER", hashlib.sha256(canonical.encode()).hexdigest(), signature or "")
    for name, value in fields.items():
        if name in CHECKSUMS:
            checksum = CHECKSUMS[name]()
            checksum.update(data)
            if not hmac.compare_digest(checksum.b64digest(), value):
                algorithm = name.removeprefix("x-amz-checksum-").upper()
                message = f"The {algorithm} you specified did not match the calculated checksum."
                raise AuthError("BadDigest", message, 400)


def _verified(chain: Chain, previous: str, kind: str, hashed: str, given: str) -> str:
    expected = chain.next(previous, kind, hashed)
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise refusal("s3", "mismatch")
    return expected


def _incomplete(detail: str) -> AuthError:
    return AuthError(
        "IncompleteBody",
        f"The aws-chunked body is not what its headers announce: {detail}. Send it again as the SDK encodes it.",
        400,
    )
