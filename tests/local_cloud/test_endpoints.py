"""Real-time endpoints: the lifecycle, the serving container's contract, and bad input that leaves them serving."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import time

import numpy as np
import psutil
import pytest
from botocore.exceptions import ClientError

from local_sagemaker.cloud.compute.opt_ml_view import opt_ml_view
from local_sagemaker.cloud.resources.hosting.invocation_metrics import FLUSH_SECONDS
from maze import evidence
from testing.training_jobs import BUCKET
from tests.local_cloud.hosting import (
    DIGITS,
    create_config,
    create_model,
    csv_rows,
    deploy,
    endpoint_metric,
    endpoint_processes,
    invoke,
    serves,
    upload_model,
    wait_endpoint,
)


@pytest.fixture(scope="module")
def model_data(s3) -> str:
    return upload_model(s3)


@pytest.fixture(scope="module")
def endpoint(sm, s3, model_data) -> str:
    name = deploy(sm, create_config(sm, create_model(sm, s3, model_data)))
    assert wait_endpoint(sm, name)["EndpointStatus"] == "InService"
    yield name
    sm.delete_endpoint(EndpointName=name)


@pytest.fixture(scope="module")
def runtime(cloud):
    return cloud.client("sagemaker-runtime")


def test_an_endpoint_goes_creating_then_in_service(sm, s3, model_data, logs) -> None:
    name = deploy(sm, create_config(sm, create_model(sm, s3, model_data)))
    assert sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "Creating"
    description = wait_endpoint(sm, name)
    assert description["EndpointStatus"] == "InService"
    variant = description["ProductionVariants"][0]
    assert (variant["VariantName"], variant["CurrentInstanceCount"]) == ("AllTraffic", 1)
    assert name in [e["EndpointName"] for e in sm.list_endpoints(NameContains=name)["Endpoints"]]
    streams = logs.describe_log_streams(logGroupName=f"/aws/sagemaker/Endpoints/{name}")["logStreams"]
    assert [s["logStreamName"].split("/")[0] for s in streams] == ["AllTraffic"]
    sm.delete_endpoint(EndpointName=name)
    with pytest.raises(ClientError, match="Could not find endpoint"):
        sm.describe_endpoint(EndpointName=name)


@pytest.mark.skipif(not opt_ml_view().available, reason=f"no mount namespace for /opt/ml: {opt_ml_view().why}")
def test_a_model_that_hard_codes_opt_ml_model_predicts_as_on_sagemaker(sm, s3, model_data, runtime) -> None:
    """Each instance sees its own tree at /opt/ml, so code written for SageMaker's paths finds its model."""
    literal = "import joblib\ndef model_fn(model_dir):\n    return joblib.load('/opt/ml/model/model.joblib')\n"
    name = deploy(sm, create_config(sm, create_model(sm, s3, model_data, literal)))
    try:
        assert wait_endpoint(sm, name)["EndpointStatus"] == "InService"
        assert json.loads(invoke(runtime, name, csv_rows(DIGITS[:3]))[1]) == [0, 1, 2]
    finally:
        sm.delete_endpoint(EndpointName=name)


@pytest.mark.parametrize(
    ("body", "content_type", "accept", "expected_type", "decode"),
    [
        (csv_rows(DIGITS[:3]), "text/csv", None, "application/json", json.loads),
        (json.dumps(DIGITS[:3].tolist()), "application/json", "text/csv", "text/csv; charset=utf-8",
         lambda b: [int(float(v)) for v in b.decode().split()]),
        (None, "application/x-npy", "application/x-npy", "application/x-npy",
         lambda b: np.load(io.BytesIO(b)).tolist()),
    ],
    ids=["csv-in-json-out", "json-in-csv-out", "npy-both-ways"],
)  # fmt: skip
def test_the_containers_content_types(runtime, endpoint, body, content_type, accept, expected_type, decode) -> None:
    if body is None:
        buffer = io.BytesIO()
        np.save(buffer, DIGITS[:3])
        body = buffer.getvalue()
    answer_type, answer = invoke(runtime, endpoint, body, content_type, accept)
    assert answer_type == expected_type
    assert decode(answer) == [0, 1, 2]


