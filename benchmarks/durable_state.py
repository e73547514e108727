"""Benchmark: the local cloud's start on an empty state and its restart on a full one, and S3 through its front.

    .venv/bin/python -m benchmarks.durable_state [--objects 1000] [--jobs 50] [--runs 3]

Prints medians. The state: ``--objects`` 1 KB objects and ``--jobs`` completed training jobs (with their
logs and metrics), in a state directory of its own. Targets (issue 10): cold start under 2 s, restart
with that state under 3 s. S3 PUT/GET medians through the front (signature check, durable store)
complement ``benchmarks/s3_durability.py``, which compares moto alone with the store on one server.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm import tqdm

from benchmarks.s3_durability import timed
from local_sagemaker.cloud.state_report import wipe
from local_sagemaker.kernel import launcher
from testing.training_jobs import BUCKET, submit, wait

KB, MB = 1024, 1024 * 1024


def start_seconds(state: Path) -> float:
    started = time.perf_counter()
    launcher.find_or_start(state, idle_seconds=None)
    return time.perf_counter() - started


def measure(state: Path, args: argparse.Namespace) -> tuple[list[float], list[float], int, dict[str, float]]:
    """Cold starts, the state filled, S3 timed through the front, restarts; the cloud is left running."""
    cold = []
    for _ in range(args.runs):
        cold.append(start_seconds(state))
        launcher.stop(state)
        wipe(state)  # empty again: the next start is cold too
    info, _ = launcher.find_or_start(state, idle_seconds=None)
    s3, sm = info.client("s3"), info.client("sagemaker")
    s3.create_bucket(Bucket=BUCKET)
    with ThreadPoolExecutor(8) as pool:
        list(tqdm(pool.map(lambda i: s3.put_object(Bucket=BUCKET, Key=f"o/{i}", Body=b"x" * KB),
                           range(args.objects)), total=args.objects, desc="objects"))  # fmt: skip
        jobs = list(pool.map(lambda i: submit(sm, s3, f"print('loss={i}')"), range(args.jobs)))
        list(tqdm(pool.map(lambda job: wait(sm, job, timeout=900), jobs), total=args.jobs, desc="jobs"))
    small, large = b"x" * KB, b"x" * (10 * MB)
    figures = {
        "PUT 1 KB": timed(lambda: s3.put_object(Bucket=BUCKET, Key="b/small", Body=small), 200),
        "GET 1 KB": timed(lambda: s3.get_object(Bucket=BUCKET, Key="b/small")["Body"].read(), 200),
        "PUT 10 MB": timed(lambda: s3.put_object(Bucket=BUCKET, Key="b/large", Body=large), 5),
        "GET 10 MB": timed(lambda: s3.get_object(Bucket=BUCKET, Key="b/large")["Body"].read(), 5),
    }
    restarts = []
    for _ in range(args.runs):
        launcher.stop(state)
        restarts.append(start_seconds(state))
    pages = launcher.find(state).client("s3").get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    count = sum(page.get("KeyCount", 0) for page in pages)
    return cold, restarts, count, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="maze-bench-state-") as folder:
        state = Path(folder)
        state.chmod(0o700)
        try:
            cold, restarts, count, figures = measure(state, args)
        finally:  # whatever failed, no cloud outlives the benchmark
            launcher.stop(state)
    runs = ", ".join(f"{s:.2f}" for s in cold)
    print(f"cold start, empty state: median {statistics.median(cold):.2f} s (runs {runs})")
    print(
        f"restart with {args.objects} objects and {args.jobs} jobs: median {statistics.median(restarts):.2f} s "
        f"(runs {', '.join(f'{s:.2f}' for s in restarts)}); {count} objects listed after the last"
    )
    for what, value in figures.items():
        print(f"S3 through the front, {what}: median {value:.1f} ms")


if __name__ == "__main__":
    main()
