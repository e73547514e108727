"""Requests checked against botocore's model and errors shaped as AWS's, for clients without client-side checks."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from werkzeug.test import Client

from local_sagemaker.cloud.gateway.front import ANSWER_BREACH, Front
from local_sagemaker.cloud.gateway.signatures import Signatures, issue_key
from local_sagemaker.cloud.gateway.validation import aws_path, java_pattern, operation_model
from local_sagemaker.cloud.resources.hosting.runtime import error_body
from local_sagemaker.kernel import launcher
from testing.training_jobs import ROLE
from tests import answer_contract
from tests.local_cloud.raw_calls import NO_CLIENT_CHECKS

BROKEN_FRONT_KEY = issue_key()


@pytest.fixture(scope="module")
def raw_sm(cloud) -> Any:
    """A SageMaker client that sends whatever it is given, as a client without botocore's checks would."""
    return cloud.client("sagemaker", config=NO_CLIENT_CHECKS)


def refusal(call: Any, **request: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as raised:
        call(**request)
    error = raised.value.response
    return error["Error"]["Code"], error["Error"]["Message"], error["ResponseMetadata"]["HTTPStatusCode"]


def post(cloud, target: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
    """A SageMaker request written by hand, so its body can be anything at all."""
    headers = {"X-Amz-Target": f"SageMaker.{target}", "Content-Type": "application/x-amz-json-1.1"}
    headers = launcher.signed_headers(cloud.key, "POST", cloud.endpoint, body, headers)
    request = urllib.request.Request(cloud.endpoint, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as answer:
        return answer.code, dict(answer.headers), answer.read()


def test_missing_required_members_are_named_before_any_handler_runs(raw_sm) -> None:
    code, message, status = refusal(
        raw_sm.create_training_job,
        TrainingJobName="no-role-no-output",
        AlgorithmSpecification={"TrainingInputMode": "File", "TrainingImage": "x"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
    )
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith("2 validation errors detected: ")
    assert "Value null at 'roleArn' failed to satisfy constraint: Member must not be null" in message
    assert "Value null at 'outputDataConfig'" in message
    with pytest.raises(ClientError):
        raw_sm.describe_training_job(TrainingJobName="no-role-no-output")


def test_a_transform_job_without_its_input_is_refused_at_create(raw_sm) -> None:
    code, message, status = refusal(
        raw_sm.create_transform_job,
        TransformJobName="no-input",
        ModelName="m",
        TransformOutput={"S3OutputPath": "s3://bucket/out"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    assert (code, status) == ("ValidationException", 400)
    assert message == (
        "1 validation error detected: Value null at 'transformInput' failed to satisfy constraint: "
        "Member must not be null"
    )


@pytest.mark.parametrize(
    ("request_", "member"),
    [
        ({"InitialInstanceCount": "abc"}, "productionVariants.1.member.initialInstanceCount"),
        ({"InitialInstanceCount": 0}, "productionVariants.1.member.initialInstanceCount"),
        ({"InstanceType": "ml.nope.large"}, "productionVariants.1.member.instanceType"),
        ({"VariantName": "all_traffic"}, "productionVariants.1.member.variantName"),
    ],
)
def test_wrong_types_ranges_enums_and_patterns_are_validation_exceptions(raw_sm, request_, member) -> None:
    variant = {"VariantName": "AllTraffic", "ModelName": "m", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
    code, message, status = refusal(
        raw_sm.create_endpoint_config, EndpointConfigName="bad-variant", ProductionVariants=[{**variant, **request_}]
    )
    assert (code, status) == ("ValidationException", 400)
    assert f"at '{member}' failed to satisfy constraint" in message


def test_a_list_for_hyperparameters_is_a_validation_exception(cloud) -> None:
    request = {
        "TrainingJobName": "list-hyperparameters",
        "RoleArn": ROLE,
        "HyperParameters": ["epochs", "3"],
        "AlgorithmSpecification": {"TrainingInputMode": "File", "TrainingImage": "x"},
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
    }
    status, _, body = post(cloud, "CreateTrainingJob", json.dumps(request).encode())
    error = json.loads(body)
    assert (status, error["__type"]) == (400, "ValidationException")
    assert "at 'hyperParameters' failed to satisfy constraint: Member must be of type map" in error["message"]


def test_maximums_are_checked_though_botocore_checks_only_minimums(sm) -> None:
    code, message, _ = refusal(sm.list_training_jobs, MaxResults=1000)
    assert code == "ValidationException"
    assert (
        "Value '1000' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100"
        in message
    )


def test_a_made_up_next_token_is_refused_even_from_plain_boto3(sm) -> None:
    code, message, status = refusal(sm.list_training_jobs, NextToken="zzz")
    assert (code, status) == ("ValidationException", 400)
    assert "pagination token" in message


def test_malformed_json_is_a_json_validation_exception_never_html(cloud) -> None:
    status, headers, body = post(cloud, "ListTrainingJobs", b'{"MaxResults": ')
    assert status == 400
    assert headers["Content-Type"] == "application/x-amz-json-1.1"
    error = json.loads(body)
    assert error["__type"] == "ValidationException"
    assert "not valid JSON" in error["message"]


def test_timestamps_arrive_as_epoch_seconds_and_a_string_is_refused(cloud) -> None:
    status, _, body = post(cloud, "ListTrainingJobs", json.dumps({"CreationTimeAfter": 1.7e9}).encode())
    assert status == 200, body
    status, _, body = post(cloud, "ListTrainingJobs", json.dumps({"CreationTimeAfter": "2026-01-01"}).encode())
    assert status == 400
    assert "at 'creationTimeAfter' failed to satisfy constraint: Member must be of type timestamp" in body.decode()


def test_a_body_that_is_not_an_object_is_refused(cloud) -> None:
    status, _, body = post(cloud, "ListTrainingJobs", b"[1, 2]")
    assert status == 400
    assert json.loads(body)["__type"] == "ValidationException"


def test_members_the_model_does_not_know_are_ignored_as_aws_does(cloud) -> None:
    status, headers, body = post(cloud, "ListTrainingJobs", json.dumps({"MaxResults": 1, "Colour": "blue"}).encode())
    assert status == 200, body
    assert "TrainingJobSummaries" in json.loads(body)
    assert headers["x-amzn-RequestId"]


def test_invoke_endpoint_is_checked_against_the_runtime_model(cloud) -> None:
    runtime = cloud.client("sagemaker-runtime", config=NO_CLIENT_CHECKS)
    code, message, status = refusal(runtime.invoke_endpoint, EndpointName="not_a_valid_name", Body=b"1")
    assert (code, status) == ("ValidationError", 400)
    assert "at 'endpointName' failed to satisfy constraint: Member must satisfy regular expression pattern" in message


def broken_handler(request: dict[str, Any], region: str) -> dict[str, Any]:
    raise KeyError("OutputDataConfig")


def answer_without_its_arn(request: dict[str, Any], region: str) -> dict[str, Any]:
    return {"EndpointConfigName": request["EndpointConfigName"], "ProductionVariants": [], "CreationTime": 0}


def broken_invoke(*_: Any) -> tuple[int, dict[str, str], bytes]:
    raise RuntimeError("the instance vanished")


def signed(path: str, body: bytes, headers: dict[str, str], content_type: str) -> dict[str, str]:
    """Headers of a request to the broken front (the test client's Host is ``localhost``), signed with its key."""
    headers = {**headers, "Content-Type": content_type}
    return launcher.signed_headers(BROKEN_FRONT_KEY, "POST", f"http://localhost{path}", body, headers)


@pytest.fixture(scope="module")
def broken_front() -> Client:
    """A front whose handlers fail in ways nobody foresaw."""
    actions = {"ListTrainingJobs": broken_handler, "DescribeEndpointConfig": answer_without_its_arn}
    front = Front(actions, {}, invoke=broken_invoke, invoke_error=error_body, signatures=Signatures(BROKEN_FRONT_KEY))
    return Client(front)


def test_a_failing_handler_is_an_internal_failure_with_its_traceback_in_the_log(broken_front, caplog) -> None:
    headers = signed("/", b"{}", {"X-Amz-Target": "SageMaker.ListTrainingJobs"}, "application/x-amz-json-1.1")
    with caplog.at_level(logging.ERROR, logger="local_sagemaker.cloud.gateway.front"):
        answer = broken_front.post("/", data=b"{}", headers=headers)
    assert answer.status_code == 500
    assert answer.headers["Content-Type"] == "application/x-amz-json-1.1"
    error = json.loads(answer.data)
    assert error["__type"] == "InternalFailure"
    request_id = answer.headers["x-amzn-RequestId"]
    assert request_id in error["message"]
    logged = [record for record in caplog.records if request_id in record.getMessage()]
    assert logged and "KeyError: 'OutputDataConfig'" in caplog.text


def test_the_running_clouds_internal_failures_leave_their_traceback_in_cloud_log(cloud) -> None:
    """Its own routes are called by connect() only: a body they cannot read is the cloud's bug, logged as one."""
    url = f"{cloud.endpoint}/_local_sagemaker/health"
    headers = launcher.signed_headers(cloud.key, "POST", url, b"{", {})
    request = urllib.request.Request(url, data=b"{", headers=headers, method="POST")
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=30)
    assert raised.value.code == 500
    assert json.loads(raised.value.read())["__type"] == "InternalFailure"
    request_id = raised.value.headers["x-amzn-RequestId"]
    log = (cloud.state_dir / "cloud.log").read_text()
    assert f"route health failed (request {request_id})" in log
    assert "Traceback (most recent call last)" in log.split(request_id, 1)[1]


def test_an_answer_outside_the_model_is_a_line_in_the_clouds_log(broken_front, caplog) -> None:
    """Notebooks' clients are not hooked; the cloud says in its log when it answered outside the model."""
    body = json.dumps({"EndpointConfigName": "c"}).encode()
    headers = signed("/", body, {"X-Amz-Target": "SageMaker.DescribeEndpointConfig"}, "application/json")
    with caplog.at_level(logging.WARNING, logger="local_sagemaker.cloud.gateway.front"):
        answer = broken_front.post("/", data=body, headers=headers)
    assert answer.status_code == 200
    assert f"{ANSWER_BREACH} DescribeEndpointConfig (request {answer.headers['x-amzn-RequestId']}): " in caplog.text
    assert "Value null at 'endpointConfigArn' failed to satisfy constraint: Member must not be null" in caplog.text


def test_a_failing_invocation_is_the_runtimes_internal_failure(broken_front) -> None:
    answer = broken_front.post(
        "/endpoints/some-endpoint/invocations",
        data=b"1",
        headers=signed("/endpoints/some-endpoint/invocations", b"1", {}, "text/csv"),
    )
    assert answer.status_code == 500
    assert answer.headers["x-amzn-ErrorType"] == "InternalFailure"
    assert "unknown error" in json.loads(answer.data)["message"]


def test_aws_paths_and_java_patterns() -> None:
    assert aws_path(".ProductionVariants[1].InitialInstanceCount") == "productionVariants.2.member.initialInstanceCount"
    ascii_only = java_pattern(r"\p{ASCII}*")
    assert ascii_only is not None and ascii_only.fullmatch("text/csv") and not ascii_only.fullmatch("ünïcode")
    printable = java_pattern(r"\A\S[\p{Print}]*\z")
    assert printable is not None and printable.fullmatch("model-a.tar.gz") and not printable.fullmatch(" lead")
    assert java_pattern(r"[\p{L}\p{M}\p{Z}\p{S}\p{N}\p{P}]*") is None  # Unicode classes: left unchecked


@pytest.mark.parametrize("service", ["sagemaker", "sagemaker-runtime"])
def test_every_client_the_tests_make_checks_its_answers(cloud, service) -> None:
    """Whatever way a test makes its client, an answer outside the output shape is recorded, naming the member."""
    model = operation_model(service, "DescribeEndpointConfig" if service == "sagemaker" else "InvokeEndpoint")
    answer = {"EndpointConfigName": "c", "ProductionVariants": [], "CreationTime": "not a time"}

    class Response:
        status_code = 200

    first = len(answer_contract.breaches)  # any earlier, unreported breach stays for this test's teardown to report
    for client in (cloud.client(service), boto3.client(service, region_name="us-east-1")):
        client.meta.events.emit(
            f"after-call.{service}.{model.name}", http_response=Response(), parsed=answer, model=model, context={}
        )
    recorded = answer_contract.breaches[first:]
    del answer_contract.breaches[first:]  # made up on purpose: not a breach by the local cloud
    assert len(recorded) == 2
    if service == "sagemaker":
        assert recorded[0].startswith("sagemaker DescribeEndpointConfig: ")
        assert "Value null at 'endpointConfigArn' failed to satisfy constraint: Member must not be null" in recorded[0]
        assert "at 'creationTime' failed to satisfy constraint: Member must be of type timestamp" in recorded[0]
    else:
        assert "Value null at 'body' failed to satisfy constraint: Member must not be null" in recorded[0]