@pytest.mark.parametrize(
    ("body", "content_type", "accept", "in_message"),
    [
        (csv_rows(DIGITS[:1]), "text/csv", None, "500"),  # the container squeezes one row to 1-D
        ("1,2,three\n4,5,6", "text/csv", None, "500"),
        (csv_rows(DIGITS[:2, :10]), "text/csv", None, "500"),
        ("", "text/csv", None, "500"),
        ("1,2", "text/plain", None, "500"),  # unsupported content types answer 500, not 415
        (csv_rows(DIGITS[:2]), "text/csv", "application/xml", "500"),
        (csv_rows(DIGITS[:2]), "text/csv; charset=utf-8", None, "500"),  # exact match only
    ],
    ids=["single-row", "malformed", "wrong-feature-count", "empty", "content-type", "accept", "charset"],
)
def test_bad_input_is_a_model_error_and_the_endpoint_keeps_serving(
    runtime, endpoint, body, content_type, accept, in_message
) -> None:
    with pytest.raises(ClientError) as error:
        invoke(runtime, endpoint, body, content_type, accept)
    response = error.value.response
    assert response["Error"]["Code"] == "ModelError"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert response["OriginalStatusCode"] == 500
    assert f"Received server error ({in_message}) from primary" in response["Error"]["Message"]
    assert f"/aws/sagemaker/Endpoints/{endpoint}" in response["Error"]["Message"]
    assert serves(runtime, endpoint)


def test_npy_with_pickled_objects_is_refused(runtime, endpoint) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ClientError, match="ModelError"):
        invoke(runtime, endpoint, buffer.getvalue(), "application/x-npy")
    assert serves(runtime, endpoint)


def test_an_unknown_endpoint_is_a_validation_error(runtime) -> None:
    with pytest.raises(ClientError) as error:
        invoke(runtime, "no-such-endpoint", "1,2")
    assert error.value.response["Error"]["Code"] == "ValidationError"
    assert "Endpoint no-such-endpoint of account 123456789012 not found." in error.value.response["Error"]["Message"]


def test_a_payload_over_6_mb_is_refused(runtime, endpoint) -> None:
    with pytest.raises(ClientError) as error:
        invoke(runtime, endpoint, "0," * (3 * 1024 * 1024 + 1))
    assert error.value.response["Error"]["Code"] == "ValidationError"
    assert serves(runtime, endpoint)


# nginx's "combined" log format: address, ident, user, [time], "request", status, bytes, "referer", "user agent".
COMBINED = re.compile(
    r"^\S+ - - \[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "
    r'"(GET|POST) (\S+) HTTP/1\.[01]" (\d{3}) \d+ "[^"]*" "[^"]*"$'
)


def test_each_instance_logs_an_access_line_per_request(sm, s3, model_data, runtime, logs) -> None:
    name = deploy(sm, create_config(sm, create_model(sm, s3, model_data), instances=2))
    assert wait_endpoint(sm, name)["EndpointStatus"] == "InService"
    for _ in range(6):
        assert serves(runtime, name)
    with pytest.raises(ClientError):
        invoke(runtime, name, "1,2,three\n4,5,6")
    group = f"/aws/sagemaker/Endpoints/{name}"
    deadline = time.monotonic() + 10  # the instances' logs reach CloudWatch within a fraction of a second
    while sum(evidence.invocations_per_instance(logs, group).values()) < 6 and time.monotonic() < deadline:
        time.sleep(0.2)
    sm.delete_endpoint(EndpointName=name)
    per_instance = evidence.invocations_per_instance(logs, group)
    assert sorted(per_instance.values()) == [3, 3], "round robin: the 2xx answers, three per instance"
    assert all(re.fullmatch(r"AllTraffic/i-[0-9a-f]{17}", stream) for stream in per_instance)
    lines = [
        hit.groups()
        for stream in per_instance
        for message in evidence.stream_messages(logs, group, stream)
        if (hit := COMBINED.match(message))
    ]
    assert sorted(s for m, path, s in lines if path == "/invocations") == ["200"] * 6 + ["500"]
    assert ("GET", "/ping", "200") in lines, "the health checks are requests too"


