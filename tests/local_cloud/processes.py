"""What tests ask of processes: which are still running, once the cloud had time to end them."""

from __future__ import annotations

import time

import psutil

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
