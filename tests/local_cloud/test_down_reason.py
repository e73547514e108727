"""``down`` stops what runs and each job's end says the local cloud stopped it (a user's stop says nothing more).

Training's answer carries it where AWS says how a job ended without failing: the last SecondaryStatusTransition's
StatusMessage (tests/local_cloud/test_durable_records.py). DescribeTransformJob has only FailureReason for it.
"""

from __future__ import annotations

import time
from pathlib import Path

from local_sagemaker.cloud.platform import shutdown_stops
from local_sagemaker.kernel import launcher
from testing.training_jobs import BUCKET, unique
from tests.local_cloud.hosting import create_model, upload_model
from tests.local_cloud.processes import cloud_of_its_own

SLOW_PREDICT = """
import os, time, joblib
def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
def predict_fn(data, model):
    open({marker!r}, "w").write("predicting")
    time.sleep(5)
    return model.predict(data)
"""
ROWS = "\n".join([",".join(["0"] * 64)] * 2)  # two digits (one CSV row decodes as 1-D, as in the container)


def wait_for(path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.2)


def test_a_transform_job_stopped_by_down_says_the_cloud_stopped(tmp_path) -> None:
    info, sm, s3 = cloud_of_its_own(tmp_path)
    state, marker = info.state_dir, tmp_path / "predicting"
    try:
        model = create_model(sm, s3, upload_model(s3), SLOW_PREDICT.format(marker=str(marker)))
        for index in range(4):
            s3.put_object(Bucket=BUCKET, Key=f"down/{index}.csv", Body=ROWS.encode())
        name = unique("transform")
        sm.create_transform_job(
            TransformJobName=name,
            ModelName=model,
            TransformInput={
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/down/"}},
                "ContentType": "text/csv",
            },
            TransformOutput={"S3OutputPath": f"s3://{BUCKET}/out/{name}"},
            TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        )
        wait_for(marker, 120)
        assert launcher.stop(state) is not None  # what `python -m local_sagemaker down` does
        info, started = launcher.find_or_start(state, idle_seconds=None)
        assert started
        job = info.client("sagemaker").describe_transform_job(TransformJobName=name)
        assert (job["TransformJobStatus"], job.get("FailureReason")) == ("Stopped", shutdown_stops.REASON)
    finally:
        launcher.stop(state)