@pytest.mark.parametrize(
    ("script", "cause"),
    [
        ("import os\n", "Please provide a model_fn implementation"),
        ("def model_fn(model_dir):\n    raise RuntimeError('weights are corrupt')\n", "weights are corrupt"),
    ],
    ids=["model_fn-missing", "model_fn-raises"],
)
def test_a_model_that_cannot_load_fails_the_endpoint_with_its_cause(sm, s3, model_data, script, cause) -> None:
    name = deploy(sm, create_config(sm, create_model(sm, s3, model_data, script)))
    description = wait_endpoint(sm, name)
    assert description["EndpointStatus"] == "Failed"
    assert "did not pass the ping health check" in description["FailureReason"]
    assert cause in description["FailureReason"]


def test_missing_model_data_fails_the_endpoint(sm, s3) -> None:
    uri = f"s3://{BUCKET}/models/none/model.tar.gz"
    description = wait_endpoint(sm, deploy(sm, create_config(sm, create_model(sm, s3, uri))))
    assert description["EndpointStatus"] == "Failed"
    assert (
        f'Failed to download model data for container "container_1" from URL: "{uri}"' in description["FailureReason"]
    )


def test_a_predict_past_the_worker_timeout_fails_and_the_endpoint_recovers(sm, s3, model_data, runtime) -> None:
    # A busy loop: gevent workers only miss their heartbeat (and get killed) when the CPU work blocks them. The
    # timeout also bounds a worker's boot (imports, model_fn): 2 s left CI's busy cores booting workers for ever.
    slow = (
        "import os, time, joblib\n"
        "def model_fn(model_dir):\n    return joblib.load(os.path.join(model_dir, 'model.joblib'))\n"
        "def predict_fn(data, model):\n"
        "    end = time.time() + (60 if data[0][0] == 9 else 0)\n"
        "    while time.time() < end:\n        pass\n"
        "    return model.predict(data)\n"
    )
    model = create_model(sm, s3, model_data, slow, SAGEMAKER_MODEL_SERVER_TIMEOUT="10")
    name = deploy(sm, create_config(sm, model))
    assert wait_endpoint(sm, name)["EndpointStatus"] == "InService"
    started = time.monotonic()
    with pytest.raises(ClientError) as error:
        invoke(runtime, name, "9,1\n9,1")
    assert error.value.response["Error"]["Code"] == "ModelError"
    assert time.monotonic() - started < 40, "the worker is killed at its timeout, not at the loop's end (60 s)"
    assert serves(runtime, name)
    sm.delete_endpoint(EndpointName=name)


def gunicorn_workers(cloud, endpoint: str) -> dict[int, set[int]]:
    """Each instance's gunicorn master (by pid) and the pids of its workers: the leaves of its process tree."""
    workers: dict[int, set[int]] = {}
    for process in endpoint_processes(cloud, endpoint):
        with contextlib.suppress(psutil.Error):  # exited since the listing
            if not process.children():
                workers.setdefault(process.ppid(), set()).add(process.pid)
    return workers


def test_a_killed_worker_is_replaced(runtime, endpoint, cloud) -> None:
    [(master, before)] = gunicorn_workers(cloud, endpoint).items()
    killed = min(before)
    os.kill(killed, signal.SIGKILL)
    deadline = time.monotonic() + 60  # gunicorn's master reaps the worker and forks a new one at once
    while time.monotonic() < deadline:
        after = gunicorn_workers(cloud, endpoint).get(master, set())
        if killed not in after and len(after) == len(before):
            break
        time.sleep(0.1)
    assert killed not in after and len(after) == len(before), f"workers {sorted(before)} became {sorted(after)}"
    assert after - before, "a new worker process took the killed one's place"
    assert before - {killed} <= after, "the other workers were left alone"
    assert all(serves(runtime, endpoint) for _ in range(6))


