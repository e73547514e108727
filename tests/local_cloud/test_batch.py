"""Batch transform: objects assigned to instances by key, record batching, filters and joins, faults.

Each instance's work is read as a participant reads it on AWS: from the container's access lines
(``maze.evidence``), one per request the instance received.
"""

from __future__ import annotations

import contextlib
import json
import re
import time

import pytest
from botocore.exceptions import ClientError, WaiterError
from sklearn.datasets import load_digits

from maze import evidence
from testing.training_jobs import BUCKET, unique
from tests.local_cloud.hosting import INPUT_FN, create_model, endpoint_processes, upload_model

DIGITS = load_digits()
def csv_lines(rows) -> str:
    return "".join(",".join(str(int(v)) for v in row) + "\n" for row in rows)


@pytest.fixture(scope="module")
def model(sm, s3) -> str:
    return create_model(sm, s3, upload_model(s3), INPUT_FN)


def transform(sm, model: str, prefix: str, wait: bool = True, **options) -> dict:
    name = unique("transform")
    processing = options.pop("DataProcessing", None)
    request = {
        "TransformJobName": name,
        "ModelName": model,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/{prefix}"}},
            "ContentType": options.pop("ContentType", "text/csv"),
            "SplitType": options.pop("SplitType", "Line"),
        },
        "TransformOutput": {
            "S3OutputPath": f"s3://{BUCKET}/out/{name}",
            "Accept": options.pop("Accept", "text/csv"),
            "AssembleWith": options.pop("AssembleWith", "Line"),
        },
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": options.pop("InstanceCount", 2)},
        **options,
    }
    if processing:
        request["DataProcessing"] = processing
    sm.create_transform_job(**request)
    waiter = sm.get_waiter("transform_job_completed_or_stopped")
    if wait:
        with contextlib.suppress(WaiterError):  # it raises on Failed; the description tells why
            waiter.wait(TransformJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    return sm.describe_transform_job(TransformJobName=name)


GROUP = "/aws/sagemaker/TransformJobs"
# 2026-11-27T13:22:11.123:[sagemaker logs]: <message>
DATA_LOG_LINE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}:\[sagemaker logs\]: (.*)$")


def requests_per_instance(logs, job: dict) -> list[int]:
    """Requests each instance answered, from its access lines, fewest first."""
    return sorted(evidence.transform_invocations(logs, job["TransformJobName"]).values())


def data_log(logs, stream: str) -> list[str]:
    """The platform's messages in an instance's data-log stream, each checked for AWS's line shape."""
    lines = evidence.stream_messages(logs, GROUP, f"{stream}/data-log")
    assert all(DATA_LOG_LINE.match(line) for line in lines), lines
    return [DATA_LOG_LINE.match(line)[1] for line in lines]


def output(s3, job: dict, name: str) -> list[str]:
    key = f"out/{job['TransformJobName']}/{name}.out"
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode().splitlines()


def test_one_object_is_never_split_across_instances(sm, s3, logs, model) -> None:
    prefix = unique("one")
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/all.csv", Body=csv_lines(DIGITS.data[:100]))
    job = transform(sm, model, prefix, BatchStrategy="MultiRecord")
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert requests_per_instance(logs, job) == [0, 1], "one instance worked, the other idled"
    assert [int(v) for v in output(s3, job, "all.csv")] == list(DIGITS.target[:100])


def test_several_objects_use_both_instances_and_keep_order(sm, s3, logs, model) -> None:
    prefix = unique("many")
    for part in range(6):
        rows = DIGITS.data[part * 30 : (part + 1) * 30]
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}/sub/part-{part}.csv", Body=csv_lines(rows))
    job = transform(sm, model, prefix, BatchStrategy="MultiRecord")
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert requests_per_instance(logs, job) == [3, 3], "three objects each, one request per object"
    for part in range(6):
        predicted = [int(v) for v in output(s3, job, f"sub/part-{part}.csv")]
        assert predicted == list(DIGITS.target[part * 30 : (part + 1) * 30]), "one line per record, in order"


