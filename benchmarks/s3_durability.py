"""Benchmark: what the durable S3 store costs against moto alone. Prints figures.

    .venv/bin/python -m benchmarks.s3_durability [--small 200] [--large 5] [--restore 1000]

(a) PUT and GET medians through boto3 over loopback HTTP, 1 KB and 10 MB objects, against moto's S3
    alone and against ``DurableS3(moto, S3Store)`` (each PUT fsync'd before its 200), same server.
(b) Opening the store and ``restore()`` into an empty moto (what a cloud start adds): N 1 KB objects
    (kept in the index) and N/10 1 MB objects (data files).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from local_sagemaker.cloud.platform.durable_s3 import DurableS3, S3Store, moto_s3_backend

KB, MB = 1024, 1024 * 1024


def timed(action: Callable[[], Any], times: int) -> float:
    """Median wall time of ``action`` in milliseconds."""
    samples = []
    for _ in range(times):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def put_get(app: Any, small: int, large: int) -> dict[str, float]:
    """Median PUT and GET times of 1 KB and 10 MB objects through ``app`` served on loopback."""
    moto_s3_backend().reset()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{server.server_port}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(s3={"addressing_style": "path"}),
    )
    client.create_bucket(Bucket="bench")
    figures = {}
    for label, size, times in (("1 KB", KB, small), ("10 MB", 10 * MB, large)):
        body, keys, first = os.urandom(size), iter(f"{label}-{n}" for n in range(times)), f"{label}-0"
        figures[f"PUT {label}"] = timed(
            lambda body=body, keys=keys: client.put_object(Bucket="bench", Key=next(keys), Body=body), times
        )
        figures[f"GET {label}"] = timed(
            lambda first=first: client.get_object(Bucket="bench", Key=first)["Body"].read(), times
        )
    server.shutdown()
    return figures


def restore_time(objects: int, size: int, root: Path) -> float:
    """Seconds a new ``S3Store`` on ``root`` takes to open and restore ``objects`` objects of ``size`` bytes."""
    backend = moto_s3_backend()
    backend.reset()
    store = S3Store(root)
    backend.create_bucket("restore", "us-east-1")
    store.sync_bucket("restore")
    for n in range(objects):
        backend.put_object("restore", f"obj-{n:05d}", os.urandom(size))
        store.sync_key("restore", f"obj-{n:05d}")
    store.close()
    backend.reset()
    start = time.perf_counter()
    reopened = S3Store(root)
    restored = reopened.restore()
    elapsed = time.perf_counter() - start
    assert restored == objects == len(moto_s3_backend().get_bucket("restore").keys)
    reopened.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=200, help="1 KB PUTs and GETs")
    parser.add_argument("--large", type=int, default=5, help="10 MB PUTs and GETs")
    parser.add_argument("--restore", type=int, default=1000, help="objects to restore")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access line per request
    with tempfile.TemporaryDirectory() as scratch:
        moto = put_get(DomainDispatcherApplication(create_backend_app), args.small, args.large)
        store = S3Store(Path(scratch) / "bench")
        durable = put_get(DurableS3(DomainDispatcherApplication(create_backend_app), store), args.small, args.large)
        store.close()
        small_restore = restore_time(args.restore, KB, Path(scratch) / "small")
        large_restore = restore_time(args.restore // 10, MB, Path(scratch) / "large")
    print(f"{'median ms':<12}{'moto':>10}{'durable':>10}{'ratio':>8}")
    for name, moto_ms in moto.items():
        print(f"{name:<12}{moto_ms:>10.1f}{durable[name]:>10.1f}{durable[name] / moto_ms:>8.2f}")
    print(f"open + restore of {args.restore} x 1 KB objects: {small_restore:.2f} s")
    print(f"open + restore of {args.restore // 10} x 1 MB objects: {large_restore:.2f} s")


if __name__ == "__main__":
    main()