def test_deleting_an_endpoint_stops_its_processes(sm, s3, model_data, cloud) -> None:
    name = deploy(sm, create_config(sm, create_model(sm, s3, model_data)))
    wait_endpoint(sm, name)

    assert len(endpoint_processes(cloud, name)) >= 2, "gunicorn's master and workers"
    sm.delete_endpoint(EndpointName=name)
    assert endpoint_processes(cloud, name) == []


def test_update_endpoint_swaps_in_the_new_config(sm, s3, model_data, runtime, cloud, logs) -> None:
    model = create_model(sm, s3, model_data)
    name = deploy(sm, create_config(sm, model))
    wait_endpoint(sm, name)
    before = {p.pid for p in endpoint_processes(cloud, name)}
    sm.update_endpoint(EndpointName=name, EndpointConfigName=create_config(sm, model, instances=2))
    assert sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "Updating"
    assert serves(runtime, name), "an endpoint keeps serving while it updates"
    description = wait_endpoint(sm, name)
    assert description["EndpointStatus"] == "InService"
    assert description["ProductionVariants"][0]["CurrentInstanceCount"] == 2
    assert before.isdisjoint(p.pid for p in endpoint_processes(cloud, name)), "the old instance is stopped"
    streams = logs.describe_log_streams(logGroupName=f"/aws/sagemaker/Endpoints/{name}")["logStreams"]
    assert len(streams) == 3, "one stream per instance, the retired one included"
    assert all(serves(runtime, name) for _ in range(4))
    sm.delete_endpoint(EndpointName=name)


def test_invocations_are_counted_in_cloudwatch(runtime, endpoint, cloudwatch) -> None:
    for _ in range(3):
        assert serves(runtime, endpoint)
    # The runtime publishes once a second: after two flushes every invocation so far is in CloudWatch,
    # so the counts read below belong to the same requests.
    time.sleep(2 * FLUSH_SECONDS + 0.5)
    invocations = endpoint_metric(cloudwatch, endpoint, "Invocations", until=lambda f: f["Sum"] >= 3)
    assert invocations["Sum"] >= 3
    # AWS's CloudWatch page: for each 5xx (4xx) the model returned 1 is sent, otherwise 0.
    server_errors = endpoint_metric(cloudwatch, endpoint, "Invocation5XXErrors")
    assert server_errors["SampleCount"] == invocations["Sum"]
    assert server_errors["Sum"] >= 1, "the bad-input tests before this one were counted"
    assert endpoint_metric(cloudwatch, endpoint, "Invocation4XXErrors")["Sum"] == 0, "the container answers 500s"
    for latency in ("ModelLatency", "OverheadLatency"):
        figures = endpoint_metric(cloudwatch, endpoint, latency)
        assert figures["SampleCount"] == invocations["Sum"] and figures["Sum"] > 0, latency
    listed = {m["MetricName"] for m in cloudwatch.list_metrics(Namespace="AWS/SageMaker")["Metrics"]}
    assert "OverheadLatency" in listed
    for serverless_only in ("ModelSetupTime", "MemoryUtilization"):
        assert endpoint_metric(cloudwatch, endpoint, serverless_only, timeout=0)["SampleCount"] == 0, serverless_only


def test_a_real_time_instance_publishes_its_cpu_and_memory(runtime, endpoint, cloudwatch) -> None:
    """AWS's page: endpoint instances report CPUUtilization and MemoryUtilization under /aws/sagemaker/Endpoints."""
    assert serves(runtime, endpoint)
    for metric in ("CPUUtilization", "MemoryUtilization"):
        figures = endpoint_metric(cloudwatch, endpoint, metric, namespace="/aws/sagemaker/Endpoints")
        assert figures["SampleCount"] > 0, metric
    cpu = endpoint_metric(cloudwatch, endpoint, "CPUUtilization", namespace="/aws/sagemaker/Endpoints")
    assert 0 < cpu["Maximum"] <= 100 * (os.cpu_count() or 1), "percent of one core, up to 100 x cores"
    memory = endpoint_metric(cloudwatch, endpoint, "MemoryUtilization", namespace="/aws/sagemaker/Endpoints")
    assert 0 < memory["Maximum"] < 100, "percent of this machine's memory that gunicorn and its workers hold"