@pytest.mark.parametrize(
    ("strategy", "requests", "logged"),
    [("SingleRecord", 40, "SINGLE_RECORD"), (None, 1, "MULTI_RECORD")],  # explicit MultiRecord: the tests above
)
def test_batch_strategy_sets_the_records_per_request(sm, s3, logs, model, strategy, requests, logged) -> None:
    """Left out, it is MultiRecord, as AWS's data log shows it, and DescribeTransformJob shows none (AWS's too)."""
    prefix = unique((strategy or "default").lower())
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/x.csv", Body=csv_lines(DIGITS.data[:40]))
    job = transform(sm, model, prefix, InstanceCount=1, **({"BatchStrategy": strategy} if strategy else {}))
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert requests_per_instance(logs, job) == [requests]
    assert job.get("BatchStrategy") == strategy
    [stream] = evidence.transform_invocations(logs, job["TransformJobName"])
    assert data_log(logs, stream) == [f"MaxConcurrentTransforms=1, MaxPayloadInMB=6, BatchStrategy={logged}"]


def test_split_type_none_sends_the_object_whole(sm, s3, logs, model) -> None:
    prefix = unique("whole")
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/x.csv", Body=csv_lines(DIGITS.data[:25]))
    job = transform(sm, model, prefix, SplitType="None", AssembleWith="None", InstanceCount=1)
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert requests_per_instance(logs, job) == [1]
    assert [int(v) for v in output(s3, job, "x.csv")] == list(DIGITS.target[:25])


def test_streams_are_named_as_aws_names_them_with_platform_lines_apart(sm, s3, logs, model) -> None:
    prefix = unique("streams")
    for part in range(2):
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}/part-{part}.csv", Body=csv_lines(DIGITS.data[:12]))
    job = transform(sm, model, prefix, BatchStrategy="SingleRecord", MaxConcurrentTransforms=2)
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    name = job["TransformJobName"]
    pages = logs.get_paginator("describe_log_streams").paginate(logGroupName=GROUP, logStreamNamePrefix=f"{name}/")
    streams = sorted(s["logStreamName"] for page in pages for s in page["logStreams"])
    instances = [s for s in streams if not s.endswith("/data-log")]
    assert len(instances) == 2
    assert all(re.fullmatch(rf"{name}/i-[0-9a-f]{{17}}-\d{{10}}", stream) for stream in instances), streams
    assert streams == sorted([*instances, *(f"{stream}/data-log" for stream in instances)])
    for stream in instances:
        assert data_log(logs, stream) == ["MaxConcurrentTransforms=2, MaxPayloadInMB=6, BatchStrategy=SINGLE_RECORD"]
        container = evidence.stream_messages(logs, GROUP, stream)
        assert not any("[sagemaker logs]" in line or "Processed" in line for line in container), "no platform lines"
    assert requests_per_instance(logs, job) == [12, 12], "one access line per record sent"


def test_csv_filters_and_join(sm, s3, model) -> None:
    prefix = unique("csvjoin")
    rows = [[1000 + i, *DIGITS.data[i], DIGITS.target[i]] for i in range(20)]
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/x.csv", Body=csv_lines(rows))
    processing = {"InputFilter": "$[1:64]", "JoinSource": "Input", "OutputFilter": "$[0,-2,-1]"}
    job = transform(sm, model, prefix, BatchStrategy="MultiRecord", DataProcessing=processing)
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    lines = [line.split(",") for line in output(s3, job, "x.csv")]
    assert [int(line[0]) for line in lines] == [1000 + i for i in range(20)]
    assert all(line[1] == line[2] for line in lines), "label (input) and prediction (output) side by side"


