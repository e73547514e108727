"""Start, find and stop the local cloud process from the outside (CLI, notebooks, tests)."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from local_sagemaker.account import DEFAULT_REGION
from local_sagemaker.processes import is_alive

START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 40.0


class LocalCloudNotRunning(RuntimeError):
    """Raised where a running local cloud is required and there is none."""


@dataclass(frozen=True)
class CloudInfo:
    pid: int
    endpoint: str
    state_dir: Path

    def client(self, service: str, region: str = DEFAULT_REGION, **options: Any) -> Any:
        """A boto3 client of this cloud, for tools and tests (notebooks go through ``connect()``)."""
        session = boto3.session.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name=region)
        return session.client(service, endpoint_url=self.endpoint, **options)


def state_dir() -> Path:
    """One place per checkout, so every notebook of the maze finds the same cloud.

    ``MAZE_STATE_DIR`` wins; otherwise ``.maze`` at the repository root (git-ignored), or a
    folder in the user's state directory when the package is installed outside the repo.
    """
    if os.environ.get("MAZE_STATE_DIR"):
        path = Path(os.environ["MAZE_STATE_DIR"])
    else:
        repo = Path(__file__).resolve().parent.parent
        path = repo / ".maze" if (repo / "pyproject.toml").exists() else Path.home() / ".local/state/sagemaker-maze"
    path.mkdir(parents=True, exist_ok=True)
    return path


def find(state: Path) -> CloudInfo | None:
    """The running cloud of this state dir, if its process lives and its front answers."""
    try:
        info = json.loads((state / "cloud.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    try:
        with urllib.request.urlopen(f"{info['endpoint']}/_local_sagemaker/health", timeout=2) as response:
            health = json.load(response)
    except OSError:
        return None
    if health.get("pid") != info["pid"]:
        return None
    return CloudInfo(info["pid"], info["endpoint"], state)


@contextmanager
def _start_lock(state: Path) -> Iterator[None]:
    """Two kernels connecting at once must not start two clouds."""
    with open(state / "start.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def find_or_start(state: Path, idle_seconds: float | None) -> tuple[CloudInfo, bool]:
    """The running cloud, or a new one; the flag says whether this call started it."""
    with _start_lock(state):
        info = find(state)
        if info:
            return info, False
        return _start(state, idle_seconds), True


def _start(state: Path, idle_seconds: float | None) -> CloudInfo:
    args = [sys.executable, "-m", "local_sagemaker", "serve", "--state-dir", str(state)]
    if idle_seconds is not None:
        args += ["--idle-seconds", str(idle_seconds)]
    log = open(state / "cloud.log", "ab")  # noqa: SIM115 - handed to the detached child
    process = subprocess.Popen(
        args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    log.close()
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = (state / "cloud.log").read_text(errors="replace").splitlines()[-15:]
            raise RuntimeError("The local cloud exited while starting:\n" + "\n".join(tail))
        info = find(state)
        if info and info.pid == process.pid:
            return info
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(
        f"The local cloud did not answer within {START_TIMEOUT_SECONDS:.0f} s; see {state / 'cloud.log'}"
    )


def stop(state: Path) -> CloudInfo | None:
    """Stop the cloud and, with it, every job process it started. Returns what was stopped."""
    info = find(state)
    if info is None:
        return None
    os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while time.monotonic() < deadline and is_alive(info.pid):
        time.sleep(0.05)
    if is_alive(info.pid):
        os.killpg(info.pid, signal.SIGKILL)
    return info
