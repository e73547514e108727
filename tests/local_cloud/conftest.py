"""Clients of the session's local cloud (started by the root conftest), as a participant's boto3 would be.

Every SageMaker and SageMaker Runtime answer any boto3 client of the test process receives is
checked against botocore's model of the operation's output (required members, types, ranges,
enums, patterns); a test during which an answer broke it fails, naming the operation and member.
Programs a test starts in a subprocess (and the notebooks under nbval) are not checked.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore import handlers

from local_sagemaker.cloud.gateway.validation import validation_message, violations
from local_sagemaker.kernel import launcher
from tests.session_cloud import s3_with_bucket, session_cloud

# botocore names events after-call.<service id>.<operation>; a prefix catches every operation.
CHECKED_SERVICES = ("after-call.sagemaker", "after-call.sagemaker-runtime")
breaches: list[str] = []
reported = [0]  # how many breaches earlier tests reported: a module fixture's breach fails the first test using it


def check_answer(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
    """botocore ``after-call`` hook: record a successful answer that breaks the operation's output shape."""
    if http_response.status_code >= 300 or model.output_shape is None:
        return
    answer = {key: value for key, value in parsed.items() if key != "ResponseMetadata"}
    found = violations(answer, model.output_shape)
    if found:
        breaches.append(f"{model.service_model.service_name} {model.name}: {validation_message(found)}")


@pytest.fixture(scope="session", autouse=True)
def answers_checked() -> Iterator[None]:
    """Install the hook on every botocore session: those created from now on, and boto3's default one."""
    specs = [(event, check_answer) for event in CHECKED_SERVICES]
    handlers.BUILTIN_HANDLERS.extend(specs)
    if boto3.DEFAULT_SESSION is not None:
        for event, handler in specs:
            boto3.DEFAULT_SESSION.events.register(event, handler)
    yield
    for spec in specs:
        handlers.BUILTIN_HANDLERS.remove(spec)


@pytest.fixture(autouse=True)
def answers_within_the_model(answers_checked: None) -> Iterator[None]:
    """Fail the test during which (or during whose fixtures' set-up) the cloud answered outside botocore's model."""
    yield
    unreported = breaches[reported[0] :]
    reported[0] = len(breaches)
    if unreported:
        counted = Counter(unreported)
        found = [f"{breach} ({count} answers)" if count > 1 else breach for breach, count in counted.items()]
        pytest.fail("The local cloud answered outside botocore's model:\n" + "\n".join(found))


@pytest.fixture(scope="session")
def cloud(answers_checked: None) -> launcher.CloudInfo:
    return session_cloud()


@pytest.fixture
def no_traceback_in_the_log(cloud: launcher.CloudInfo) -> Iterator[None]:
    """Whatever the test sent, the cloud logged no traceback for it (an unforeseen error, a 500, would have one)."""
    log = cloud.state_dir / "cloud.log"
    start = log.stat().st_size
    yield
    with log.open("rb") as file:
        file.seek(start)
        assert b"Traceback" not in file.read()


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