def test_json_lines_filters_and_join(sm, s3, model) -> None:
    prefix = unique("jsonjoin")
    records = [{"id": i, "features": DIGITS.data[i].tolist()} for i in range(10)]
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/x.jsonl", Body="\n".join(json.dumps(r) for r in records))
    processing = {"InputFilter": "$.features", "JoinSource": "Input", "OutputFilter": "$['id','SageMakerOutput']"}
    job = transform(
        sm, model, prefix, ContentType="application/jsonlines", Accept="application/json", BatchStrategy="MultiRecord",
        DataProcessing=processing,
    )  # fmt: skip
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    joined = [json.loads(line) for line in output(s3, job, "x.jsonl")]
    assert joined == [[i, int(DIGITS.target[i])] for i in range(10)]


def test_a_record_the_model_rejects_fails_the_job_naming_it(sm, s3, logs, model) -> None:
    prefix = unique("bad")
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/good.csv", Body=csv_lines(DIGITS.data[:5]))
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/zbad.csv", Body=csv_lines(DIGITS.data[:3]) + "1,2,three\n")
    job = transform(sm, model, prefix, BatchStrategy="SingleRecord", InstanceCount=1)
    assert job["TransformJobStatus"] == "Failed"
    assert f"s3://{BUCKET}/{prefix}/zbad.csv" in job["FailureReason"]
    assert "1,2,three" in job["FailureReason"]
    [stream] = evidence.transform_invocations(logs, job["TransformJobName"])
    assert data_log(logs, stream)[:4] == [
        "MaxConcurrentTransforms=1, MaxPayloadInMB=6, BatchStrategy=SINGLE_RECORD",
        f"{BUCKET}/{prefix}/zbad.csv: Bad HTTP status received from algorithm: 500",
        f"{BUCKET}/{prefix}/zbad.csv: ",
        f"{BUCKET}/{prefix}/zbad.csv: Message:",
    ]
    assert evidence.transform_invocations(logs, job["TransformJobName"]) == {stream: 5 + 3}, "the 500 is not counted"
    with pytest.raises(ClientError):
        output(s3, job, "zbad.csv")  # no partial output that looks complete


def test_a_record_over_max_payload_fails_clearly(sm, s3, model) -> None:
    prefix = unique("big")
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/x.csv", Body="1," * (600 * 1024) + "1\n")
    job = transform(sm, model, prefix, BatchStrategy="MultiRecord", MaxPayloadInMB=1, InstanceCount=1)
    assert job["TransformJobStatus"] == "Failed"
    assert "record 1 of" in job["FailureReason"] and "larger than MaxPayloadInMB" in job["FailureReason"]


def test_payload_times_concurrency_is_validated(sm, model) -> None:
    with pytest.raises(ClientError) as error:
        transform(sm, model, "anything", MaxPayloadInMB=50, MaxConcurrentTransforms=4, wait=False)
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert "must not exceed 100 MB" in error.value.response["Error"]["Message"]


def test_stop_transform_job_stops_its_instances(sm, s3, cloud, model) -> None:
    prefix = unique("stop")
    for part in range(40):
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}/part-{part:02d}.csv", Body=csv_lines(DIGITS.data[:200]))
    job = transform(sm, model, prefix, BatchStrategy="SingleRecord", InstanceCount=1, wait=False)
    name = job["TransformJobName"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        running = endpoint_processes(cloud, name)
        status = sm.describe_transform_job(TransformJobName=name)["TransformJobStatus"]
        if running or status != "InProgress":
            break
        time.sleep(0.1)
    # Listed before the status was read: these processes ran while the job was InProgress.
    assert (status, bool(running)) == ("InProgress", True), "the instance's processes run while the job does"
    sm.stop_transform_job(TransformJobName=name)
    with contextlib.suppress(WaiterError):
        sm.get_waiter("transform_job_completed_or_stopped").wait(
            TransformJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
    assert sm.describe_transform_job(TransformJobName=name)["TransformJobStatus"] == "Stopped"
    assert endpoint_processes(cloud, name) == []
