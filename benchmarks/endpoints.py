"""Benchmark: what the local cloud's endpoints add to a prediction. Prints figures.

    .venv/bin/python -m benchmarks.endpoints [--requests 200] [--processes 1000] [--deploys 5]

(a) InvokeEndpoint latency for 1 row and for the 1797 digits (NPY, as the SDK sends), against
    model.predict in this process on the same data: the overhead at p50 and p99.
(b) The brief's load test against a real-time endpoint (one forked process per request, each
    predicting the 1797 digits): total time and predictions per second, against the raw
    model.predict throughput of two processes, one per core.
(c) CreateEndpoint to InService.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier

from benchmarks.local_model import register_model
from local_sagemaker.kernel import launcher

X, Y = load_digits(return_X_y=True)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def deploy(sm, config: str, name: str) -> float:
    started = time.perf_counter()
    sm.create_endpoint(EndpointName=name, EndpointConfigName=config)
    while (status := sm.describe_endpoint(EndpointName=name)["EndpointStatus"]) == "Creating":
        time.sleep(0.01)
    assert status == "InService", status
    return time.perf_counter() - started


def raw_throughput(model: RandomForestClassifier, seconds: float = 5.0) -> float:
    """Predictions per second of model.predict on the digits, one process per core."""

    def work(queue: multiprocessing.Queue) -> None:
        done, end = 0, time.perf_counter() + seconds
        while time.perf_counter() < end:
            model.predict(X)
            done += len(X)
        queue.put(done / seconds)

    queue: multiprocessing.Queue = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=work, args=(queue,)) for _ in range(os.cpu_count() or 1)]
    for worker in workers:
        worker.start()
    total = sum(queue.get() for _ in workers)
    for worker in workers:
        worker.join()
    return total


def load_test(cloud: launcher.CloudInfo, endpoint: str, requests: int, clients: int | None) -> tuple[float, int]:
    """``requests`` predictions of the digits: a forked process per request (the brief's test) when
    ``clients`` is None, else that many long-lived client processes. Returns seconds and answers."""
    body = npy(X)
    results: multiprocessing.Queue = multiprocessing.Queue()
    runtime = cloud.client("sagemaker-runtime")  # unused before the fork: no connection to share

    def send(count: int) -> None:
        for _ in range(count):
            answer = runtime.invoke_endpoint(
                EndpointName=endpoint, Body=body, ContentType="application/x-npy", Accept="application/x-npy"
            )
            results.put(len(np.load(io.BytesIO(answer["Body"].read()))))

    shares = [1] * requests if clients is None else [requests // clients] * clients
    started = time.perf_counter()
    children = []
    for share in shares:
        child = multiprocessing.Process(target=send, args=(share,))
        child.start()
        children.append(child)
    answered = sum(results.get(timeout=600) == len(X) for _ in range(sum(shares)))
    for child in children:
        child.join()
    return time.perf_counter() - started, answered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--processes", type=int, default=1000)
    parser.add_argument("--deploys", type=int, default=5)
    args = parser.parse_args()
    multiprocessing.set_start_method("fork")
    # One thread per predict: joblib's thread start-up (about 20 ms with n_jobs=-1) would hide the runtime's cost.
    model = RandomForestClassifier(n_estimators=100, max_depth=10, n_jobs=1, random_state=0).fit(X, Y)
    print(f"machine: {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as folder:
        cloud, _ = launcher.find_or_start(Path(folder), idle_seconds=None)
        try:
            sm, runtime = cloud.client("sagemaker"), cloud.client("sagemaker-runtime")
            register_model(cloud, model)
            variant = {"VariantName": "AllTraffic", "ModelName": "bench", "InitialInstanceCount": 1,
                       "InstanceType": "ml.m5.large"}  # fmt: skip
            sm.create_endpoint_config(EndpointConfigName="bench", ProductionVariants=[variant])
            deploys = [deploy(sm, "bench", f"bench-{i}") for i in range(args.deploys)]
            for i in range(1, args.deploys):
                sm.delete_endpoint(EndpointName=f"bench-{i}")
            print(f"(c) CreateEndpoint -> InService       median {statistics.median(deploys):.2f} s   "
                  f"min {min(deploys):.2f}   max {max(deploys):.2f}   (n={len(deploys)})")  # fmt: skip

            for label, rows in (("1 row", X[:1]), (f"{len(X)} rows", X)):
                body = npy(rows)
                for _ in range(10):  # warm-up: both workers load the model
                    runtime.invoke_endpoint(EndpointName="bench-0", Body=body, ContentType="application/x-npy")
                invoked, local = [], []
                # Interleaved, so both see the same machine.
                for _ in range(args.requests):
                    started = time.perf_counter()
                    runtime.invoke_endpoint(EndpointName="bench-0", Body=body, ContentType="application/x-npy")
                    invoked.append((time.perf_counter() - started) * 1000)
                    started = time.perf_counter()
                    model.predict(rows)
                    local.append((time.perf_counter() - started) * 1000)
                p50, p99 = percentile(invoked, 50), percentile(invoked, 99)
                l50, l99 = percentile(local, 50), percentile(local, 99)
                print(
                    f"(a) {label:>10}: InvokeEndpoint p50 {p50:6.2f} ms  p99 {p99:6.2f} ms | model.predict "
                    f"p50 {l50:6.2f} ms  p99 {l99:6.2f} ms | overhead p50 {p50 - l50:6.2f} ms  p99 {p99 - l99:6.2f} ms"
                )

            baseline = raw_throughput(model)
            print(f"(b) raw model.predict on {os.cpu_count()} processes: {baseline:,.0f} predictions/s")
            for label, clients in ((f"{args.processes} forked processes", None), ("4 client processes", 4)):
                seconds, answered = load_test(cloud, "bench-0", args.processes, clients)
                served = answered * len(X) / seconds
                print(f"(b) {args.processes} requests from {label}: {seconds:.1f} s, {answered} answered, "
                      f"{served:,.0f} predictions/s = {served / baseline:.0%} of raw")  # fmt: skip
        finally:
            launcher.stop(Path(folder))


if __name__ == "__main__":
    main()
