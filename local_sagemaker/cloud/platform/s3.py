"""S3 URIs as SageMaker requests carry them, and the objects under them."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key/prefix`` -> (``bucket``, ``key/prefix``)."""
    parsed = urlparse(uri)
    return parsed.netloc, parsed.path.lstrip("/")


def list_keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    """The object keys under ``prefix`` (folder markers left out), sorted; none when the bucket does not exist."""
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", []) if not item["Key"].endswith("/")]
    except s3.exceptions.NoSuchBucket:
        return []
