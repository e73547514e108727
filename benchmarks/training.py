"""Benchmark: what the local cloud adds to a training job, and how fast connect() is. Prints figures.

    .venv/bin/python -m benchmarks.training [--jobs 5] [--connects 5]

- connect() cold start: a new Python process importing local_sagemaker and calling connect()
  with no cloud running (so it starts one), and warm (the cloud already runs).
- The digits job end to end through boto3, split into the script's own run time (its first
  to its last line, timed by the script itself) and the runtime's overhead: CreateTrainingJob
  to the script's first line, and the script's last line to the job's TrainingEndTime.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from local_sagemaker.kernel import launcher

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-maze"
SCRIPT = b"""
import time
print(f"BENCH start {time.time()}", flush=True)
import os, joblib
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
x, y = load_digits(return_X_y=True)
model = RandomForestClassifier(n_estimators=100, max_depth=10, n_jobs=-1, random_state=0).fit(x, y)
joblib.dump(model, os.path.join(os.environ["SM_MODEL_DIR"], "model.joblib"))
print(f"BENCH end {time.time()}", flush=True)
"""
CONNECT = (
    "import time; t = time.perf_counter(); import local_sagemaker; local_sagemaker.connect(); "
    "print(time.perf_counter() - t)"
)


def figures(name: str, values: list[float], unit: str = "s") -> str:
    return (
        f"{name:<44} median {statistics.median(values):7.3f} {unit}   "
        f"min {min(values):7.3f}   max {max(values):7.3f}   (n={len(values)})"
    )


def time_connect(state: Path) -> float:
    env = {**os.environ, "MAZE_STATE_DIR": str(state), "MAZE_TARGET": "local"}
    done = subprocess.run([sys.executable, "-c", CONNECT], env=env, capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def bench_connect(runs: int) -> list[str]:
    cold, warm = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as folder:
            state = Path(folder)
            cold.append(time_connect(state))
            warm.append(time_connect(state))
            launcher.stop(state)
    return [figures("connect() cold (starts the local cloud)", cold), figures("connect() warm (cloud running)", warm)]


def bench_jobs(runs: int) -> list[str]:
    with tempfile.TemporaryDirectory() as folder:
        state = Path(folder)
        cloud, _ = launcher.find_or_start(state, idle_seconds=None)
        try:
            s3, sm, logs = cloud.client("s3"), cloud.client("sagemaker"), cloud.client("logs")
            s3.create_bucket(Bucket="bench")
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
                info = tarfile.TarInfo("train.py")
                info.size = len(SCRIPT)
                tar.addfile(info, io.BytesIO(SCRIPT))
            s3.put_object(Bucket="bench", Key="sourcedir.tar.gz", Body=buffer.getvalue())
            script, before, after, total = [], [], [], []
            for run in range(runs + 1):  # the first run warms the file cache and is not counted
                name = f"bench-{run}-{int(time.time())}"
                submitted = time.time()
                sm.create_training_job(
                    TrainingJobName=name,
                    AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
                    RoleArn=ROLE,
                    HyperParameters={
                        "sagemaker_program": '"train.py"',
                        "sagemaker_submit_directory": '"s3://bench/sourcedir.tar.gz"',
                    },
                    OutputDataConfig={"S3OutputPath": "s3://bench/output"},
                    ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
                    StoppingCondition={"MaxRuntimeInSeconds": 600},
                )
                while (job := sm.describe_training_job(TrainingJobName=name))["TrainingJobStatus"] == "InProgress":
                    time.sleep(0.01)
                assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
                stream = logs.describe_log_streams(
                    logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{name}/"
                )["logStreams"][0]["logStreamName"]
                events = logs.get_log_events(
                    logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream, startFromHead=True
                )["events"]
                marks = {
                    e["message"].split()[1]: float(e["message"].split()[2]) for e in events if "BENCH" in e["message"]
                }
                if run == 0:
                    continue
                script.append(marks["end"] - marks["start"])
                before.append(marks["start"] - submitted)
                after.append(job["TrainingEndTime"].timestamp() - marks["end"])
                total.append(job["TrainingEndTime"].timestamp() - submitted)
        finally:
            launcher.stop(state)
    overhead = [b + a for b, a in zip(before, after, strict=True)]
    return [
        figures("job: CreateTrainingJob -> TrainingEndTime", total),
        figures("  the script's own run time", script),
        figures("  overhead before (submit -> script start)", before),
        figures("  overhead after (script end -> Completed)", after),
        figures("  overhead per job (before + after)", overhead),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5)
    parser.add_argument("--connects", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    for line in bench_connect(args.connects) + bench_jobs(args.jobs):
        print(line)


if __name__ == "__main__":
    main()
