"""What tests ask of processes: a cloud of a test's own to kill, and which processes still run afterwards."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psutil

from local_sagemaker.kernel import launcher
from testing.training_jobs import BUCKET

# How long a process of a finished job may take to be gone (killed at once; the kernel reaps asynchronously).
GONE_SECONDS = 10


def running(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie has exited, and a process may go between a listing and this look."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def alive(pids: list[int]) -> list[int]:
    """The pids still running after up to GONE_SECONDS."""
    gone_by = time.monotonic() + GONE_SECONDS
    while True:
        left = [pid for pid in pids if running(pid)]
        if not left or time.monotonic() > gone_by:
            return left
        time.sleep(0.1)


def cloud_of_its_own(tmp_path: Path) -> tuple[launcher.CloudInfo, Any, Any]:
    """A cloud in a state dir of its own, for a test that kills it (the session's must live on): the cloud,
    its SageMaker client and its S3 client, with the tests' bucket."""
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    info, started = launcher.find_or_start(state, idle_seconds=None)
    assert started
    sm, s3 = info.client("sagemaker"), info.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    return info, sm, s3
