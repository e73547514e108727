"""Pagination tokens as AWS hands them out: opaque, and refused when a client made one up.

A handler pages with whatever token is convenient to it (an offset, say). The front seals each
``NextToken`` a handler returns and unseals the one a request brings back, so a forged or
mangled token (``NextToken="zzz"``) gets a ``ValidationException`` instead of reaching a handler.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from local_sagemaker.cloud.platform.errors import ValidationError

DIGEST_BYTES = 16


class PageTokens:
    """Seals and unseals tokens with a key of this cloud process (a new cloud starts empty anyway)."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def seal(self, token: str) -> str:
        inner = token.encode()
        return base64.urlsafe_b64encode(self._digest(inner) + inner).decode()

    def unseal(self, sealed: object) -> str:
        """The handler's own token; ValidationException if this cloud did not issue ``sealed``."""
        try:
            raw = base64.urlsafe_b64decode(str(sealed).encode())
        except (binascii.Error, ValueError):
            raw = b""
        digest, inner = raw[:DIGEST_BYTES], raw[DIGEST_BYTES:]
        if len(raw) <= DIGEST_BYTES or not hmac.compare_digest(digest, self._digest(inner)):
            raise ValidationError("Invalid pagination token: it was not returned by a previous call of this API.")
        return inner.decode()

    def _digest(self, inner: bytes) -> bytes:
        return hmac.new(self._key, inner, hashlib.sha256).digest()[:DIGEST_BYTES]
