"""Start, find and stop the local cloud process from the outside (CLI, notebooks, tests)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from local_sagemaker.common.account import DEFAULT_REGION
from local_sagemaker.common.pids import is_alive
from local_sagemaker.common.state_files import (
    forget,
    open_private,
    private_dir,
    recorded_connection,
    start_lock,
)

START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 40.0


class LocalCloudNotRunning(RuntimeError):
    """Raised where a running local cloud is required and there is none."""


@dataclass(frozen=True)
class CloudInfo:
    pid: int
    endpoint: str
    state_dir: Path
    access_key_id: str
    secret_access_key: str = field(repr=False)

    def client(self, service: str, region: str = DEFAULT_REGION, **options: Any) -> Any:
        """A boto3 client of this cloud, signing with the key it issued (notebooks go through ``connect()``)."""
        session = boto3.session.Session(
            aws_access_key_id=self.access_key_id, aws_secret_access_key=self.secret_access_key, region_name=region
        )
        return session.client(service, endpoint_url=self.endpoint, **options)

    @property
    def key(self) -> dict[str, str]:
        return {"AccessKeyId": self.access_key_id, "SecretAccessKey": self.secret_access_key}

    def call(self, route: str, body: dict[str, Any] | None = None, timeout: float = 5.0) -> Any:
        """POST to one of the cloud's own routes (``/_local_sagemaker/<route>``), signed as every request must be."""
        url, data = f"{self.endpoint}/_local_sagemaker/{route}", json.dumps(body or {}).encode()
        headers = signed_headers(self.key, "POST", url, data, {"Content-Type": "application/json"})
        request = urllib.request.Request(url, data, headers, method="POST")
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return json.load(answer)


def signed_headers(
    key: dict[str, str], method: str, url: str, body: bytes, headers: dict[str, str], service: str = "sagemaker"
) -> dict[str, str]:
    """``headers`` and the SigV4 signature of the request by ``key``, from botocore's signer (for raw requests)."""
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(Credentials(key["AccessKeyId"], key["SecretAccessKey"]), service, DEFAULT_REGION).add_auth(request)
    return dict(request.headers)


def unanswering(state: Path) -> int | None:
    """The pid of this state dir's cloud if it runs but does not answer (``status`` says so; ``down`` stops it)."""
    recorded = recorded_connection(state)
    if recorded is None or not _serves(recorded["pid"], state) or _answering(recorded, state):
        return None
    return recorded["pid"]


def _serves(pid: int, state: Path) -> bool:
    """Whether ``pid`` is alive and is a local cloud of ``state`` (a dead cloud's pid may have been reused)."""
    if not is_alive(pid):
        return False
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        served = Path(os.readlink(f"/proc/{pid}/cwd")) / args[args.index("--state-dir") + 1]
    except (OSError, ValueError, IndexError):
        return False
    return "local_sagemaker" in args and served.resolve() == state.resolve()


def _info(recorded: dict[str, Any], state: Path) -> CloudInfo:
    key = recorded["credentials"]
    return CloudInfo(recorded["pid"], recorded["endpoint"], state, key["AccessKeyId"], key["SecretAccessKey"])


def _answering(recorded: dict[str, Any], state: Path) -> CloudInfo | None:
    """The recorded cloud, if its front answers its health check as that process."""
    info = _info(recorded, state)
    try:
        health = info.call("health", timeout=2)
    except (OSError, ValueError):
        return None
    return info if health.get("pid") == info.pid else None


def find(state: Path) -> CloudInfo | None:
    """The running cloud of this state dir, if its recorded process lives and its front answers."""
    recorded = recorded_connection(state)
    if recorded is None or not _serves(recorded["pid"], state):
        return None
    return _answering(recorded, state)


def find_or_start(state: Path, idle_seconds: float | None) -> tuple[CloudInfo, bool]:
    """The running cloud, or a new one; the flag says whether this call started it."""
    private_dir(state)
    with start_lock(state):
        info = _wait_for_answer(state)
        if info:
            return info, False
        return _start(state, idle_seconds), True


def _wait_for_answer(state: Path) -> CloudInfo | None:
    """The recorded cloud; while its process lives but does not answer (busy, swapping, stopped), wait.

    Only a dead (or foreign) pid means there is no cloud: a second cloud on the same state dir would
    share its files and its connection file with the first.
    """
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        recorded = recorded_connection(state)
        if recorded is None or not _serves(recorded["pid"], state):
            return None
        info = _answering(recorded, state)
        if info:
            return info
        if time.monotonic() > deadline:
            raise LocalCloudNotRunning(
                f"The local cloud of {state} (pid {recorded['pid']}) runs but has not answered for "
                f"{START_TIMEOUT_SECONDS:.0f} s. Stop it with `python -m local_sagemaker down`, then connect again."
            )
        time.sleep(0.2)


def _start(state: Path, idle_seconds: float | None) -> CloudInfo:
    args = [sys.executable, "-m", "local_sagemaker", "serve", "--state-dir", str(state)]
    if idle_seconds is not None:
        args += ["--idle-seconds", str(idle_seconds)]
    log = open_private(state / "cloud.log", os.O_WRONLY | os.O_APPEND)
    process = subprocess.Popen(
        args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    os.close(log)
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


def stop(state: Path, grace_seconds: float = STOP_TIMEOUT_SECONDS) -> CloudInfo | None:
    """Stop the cloud and, with it, every job process it started. Returns what was stopped.

    It need not answer: a wedged cloud gets SIGTERM, then SIGKILL (its process group) after the
    grace period; its job processes die with it (``processes``), and its connection file goes.
    """
    recorded = recorded_connection(state)
    if recorded is None or not _serves(recorded["pid"], state):
        return None
    pid = recorded["pid"]
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if not _exited(pid, grace_seconds):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:  # started in a terminal's process group
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _exited(pid, 10.0)
    forget(state, pid)
    return _info(recorded, state)


def _exited(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and is_alive(pid):
        time.sleep(0.05)
    return not is_alive(pid)
