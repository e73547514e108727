"""Clients of the session's local cloud (started by the root conftest), as a participant's boto3 would be."""

from __future__ import annotations

from typing import Any

import pytest

from local_sagemaker import daemon
from tests.local_cloud.jobs import BUCKET


@pytest.fixture(scope="session")
def cloud() -> daemon.CloudInfo:
    info = daemon.find(daemon.state_dir())
    assert info is not None, "the root conftest starts the local cloud for the session"
    return info


@pytest.fixture(scope="session")
def sm(cloud: daemon.CloudInfo) -> Any:
    return cloud.client("sagemaker")


@pytest.fixture(scope="session")
def s3(cloud: daemon.CloudInfo) -> Any:
    client = cloud.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture(scope="session")
def logs(cloud: daemon.CloudInfo) -> Any:
    return cloud.client("logs")


@pytest.fixture(scope="session")
def cloudwatch(cloud: daemon.CloudInfo) -> Any:
    return cloud.client("cloudwatch")
