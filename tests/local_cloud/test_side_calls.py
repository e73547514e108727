"""The SDK's side calls get an account's answers, so its clean-up paths go through to the deletion."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest
import sagemaker
from botocore.exceptions import ClientError

from tests.local_cloud.hosting import create_config, create_model, deploy, upload_model, wait_endpoint


@pytest.mark.parametrize(
    ("call", "listing", "request_"),
    [
        (
            "list_monitoring_schedules",
            "MonitoringScheduleSummaries",
            {"EndpointName": "any-endpoint", "MaxResults": 100},
        ),
        ("list_monitoring_executions", "MonitoringExecutionSummaries", {"MonitoringScheduleName": "any-schedule"}),
        ("list_inference_components", "InferenceComponents", {"EndpointNameEquals": "any-endpoint"}),
    ],
)
def test_listings_the_sdk_makes_on_the_side_are_empty(sm, call, listing, request_) -> None:
    answer = getattr(sm, call)(**request_)
    assert answer[listing] == []
    assert "NextToken" not in answer


def test_side_calls_are_validated_like_every_request(sm) -> None:
    with pytest.raises(ClientError) as raised:
        sm.list_monitoring_schedules(SortBy="Colour")
    assert raised.value.response["Error"]["Code"] == "ValidationException"


@pytest.fixture(scope="module")
def sdk_session(cloud, sm) -> sagemaker.Session:
    boto_session = boto3.Session(
        aws_access_key_id=cloud.access_key_id, aws_secret_access_key=cloud.secret_access_key, region_name="us-east-1"
    )
    return sagemaker.Session(boto_session=boto_session, sagemaker_client=sm)


def delete_endpoint_as_the_sdks_integration_tests_do(session: sagemaker.Session, endpoint: str) -> None:
    """The SDK's ``tests/integ/timeout.py`` clean-up (``timeout_and_delete_endpoint_by_name``), unchanged in
    substance: delete the endpoint's monitoring schedules (found through ``Predictor.list_monitors()``),
    then the endpoint; a ClientError on the way skips the deletion."""
    predictor = sagemaker.Predictor(endpoint_name=endpoint, sagemaker_session=session)
    for monitor in predictor.list_monitors():
        monitor.delete_monitoring_schedule()
    session.delete_endpoint(endpoint)


def gone(sm: Any, endpoint: str, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            sm.describe_endpoint(EndpointName=endpoint)
        except ClientError as error:
            return error.response["Error"]["Code"] == "ValidationException"
        time.sleep(0.2)
    return False


def test_the_sdks_clean_up_path_deletes_an_endpoint(sm, s3, sdk_session) -> None:
    model = create_model(sm, s3, upload_model(s3))
    endpoint = deploy(sm, create_config(sm, model))
    assert wait_endpoint(sm, endpoint)["EndpointStatus"] == "InService"
    delete_endpoint_as_the_sdks_integration_tests_do(sdk_session, endpoint)
    assert gone(sm, endpoint)


def test_the_predictors_delete_helpers_delete_model_config_and_endpoint(sm, s3, sdk_session) -> None:
    model = create_model(sm, s3, upload_model(s3))
    config = create_config(sm, model)
    endpoint = deploy(sm, config)
    assert wait_endpoint(sm, endpoint)["EndpointStatus"] == "InService"
    predictor = sagemaker.Predictor(endpoint_name=endpoint, sagemaker_session=sdk_session)
    assert predictor.list_monitors() == []
    predictor.delete_model()
    predictor.delete_endpoint(delete_endpoint_config=True)
    assert gone(sm, endpoint)
    with pytest.raises(ClientError):
        sm.describe_model(ModelName=model)
    with pytest.raises(ClientError):
        sm.describe_endpoint_config(EndpointConfigName=config)
