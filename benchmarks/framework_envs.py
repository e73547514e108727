"""Benchmark: the cost of a framework environment per scikit-learn version. Prints figures.

    .venv/bin/python -m benchmarks.framework_envs [--versions 1.2-1 1.4-2] [--skip-empty-cache]

For each framework version that runs here:
- cold, empty uv cache: the first use on a machine that never downloaded a package (a fresh uv cache in a
  temporary directory, so the user's cache is left alone); everything comes from the package index.
- cold, warm cache: the first use after a state reset (an empty environment directory, uv's cache filled by
  the previous build), which is what a participant's machine sees after the first time.
- warm: what every later job or instance pays: the lookup of the built environment (``python()``) plus the
  job's own venv layered on it (``layered_python``), median of 20.
- disk: ``du`` of the environment, and how much of it is the environment's alone (files not hard-linked
  with uv's cache: a second state directory or a rebuild shares the rest).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from local_sagemaker.cloud.compute.framework_envs import FrameworkEnvs, layered_python, runnable_versions

WARM_ROUNDS = 20


def quiet(_: str) -> None:
    """Progress lines are the job log's business, not the benchmark's."""


def cold(root: Path, cache: Path, version: str) -> tuple[float, Path]:
    started = time.perf_counter()
    python = FrameworkEnvs(root, cache_dir=cache).python(version, quiet)
    return time.perf_counter() - started, python


def warm(root: Path, cache: Path, version: str, scratch: Path) -> float:
    envs = FrameworkEnvs(root, cache_dir=cache)
    rounds = []
    for index in range(WARM_ROUNDS):
        started = time.perf_counter()
        layered_python(envs.python(version, quiet), scratch / f"job-{index}")
        rounds.append(time.perf_counter() - started)
    return statistics.median(rounds)


def disk(env: Path) -> tuple[int, int]:
    """(du's bytes, bytes in files no other directory links to)."""
    du = int(subprocess.run(["du", "-sb", str(env)], capture_output=True, text=True, check=True).stdout.split()[0])
    alone = 0
    for folder, _, files in os.walk(env):
        for name in files:
            status = os.lstat(os.path.join(folder, name))
            if status.st_nlink == 1:
                alone += status.st_size
    return du, alone


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", nargs="*", default=runnable_versions())
    parser.add_argument("--skip-empty-cache", action="store_true", help="no build from an empty uv cache")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="framework-envs-bench-"))
    cache = scratch / "uv-cache"
    try:
        print(f"{'version':8} {'cold, empty cache':>18} {'cold, warm cache':>17} {'warm (lookup+layer)':>20} "
              f"{'du':>8} {'own bytes':>10}")  # fmt: skip
        for version in args.versions:
            empty = "skipped"
            if not args.skip_empty_cache:
                shutil.rmtree(cache, ignore_errors=True)
                seconds, _ = cold(scratch / f"{version}-first", cache, version)
                empty = f"{seconds:.1f} s"
            seconds, python = cold(scratch / f"{version}-reset", cache, version)
            lookup = warm(scratch / f"{version}-reset", cache, version, scratch / f"{version}-jobs")
            du, alone = disk(python.parent.parent)
            print(f"{version:8} {empty:>18} {seconds:>15.1f} s {lookup * 1000:>17.1f} ms "
                  f"{du / 2**20:>6.0f} MB {alone / 2**20:>7.1f} MB")  # fmt: skip
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
