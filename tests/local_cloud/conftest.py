"""Clients of the session's local cloud (started by the root conftest), as a participant's boto3 would be."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from local_sagemaker import daemon
from tests.local_cloud.jobs import BUCKET


@pytest.fixture(scope="session")
def cloud() -> daemon.CloudInfo:
    info = daemon.find(daemon.state_dir())
    assert info is not None, "the root conftest starts the local cloud for the session"
    return info


@pytest.fixture(scope="session")
def aws(cloud: daemon.CloudInfo):
    session = boto3.session.Session(aws_access_key_id="tests", aws_secret_access_key="tests", region_name="us-east-1")

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=cloud.endpoint)

    return client


@pytest.fixture(scope="session")
def sm(aws):
    return aws("sagemaker")


@pytest.fixture(scope="session")
def s3(aws):
    client = aws("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture(scope="session")
def logs(aws):
    return aws("logs")


@pytest.fixture(scope="session")
def cloudwatch(aws):
    return aws("cloudwatch")
