"""S3 URIs as SageMaker requests carry them."""

from __future__ import annotations

from urllib.parse import urlparse


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key/prefix`` -> (``bucket``, ``key/prefix``)."""
    parsed = urlparse(uri)
    return parsed.netloc, parsed.path.lstrip("/")
