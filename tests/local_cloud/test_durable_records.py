"""The control plane's records outlive the local cloud's process: after ``down`` and after ``kill -9``.

S3 objects are the durable object store's business (tested on their own too): the endpoint test checks
the bucket came back whole, so the instances restart from it.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local_sagemaker.cloud.platform import shutdown_stops
from local_sagemaker.cloud.platform.clock import now
from local_sagemaker.cloud.platform.records import FILE_NAME, IncompatibleState, RecordStore
from local_sagemaker.common import state_files
from local_sagemaker.kernel import launcher
from testing.training_jobs import BUCKET, submit, unique, wait
from tests.local_cloud.hosting import DIGITS, create_config, create_model, csv_rows, deploy, upload_model, wait_endpoint
from tests.local_cloud.processes import cloud_of_its_own

METRIC_SCRIPT = """
import os
print("loss=0.25")
print("loss=0.125")
open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w").write("trained")
"""
SLEEP_SCRIPT = "import time\ntime.sleep(300)\n"
SLOW_MODEL_FN = """
import time
def model_fn(model_dir):
    time.sleep(600)
"""
INTERRUPTED = "InternalServerError: the local cloud stopped while"


def answer(description: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in description.items() if key != "ResponseMetadata"}


def restart(state, how: str) -> tuple[launcher.CloudInfo, Any, Any]:
    """Stop the cloud of ``state`` (``down`` or SIGKILL) and start it again: the new cloud issues a new key."""
    if how == "down":
        assert launcher.stop(state) is not None
    else:
        os.kill(launcher.find(state).pid, signal.SIGKILL)
    info, started = launcher.find_or_start(state, idle_seconds=None)
    assert started
    s3 = info.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    return info, info.client("sagemaker"), s3


# the store --------------------------------------------------------------------------------------


def test_records_read_back_as_written_in_the_order_first_written(tmp_path) -> None:
    store = RecordStore(tmp_path / FILE_NAME)
    stamp = now()
    store.put("Job", "b", {"at": stamp, "metrics": [{"Value": 0.1 + 0.2}]})
    store.put("Job", "a", {"at": stamp})
    store.put("Job", "b", {"at": stamp, "metrics": []})
    store.put("Model", "b", {"x": 1})
    store.delete("Model", "b")
    store.close()
    again = RecordStore(tmp_path / FILE_NAME)
    assert again.load("Job") == [{"at": stamp, "metrics": []}, {"at": stamp}]
    assert again.load("Model") == []
    assert again.load("Job")[1]["at"].tzinfo is not None


def test_a_state_of_another_schema_is_refused_with_how_to_reset(tmp_path) -> None:
    path = tmp_path / FILE_NAME
    RecordStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
    with pytest.raises(IncompatibleState, match="schema 99.*python -m local_sagemaker reset"):
        RecordStore(path)
    (tmp_path / "other").write_bytes(b"not a database" * 100)
    with pytest.raises(IncompatibleState, match="python -m local_sagemaker reset"):
        RecordStore(tmp_path / "other")


def test_a_cloud_refuses_to_start_on_records_it_cannot_read(tmp_path) -> None:
    state = state_files.private_dir(tmp_path / "state")
    RecordStore(state / FILE_NAME).close()
    with sqlite3.connect(state / FILE_NAME) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
    with pytest.raises(RuntimeError, match="python -m local_sagemaker reset"):
        launcher.find_or_start(state, idle_seconds=None)
    with sqlite3.connect(state / FILE_NAME) as db:
        assert db.execute("SELECT value FROM meta").fetchall() == [("99",)], "left as it was"


# jobs ------------------------------------------------------------------------------------------


def test_jobs_come_back_as_they_were_and_a_running_one_ends_as_its_cloud_did(tmp_path) -> None:
    """``down`` stops a running job (Stopped); ``kill -9`` loses it (Failed, saying so); finished ones stay put."""
    info, sm, s3 = cloud_of_its_own(tmp_path)
    state = info.state_dir
    try:
        done = submit(sm, s3, METRIC_SCRIPT, metric_definitions=[{"Name": "loss", "Regex": r"loss=([0-9.]+)"}])
        finished = answer(wait(sm, done))
        assert finished["TrainingJobStatus"] == "Completed"
        assert finished["FinalMetricDataList"][0]["Value"] == 0.125
        sm.add_tags(ResourceArn=finished["TrainingJobArn"], Tags=[{"Key": "maze-team", "Value": "durable"}])
        running = submit(sm, s3, SLEEP_SCRIPT)
        wait(sm, running, until=("Training",))

        info, sm, s3 = restart(state, "down")
        assert answer(sm.describe_training_job(TrainingJobName=done)) == finished
        assert sm.list_tags(ResourceArn=finished["TrainingJobArn"])["Tags"] == [
            {"Key": "maze-team", "Value": "durable"}
        ]
        stopped = sm.describe_training_job(TrainingJobName=running)
        assert (stopped["TrainingJobStatus"], stopped.get("FailureReason")) == ("Stopped", None)
        # No FailureReason on a Stopped job, as on AWS: its last transition's message says the cloud stopped it.
        assert stopped["SecondaryStatusTransitions"][-1]["StatusMessage"] == shutdown_stops.REASON

        lost = submit(sm, s3, SLEEP_SCRIPT)
        wait(sm, lost, until=("Training",))
        info, sm, s3 = restart(state, "kill")
        failed = sm.describe_training_job(TrainingJobName=lost)
        assert failed["TrainingJobStatus"] == "Failed"
        assert failed["FailureReason"].startswith(f"{INTERRUPTED} the job ran (restart at ")
        assert [t["Status"] for t in failed["SecondaryStatusTransitions"]][-2:] == ["Training", "Failed"]
        assert answer(sm.describe_training_job(TrainingJobName=done)) == finished
        names = {j["TrainingJobName"] for j in sm.list_training_jobs(MaxResults=100)["TrainingJobSummaries"]}
        assert {done, running, lost} <= names
    finally:
        launcher.stop(state)


# endpoints -------------------------------------------------------------------------------------


def bucket(s3: Any) -> dict[str, bytes]:
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    return {key: s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() for key in keys}


def answered(info: launcher.CloudInfo, endpoint: str, timeout: float = 180) -> bytes:
    """The endpoint's answer; while its instances restart it answers ServiceUnavailable, which is retried."""
    runtime = info.client("sagemaker-runtime", config=Config(retries={"total_max_attempts": 1}))
    deadline = time.monotonic() + timeout
    while True:
        try:
            reply = runtime.invoke_endpoint(EndpointName=endpoint, Body=csv_rows(DIGITS[:3]), ContentType="text/csv")
            return reply["Body"].read()
        except ClientError as error:
            if error.response["Error"]["Code"] != "ServiceUnavailable" or time.monotonic() > deadline:
                raise
        time.sleep(0.5)


