"""No orphans: `down`, and the idle shutdown after the last kernel, stop every process the cloud started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil

from local_sagemaker.kernel import launcher
from testing.training_jobs import log_lines, wait


def processes_of(state: Path, kernel: subprocess.Popen) -> list[psutil.Process]:
    """The cloud and its job processes: they run with the state dir in their command line or environment."""
    found = []
    for process in psutil.process_iter(["cmdline", "environ"]):
        try:
            text = " ".join(process.info["cmdline"] or []) + str(process.info["environ"] or {})
        except psutil.Error:
            continue
        if str(state) in text and process.pid not in (os.getpid(), kernel.pid):
            found.append(process)
    return found


def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


KERNEL = """
import boto3, io, json, tarfile, time, local_sagemaker
local_sagemaker.connect()
s3, sm = boto3.client("s3"), boto3.client("sagemaker")
s3.create_bucket(Bucket="lifecycle")
script = b"import time\\nprint('working', flush=True)\\ntime.sleep({seconds})\\n"
buffer = io.BytesIO()
with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
    info = tarfile.TarInfo("train.py"); info.size = len(script); tar.addfile(info, io.BytesIO(script))
s3.put_object(Bucket="lifecycle", Key="src.tar.gz", Body=buffer.getvalue())
sm.create_training_job(
    TrainingJobName="lifecycle-job",
    AlgorithmSpecification={{"TrainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/"
                            "sagemaker-scikit-learn:1.4-2-cpu-py3", "TrainingInputMode": "File"}},
    RoleArn="arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-maze",
    HyperParameters={{"sagemaker_program": '"train.py"', "sagemaker_submit_directory": '"s3://lifecycle/src.tar.gz"'}},
    OutputDataConfig={{"S3OutputPath": "s3://lifecycle/out"}},
    ResourceConfig={{"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1}},
    StoppingCondition={{"MaxRuntimeInSeconds": 600}},
)
while sm.describe_training_job(TrainingJobName="lifecycle-job")["SecondaryStatus"] != "Training":
    time.sleep(0.1)
print("TRAINING", flush=True)
time.sleep(600)
"""


def start_kernel(state: Path, seconds: float, idle_seconds: float) -> subprocess.Popen:
    env = {**os.environ, "MAZE_STATE_DIR": str(state), "MAZE_IDLE_SECONDS": str(idle_seconds)}
    kernel = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(KERNEL.format(seconds=seconds))],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    for line in kernel.stdout:
        if line.startswith("TRAINING"):
            return kernel
    raise AssertionError("the kernel never saw its job training")


def test_down_stops_the_cloud_and_its_running_job(tmp_path: Path) -> None:
    kernel = start_kernel(tmp_path, seconds=300, idle_seconds=600)
    try:
        assert wait_until(lambda: len(processes_of(tmp_path, kernel)) >= 3, 30), "the cloud, the toolkit, the script"
        done = subprocess.run(
            [sys.executable, "-m", "local_sagemaker", "down"],
            env={**os.environ, "MAZE_STATE_DIR": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert done.stdout.startswith("stopped pid")
        assert wait_until(lambda: not processes_of(tmp_path, kernel), 30), processes_of(tmp_path, kernel)
        assert launcher.find(tmp_path) is None
    finally:
        kernel.kill()
        kernel.wait()


def test_a_killed_kernel_leaves_its_job_to_finish_then_nothing_runs(tmp_path: Path) -> None:
    # The idle period has to outlast reading the finished job below (a few requests, which took over 5 s on CI's
    # two busy cores: the cloud was gone before its log was read).
    kernel = start_kernel(tmp_path, seconds=8, idle_seconds=15)
    info = launcher.find(tmp_path)
    kernel.send_signal(signal.SIGKILL)
    kernel.wait()
    # Like the real service, the job outlives the kernel that submitted it: the cloud knows no kernel any more,
    # and the job still runs...
    assert info.call("health")["clients"] == []
    sm = info.client("sagemaker")  # a plain client: it does not register as a kernel that keeps the cloud up
    logs = info.client("logs")
    assert sm.describe_training_job(TrainingJobName="lifecycle-job")["TrainingJobStatus"] == "InProgress"
    # ...to its end, with its log.
    job = wait(sm, "lifecycle-job", timeout=60)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert "working" in log_lines(logs, "lifecycle-job")
    # Once it is done and no kernel is left, the cloud and everything it started stop.
    assert wait_until(lambda: not processes_of(tmp_path, kernel), 60), processes_of(tmp_path, kernel)
    assert launcher.find(tmp_path) is None
