"""The local cloud the root conftest started for this test session, and its clients."""

from __future__ import annotations

from typing import Any

from local_sagemaker.common import state_files
from local_sagemaker.kernel import launcher
from tests.local_cloud.jobs import BUCKET


def session_cloud() -> launcher.CloudInfo:
    info = launcher.find(state_files.state_dir())
    assert info is not None, "the root conftest starts the local cloud for the session"
    return info


def s3_with_bucket(cloud: launcher.CloudInfo) -> Any:
    """An S3 client of the cloud, with the tests' bucket created (creating it again is harmless)."""
    client = cloud.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client