def transform(sm: Any, model: str) -> str:
    """A transform job of ``model``: InProgress while its instance starts."""
    name = unique("transform")
    sm.create_transform_job(
        TransformJobName=name,
        ModelName=model,
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/models/"}},
            "ContentType": "application/octet-stream",
        },
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/out/{name}"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    return name


def test_endpoints_come_back_in_service_and_answer_after_the_cloud_was_killed(tmp_path) -> None:
    """InService and serverless endpoints serve again; an update rolls back; a creation and a transform job fail."""
    info, sm, s3 = cloud_of_its_own(tmp_path)
    state = info.state_dir
    try:
        model = create_model(sm, s3, upload_model(s3))
        config = create_config(sm, model)
        serving = deploy(sm, config)
        serverless = deploy(sm, create_config(sm, model, serverless={"MemorySizeInMB": 2048, "MaxConcurrency": 2}))
        assert wait_endpoint(sm, serving)["EndpointStatus"] == "InService"
        assert wait_endpoint(sm, serverless)["EndpointStatus"] == "InService"
        expected = answered(info, serving)
        slow_model = create_model(sm, s3, upload_model(s3), SLOW_MODEL_FN)
        slow = create_config(sm, slow_model)
        updating = deploy(sm, config)
        assert wait_endpoint(sm, updating)["EndpointStatus"] == "InService"
        sm.update_endpoint(EndpointName=updating, EndpointConfigName=slow)
        creating = deploy(sm, slow)
        transforming = transform(sm, slow_model)
        model_before = answer(sm.describe_model(ModelName=model))
        config_before = answer(sm.describe_endpoint_config(EndpointConfigName=config))
        objects = bucket(s3)

        info, sm, s3 = restart(state, "kill")
        assert bucket(s3) == objects, "the model archives and code are in the durable S3"
        assert answer(sm.describe_model(ModelName=model)) == model_before
        assert answer(sm.describe_endpoint_config(EndpointConfigName=config)) == config_before
        assert sm.describe_endpoint(EndpointName=serving)["EndpointStatus"] == "InService"
        assert answered(info, serving) == expected
        rolled_back = sm.describe_endpoint(EndpointName=updating)
        assert (rolled_back["EndpointStatus"], rolled_back["EndpointConfigName"]) == ("InService", config)
        assert INTERRUPTED in rolled_back["FailureReason"]
        assert answered(info, updating) == expected
        cold = sm.describe_endpoint(EndpointName=serverless)
        assert cold["EndpointStatus"] == "InService"
        assert answered(info, serverless) == expected
        failed = sm.describe_endpoint(EndpointName=creating)
        assert failed["EndpointStatus"] == "Failed"
        assert failed["FailureReason"].startswith(f"{INTERRUPTED} the endpoint was being created")
        lost = sm.describe_transform_job(TransformJobName=transforming)
        assert lost["TransformJobStatus"] == "Failed"
        assert lost["FailureReason"].startswith(f"{INTERRUPTED} the job ran (restart at ")
    finally:
        launcher.stop(state)
