"""Serverless endpoints: validated configs, MaxConcurrency throttling, a memory limit, scale to zero, and the
metrics AWS publishes for them (cold starts as ModelSetupTime, throttles counted nowhere, no CPUUtilization)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.local_cloud.hosting import (
    MODEL_FN,
    create_config,
    create_model,
    deploy,
    endpoint_metric,
    endpoint_processes,
    invoke,
    serves,
    upload_model,
    wait_endpoint,
)

SLOW_OR_GREEDY = MODEL_FN + (
    "import time, numpy as np\n"
    "def predict_fn(data, model):\n"
    "    if data[0][0] == 7:\n        time.sleep(3)\n"
    "    if data[0][0] == 9:\n        hog = np.ones((2048, 1024, 1024), dtype=np.uint8)\n        time.sleep(10)\n"
    "    return model.predict(data)\n"
)


@pytest.fixture(scope="module")
def serverless(sm, s3) -> str:
    model = create_model(sm, s3, upload_model(s3), SLOW_OR_GREEDY)
    name = deploy(sm, create_config(sm, model, serverless={"MemorySizeInMB": 1024, "MaxConcurrency": 2}))
    assert wait_endpoint(sm, name)["EndpointStatus"] == "InService"
    yield name
    sm.delete_endpoint(EndpointName=name)


@pytest.fixture(scope="module")
def no_retries(cloud):
    return cloud.client("sagemaker-runtime", config=Config(retries={"mode": "standard", "max_attempts": 1}))


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"MemorySizeInMB": 1536, "MaxConcurrency": 5}, "memorySizeInMB"),
        ({"MemorySizeInMB": 2048, "MaxConcurrency": 201}, "maxConcurrency"),
    ],
)
def test_serverless_configs_are_validated(cloud, s3, config, field) -> None:
    # botocore checks the ranges too; without its checks, the local cloud's own answer shows.
    unchecked = cloud.client("sagemaker", config=Config(parameter_validation=False))
    model = create_model(unchecked, s3, "s3://maze-tests/unused/model.tar.gz")
    with pytest.raises(ClientError) as error:
        create_config(unchecked, model, serverless=config)
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert field in error.value.response["Error"]["Message"]


def test_described_with_its_serverless_config(sm, serverless) -> None:
    variant = sm.describe_endpoint(EndpointName=serverless)["ProductionVariants"][0]
    assert variant["CurrentServerlessConfig"] == {"MemorySizeInMB": 1024, "MaxConcurrency": 2}


def test_the_first_invocation_after_deployment_is_a_cold_start(sm, s3, cloud, runtime, cloudwatch) -> None:
    model = create_model(sm, s3, upload_model(s3), MODEL_FN)
    name = deploy(sm, create_config(sm, model, serverless={"MemorySizeInMB": 2048, "MaxConcurrency": 1}))
    assert wait_endpoint(sm, name)["EndpointStatus"] == "InService"
    assert endpoint_processes(cloud, name) == [], "in service without compute: nothing is warm yet"
    assert serves(runtime, name)
    assert serves(runtime, name), "the second one finds the instance warm"
    invocations = endpoint_metric(cloudwatch, name, "Invocations", until=lambda f: f["Sum"] >= 2)
    assert invocations["Sum"] == 2
    setup = endpoint_metric(cloudwatch, name, "ModelSetupTime")
    assert setup["SampleCount"] == 1 and setup["Sum"] > 0, "one cold start: the first invocation"
    overhead = endpoint_metric(cloudwatch, name, "OverheadLatency")
    assert overhead["SampleCount"] == 2, "one per invocation"
    assert overhead["Maximum"] >= setup["Sum"], "OverheadLatency includes the cold start (AWS's serverless page)"
    memory = endpoint_metric(cloudwatch, name, "MemoryUtilization", until=lambda f: f["SampleCount"] >= 2)
    assert memory["SampleCount"] == 2 and 0 < memory["Maximum"] < 100, "percent of the 2048 MB the instance used"
    listed = cloudwatch.list_metrics(Dimensions=[{"Name": "EndpointName", "Value": name}])["Metrics"]
    assert {m["Namespace"] for m in listed} == {"AWS/SageMaker"}
    assert "CPUUtilization" not in {m["MetricName"] for m in listed}, "serverless publishes no CPUUtilization"
    sm.delete_endpoint(EndpointName=name)


def test_requests_past_max_concurrency_are_throttled(no_retries, serverless, cloudwatch) -> None:
    def call(_: int) -> str:
        try:
            invoke(no_retries, serverless, "7,1\n7,1")
        except ClientError as error:
            return error.response["Error"]["Code"]
        return "answered"

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(call, range(6)))
    # MaxConcurrency 2: two requests run (and fail in the model: 2 features), the other four are throttled.
    assert sorted(outcomes) == ["ModelError"] * 2 + ["ThrottlingException"] * 4, outcomes
    assert serves(no_retries, serverless)
    # A throttled request never reaches the model: it is no invocation and no model 4xx (AWS's metric pages).
    invocations = endpoint_metric(cloudwatch, serverless, "Invocations", until=lambda f: f["Sum"] >= 3)
    assert invocations["Sum"] == 3, "the two that ran and the one that served"
    assert endpoint_metric(cloudwatch, serverless, "Invocation5XXErrors")["Sum"] == 2
    client_errors = endpoint_metric(cloudwatch, serverless, "Invocation4XXErrors")
    assert (client_errors["SampleCount"], client_errors["Sum"]) == (3, 0), "a 0 per invocation, a 1 per model 4xx"


def test_exceeding_the_memory_size_fails_the_request_and_the_endpoint_recovers(
    runtime, serverless, logs, cloudwatch
) -> None:
    with pytest.raises(ClientError) as error:
        invoke(runtime, serverless, "9,1\n9,1")
    assert error.value.response["Error"]["Code"] == "ModelError"
    assert serves(runtime, serverless)
    group = f"/aws/sagemaker/Endpoints/{serverless}"

    def messages() -> list[str]:
        return [
            event["message"]
            for stream in logs.describe_log_streams(logGroupName=group)["logStreams"]
            for event in logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])["events"]
        ]

    deadline = time.monotonic() + 5  # the log reaches CloudWatch within a fraction of a second
    while not any("Perhaps out of memory?" in m for m in messages()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert any("Perhaps out of memory?" in m for m in messages()), "gunicorn logs the kill and replaces the worker"
    memory = endpoint_metric(cloudwatch, serverless, "MemoryUtilization", until=lambda f: f["Maximum"] >= 100)
    assert memory["Maximum"] == 100, "the request that hit the limit used all of MemorySizeInMB"


def test_an_idle_endpoint_scales_to_zero_and_reports_its_cold_start(runtime, serverless, cloud, cloudwatch) -> None:
    def instance_processes() -> list[psutil.Process]:
        return endpoint_processes(cloud, serverless)

    assert serves(runtime, serverless)
    deadline = time.monotonic() + 30
    while instance_processes() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert instance_processes() == [], "scaled to zero after the idle period"
    cold_starts = endpoint_metric(cloudwatch, serverless, "ModelSetupTime")["SampleCount"]
    assert serves(runtime, serverless), "the next request pays a cold start"
    assert instance_processes()
    after = endpoint_metric(cloudwatch, serverless, "ModelSetupTime", until=lambda f: f["SampleCount"] > cold_starts)
    assert after["SampleCount"] == cold_starts + 1


@pytest.fixture(scope="module")
def runtime(cloud):
    return cloud.client("sagemaker-runtime")
