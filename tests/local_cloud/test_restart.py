"""What a training job wrote to CloudWatch, and what a client wrote to S3, read the same after the cloud restarts.

After ``down`` every acknowledged write is there; after ``kill -9`` too (the S3 store syncs before its 200,
the CloudWatch journal commits before moto's answer leaves).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local_sagemaker.kernel import launcher
from testing.training_jobs import BUCKET, log_lines, submit, wait
from tests.local_cloud.processes import cloud_of_its_own

SCRIPT = 'print("epoch 1 loss=0.5")\nprint("epoch 2 loss=0.25")\n'
METRICS = [{"Name": "loss", "Regex": "loss=([0-9.]+)"}]


def evidence(info: launcher.CloudInfo, job: str) -> dict[str, Any]:
    """What a participant reads about a job and a few objects: description, log, metric, S3 heads and bodies."""
    sm, s3, cloudwatch = info.client("sagemaker"), info.client("s3"), info.client("cloudwatch")
    logs = info.client("logs")
    stream = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=job)
    name = stream["logStreams"][0]["logStreamName"]
    events = logs.get_log_events(logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=name, startFromHead=True)
    points = cloudwatch.get_metric_statistics(
        Namespace="/aws/sagemaker/TrainingJobs", MetricName="loss",
        Dimensions=[{"Name": "TrainingJobName", "Value": job}],
        StartTime=datetime.now(UTC) - timedelta(hours=1), EndTime=datetime.now(UTC) + timedelta(hours=1),
        Period=60, Statistics=["SampleCount", "Minimum", "Maximum"],
    )["Datapoints"]  # fmt: skip
    objects = {}
    for key in ("small.json", "big.bin"):
        head = s3.head_object(Bucket=BUCKET, Key=key)
        objects[key] = {
            **{k: head[k] for k in ("ETag", "ContentType", "Metadata", "LastModified", "ContentLength")},
            "body": s3.get_object(Bucket=BUCKET, Key=key)["Body"].read(),
        }
    description = sm.describe_training_job(TrainingJobName=job)
    description.pop("ResponseMetadata")
    return {"job": description, "log": events["events"], "metric": points, "objects": objects}


@pytest.mark.parametrize("stop", ["down", "kill -9"])
def test_logs_metrics_jobs_and_objects_read_the_same_after_a_restart(tmp_path, stop) -> None:
    info, sm, s3 = cloud_of_its_own(tmp_path)
    state = info.state_dir
    try:
        s3.put_object(
            Bucket=BUCKET, Key="small.json", Body=b'{"a": 1}', ContentType="application/json",
            Metadata={"team": "solo"},
        )  # fmt: skip
        big = tmp_path / "big.bin"
        big.write_bytes(os.urandom(12 * 1024 * 1024))
        s3.upload_file(str(big), BUCKET, "big.bin")  # multipart: its ETag ends in -2
        job = submit(sm, s3, SCRIPT, metric_definitions=METRICS)
        assert wait(sm, job)["TrainingJobStatus"] == "Completed"
        assert "epoch 2 loss=0.25" in log_lines(info.client("logs"), job)
        before = evidence(info, job)
        assert before["objects"]["big.bin"]["ETag"].endswith('-2"')
        assert before["metric"][0]["SampleCount"] == 2.0
        if stop == "down":
            assert launcher.stop(state) is not None
        else:
            os.kill(info.pid, signal.SIGKILL)
        info, started = launcher.find_or_start(state, idle_seconds=None)
        assert started
        assert evidence(info, job) == before
    finally:
        launcher.stop(state)


UPLOADER = """
import hashlib, os, sys
from local_sagemaker.common import state_files
from local_sagemaker.kernel import launcher
s3 = launcher.find(state_files.state_dir()).client("s3")
for i in range(100000):
    body = os.urandom(1024 * (1 + i % 300))
    s3.put_object(Bucket=sys.argv[1], Key=f"loop/{i}", Body=body)
    print(f"loop/{i} {hashlib.sha256(body).hexdigest()}", flush=True)
"""


def test_every_acknowledged_upload_survives_a_kill_in_the_middle_of_uploads(tmp_path) -> None:
    info, _, _ = cloud_of_its_own(tmp_path)
    state = info.state_dir
    env = {**os.environ, "MAZE_STATE_DIR": str(state)}
    uploader = subprocess.Popen(
        [sys.executable, "-c", UPLOADER, BUCKET], env=env, stdout=subprocess.PIPE, text=True, stderr=subprocess.DEVNULL
    )
    try:
        acknowledged = [uploader.stdout.readline().split() for _ in range(150)]
        os.kill(info.pid, signal.SIGKILL)  # while the uploader keeps putting
        acknowledged += [line.split() for line in uploader.stdout.read().splitlines()]
    finally:
        uploader.kill()
        uploader.wait()
    info, started = launcher.find_or_start(state, idle_seconds=None)
    try:
        assert started
        s3 = info.client("s3")
        for key, digest in acknowledged:
            assert hashlib.sha256(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()).hexdigest() == digest, key
    finally:
        launcher.stop(state)
