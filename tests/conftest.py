"""What every test under tests/ gets: botocore's answer contract checked on each SageMaker answer its boto3
clients receive (``tests/answer_contract.py``), and the session's local cloud with its clients, for the tests
that ask for one (started on first use: see ``tests/session_cloud.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local_sagemaker.kernel import launcher
from tests import answer_contract
from tests.session_cloud import SESSION_CLOUD, s3_with_bucket


@pytest.fixture(scope="session", autouse=True)
def answers_checked() -> Iterator[None]:
    answer_contract.install()
    yield
    answer_contract.uninstall()


@pytest.fixture(autouse=True)
def answers_within_the_model(answers_checked: None) -> Iterator[None]:
    """Fail the test during which (or during whose fixtures' set-up) the cloud answered outside botocore's model."""
    yield
    found = answer_contract.unreported()
    if found:
        pytest.fail("The local cloud answered outside botocore's model:\n" + found)


@pytest.fixture(scope="session")
def cloud(request: pytest.FixtureRequest, answers_checked: None) -> launcher.CloudInfo:
    """The session's local cloud: a test that uses it (or a fixture of it) is marked ``cloud``."""
    return request.config.stash[SESSION_CLOUD].get()


@pytest.fixture(scope="session")
def sm(cloud: launcher.CloudInfo) -> Any:
    return cloud.client("sagemaker")


@pytest.fixture(scope="session")
def s3(cloud: launcher.CloudInfo) -> Any:
    return s3_with_bucket(cloud)


@pytest.fixture(scope="session")
def logs(cloud: launcher.CloudInfo) -> Any:
    return cloud.client("logs")


@pytest.fixture(scope="session")
def cloudwatch(cloud: launcher.CloudInfo) -> Any:
    return cloud.client("cloudwatch")


@pytest.fixture
def no_traceback_in_the_log(cloud: launcher.CloudInfo) -> Iterator[None]:
    """Whatever the test sent, the cloud logged no traceback for it (an unforeseen error, a 500, would have one)."""
    log = cloud.state_dir / "cloud.log"
    start = log.stat().st_size
    yield
    with log.open("rb") as file:
        file.seek(start)
        assert b"Traceback" not in file.read()
