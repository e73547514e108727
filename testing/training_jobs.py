"""Submit training jobs to the local cloud with plain boto3, the way the SDK's SKLearn estimator does."""

from __future__ import annotations

import io
import json
import tarfile
import time
import uuid
from typing import Any

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-maze"
BUCKET = "maze-tests"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def upload_source(s3: Any, files: dict[str, str], key: str) -> str:
    """A sourcedir.tar.gz with ``files`` (name -> text), as ``source_dir=`` produces."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    s3.put_object(Bucket=BUCKET, Key=key, Body=buffer.getvalue())
    return f"s3://{BUCKET}/{key}"


def channel(name: str, uri: str, distribution: str = "FullyReplicated") -> dict[str, Any]:
    return {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": distribution}
        },
    }


def submit(
    sm: Any,
    s3: Any,
    script: str,
    *,
    program: str = "train.py",
    hyperparameters: dict[str, Any] | None = None,
    metric_definitions: list[dict[str, str]] | None = None,
    channels: list[dict[str, Any]] | None = None,
    max_runtime: int = 600,
    name: str | None = None,
    image: str = IMAGE,
) -> str:
    """Create a job running ``script`` (saved as train.py); returns its name."""
    name = name or unique("job")
    source = upload_source(s3, {"train.py": script}, f"{name}/source/sourcedir.tar.gz")
    sdk_hyperparameters = {
        "sagemaker_program": program,
        "sagemaker_submit_directory": source,
        "sagemaker_region": "us-east-1",
        "sagemaker_container_log_level": 20,
        **(hyperparameters or {}),
    }
    optional = {"InputDataConfig": channels} if channels else {}
    sm.create_training_job(
        **optional,
        TrainingJobName=name,
        AlgorithmSpecification={
            "TrainingImage": image,
            "TrainingInputMode": "File",
            "MetricDefinitions": metric_definitions or [],
        },
        RoleArn=ROLE,
        HyperParameters={key: json.dumps(value) for key, value in sdk_hyperparameters.items()},
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        StoppingCondition={"MaxRuntimeInSeconds": max_runtime},
    )
    return name


TERMINAL = ("Completed", "Failed", "Stopped")


def wait(sm: Any, name: str, timeout: float = 180, until: tuple[str, ...] = TERMINAL) -> dict:
    """The job's description once its status, or a secondary status it has reached, is one of ``until``.

    A job is ``InProgress`` from the moment CreateTrainingJob returns (on AWS too): to wait until its
    script runs, wait for the secondary status ``Training``. A job that ends without reaching ``until``
    fails the test at once, naming what it reached instead.
    """
    deadline = time.monotonic() + timeout
    while True:
        description = sm.describe_training_job(TrainingJobName=name)
        status = description["TrainingJobStatus"]
        reached = [status, *(t["Status"] for t in description.get("SecondaryStatusTransitions", []))]
        if set(reached) & set(until):
            return description
        if status in TERMINAL:
            raise AssertionError(f"{name} ended {reached} without reaching {until}: {description.get('FailureReason')}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} still {reached} after {timeout} s, waiting for {until}")
        time.sleep(0.1)


def log_lines(logs: Any, name: str) -> list[str]:
    streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{name}/")
    stream = streams["logStreams"][0]["logStreamName"]
    events = logs.get_log_events(logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream, startFromHead=True)
    return [event["message"] for event in events["events"]]
