"""Benchmark: batch transform rows per second on 1 and on 2 instances, against raw model.predict. Prints figures.

    .venv/bin/python -m benchmarks.batch [--rows 50000] [--objects 10]

The same input (digits rows repeated to --rows, CSV, in --objects S3 objects) through a
MultiRecord, Line-split job; the time is measured from the container's access lines, which AWS
logs too: from the first instance's last health check (``GET /ping`` answered: instance up) to
the last answered ``POST /invocations``. The whole job, instance start-up and shutdown included,
is printed beside it.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier

from benchmarks.local_model import register_model
from local_sagemaker.container.serving_app import default_input_fn
from local_sagemaker.kernel import launcher
from maze import evidence

PING = re.compile(r'"GET /ping HTTP/1\.[01]" 200 ')


def events(logs: Any, stream: str) -> list[dict[str, Any]]:
    """Every event of a transform instance's stream, first to last, with its CloudWatch timestamp (ms)."""
    found: list[dict[str, Any]] = []
    token = None
    while True:
        kwargs = {"nextToken": token} if token else {}
        page = logs.get_log_events(logGroupName=evidence.TRANSFORM_GROUP, logStreamName=stream, startFromHead=True,
                                   **kwargs)  # fmt: skip
        found += page["events"]
        if not page["events"] or page.get("nextForwardToken") == token:
            return found
        token = page["nextForwardToken"]


def processing_seconds(logs: Any, job: str) -> float:
    """From the first health check passed before work (instance up) to the last answered request: no start-up."""
    ready, answered = [], []
    for stream in evidence.container_streams(logs, evidence.TRANSFORM_GROUP, f"{job}/"):
        stamps = [(e["timestamp"], e["message"]) for e in events(logs, stream)]
        work = [stamp for stamp, message in stamps if evidence.answered_invocations([message])]
        if work:  # an idle instance has no part in the processing time
            ready += [max(stamp for stamp, message in stamps if PING.search(message) and stamp <= work[0])]
            answered += work
    return (max(answered) - min(ready)) / 1000


def raw_rate(model: RandomForestClassifier, rows: np.ndarray) -> float:
    """Rows per second of model.predict over the whole input in this process."""
    started = time.perf_counter()
    for chunk in np.array_split(rows, 10):
        model.predict(chunk)
    return len(rows) / (time.perf_counter() - started)


def container_rate(model: RandomForestClassifier, bodies: list[str]) -> float:
    """Rows per second of what each instance must do per object, the container's CSV decoding included,
    with the objects shared by two processes and no HTTP, S3 or batching in between."""

    def work(share: list[str], queue: multiprocessing.Queue) -> None:
        for body in share:
            model.predict(default_input_fn(body, "text/csv"))
        queue.put(None)

    queue: multiprocessing.Queue = multiprocessing.Queue()
    started = time.perf_counter()
    workers = [multiprocessing.Process(target=work, args=(bodies[i::2], queue)) for i in range(2)]
    for worker in workers:
        worker.start()
    for _ in workers:
        queue.get()
    for worker in workers:
        worker.join()
    return sum(body.count("\n") for body in bodies) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--objects", type=int, default=10)
    args = parser.parse_args()
    multiprocessing.set_start_method("fork")
    x, y = load_digits(return_X_y=True)
    model = RandomForestClassifier(n_estimators=100, max_depth=10, n_jobs=-1, random_state=0).fit(x, y)
    rows = np.resize(x, (args.rows, x.shape[1])).astype(int)
    print(f"machine: {os.cpu_count()} cores; {args.rows} rows in {args.objects} objects")
    with tempfile.TemporaryDirectory() as folder:
        cloud, _ = launcher.find_or_start(Path(folder), idle_seconds=None)
        try:
            sm, s3 = cloud.client("sagemaker"), cloud.client("s3")
            register_model(cloud, model)
            bodies = [
                "".join(",".join(map(str, row)) + "\n" for row in part) for part in np.array_split(rows, args.objects)
            ]
            for index, body in enumerate(bodies):
                s3.put_object(Bucket="bench", Key=f"input/part-{index:03d}.csv", Body=body.encode())
            rates = {}
            for instances in (1, 2):
                name = f"bench-{instances}"
                sm.create_transform_job(
                    TransformJobName=name,
                    ModelName="bench",
                    BatchStrategy="MultiRecord",
                    MaxPayloadInMB=6,
                    TransformInput={
                        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bench/input/"}},
                        "ContentType": "text/csv",
                        "SplitType": "Line",
                    },
                    TransformOutput={
                        "S3OutputPath": f"s3://bench/{name}",
                        "Accept": "text/csv",
                        "AssembleWith": "Line",
                    },
                    TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": instances},
                )
                while (job := sm.describe_transform_job(TransformJobName=name))["TransformJobStatus"] == "InProgress":
                    time.sleep(0.1)
                assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
                total = (job["TransformEndTime"] - job["TransformStartTime"]).total_seconds()
                processing = processing_seconds(cloud.client("logs"), name)
                rates[instances] = args.rows / processing
                print(
                    f"{instances} instance(s): job {total:5.1f} s (start-up and shutdown included), "
                    f"processing {processing:5.1f} s = {rates[instances]:9,.0f} rows/s"
                )
            raw_both = raw_rate(model, rows)
            container_both = container_rate(model, bodies)
            print(f"raw model.predict (n_jobs=-1, both cores): {raw_both:9,.0f} rows/s")
            print(
                f"the container's CSV decoding + model.predict in 2 processes, no server: {container_both:9,.0f} rows/s"
            )
            print(
                f"2 instances / 1 instance: {rates[2] / rates[1]:.2f}x; 2 instances / raw predict: "
                f"{rates[2] / raw_both:.0%}; 2 instances / decode + predict: {rates[2] / container_both:.0%}"
            )
        finally:
            launcher.stop(Path(folder))


if __name__ == "__main__":
    main()
