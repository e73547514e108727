"""Benchmark: batch transform rows per second on 1 and on 2 instances, against raw model.predict. Prints figures.

    .venv/bin/python benchmarks/batch.py [--rows 50000] [--objects 10]

The same input (digits rows repeated to --rows, CSV, in --objects S3 objects) through a
MultiRecord, Line-split job; the time is the job's own TransformStartTime to TransformEndTime.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from local_model import register_model
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier

from local_sagemaker import daemon


def raw_rate(model: RandomForestClassifier, rows: np.ndarray) -> float:
    """Rows per second of model.predict over the whole input in this process."""
    started = time.perf_counter()
    for chunk in np.array_split(rows, 10):
        model.predict(chunk)
    return len(rows) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--objects", type=int, default=10)
    args = parser.parse_args()
    x, y = load_digits(return_X_y=True)
    model = RandomForestClassifier(n_estimators=100, max_depth=10, n_jobs=-1, random_state=0).fit(x, y)
    rows = np.resize(x, (args.rows, x.shape[1])).astype(int)
    print(f"machine: {os.cpu_count()} cores; {args.rows} rows in {args.objects} objects")
    with tempfile.TemporaryDirectory() as folder:
        cloud, _ = daemon.find_or_start(Path(folder), idle_seconds=None)
        try:
            sm, s3 = cloud.client("sagemaker"), cloud.client("s3")
            register_model(cloud, model)
            for index, part in enumerate(np.array_split(rows, args.objects)):
                body = "".join(",".join(map(str, row)) + "\n" for row in part)
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
                seconds = (job["TransformEndTime"] - job["TransformStartTime"]).total_seconds()
                rates[instances] = args.rows / seconds
                print(f"{instances} instance(s): {seconds:6.1f} s, {rates[instances]:9,.0f} rows/s")
            raw_both = raw_rate(model, rows)
            print(f"raw model.predict (n_jobs=-1, both cores): {raw_both:9,.0f} rows/s")
            print(f"2 instances / 1 instance: {rates[2] / rates[1]:.2f}x; 2 instances / raw: {rates[2] / raw_both:.0%}")
        finally:
            daemon.stop(Path(folder))


if __name__ == "__main__":
    main()
