"""``make lab``: JupyterLab on the repository, loopback only, token required, nothing left running after it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from local_sagemaker.kernel import launcher
from tests.notebooks import ROOT

pytestmark = pytest.mark.cloud

START_SECONDS = 180


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request(url: str, method: str = "GET") -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_for(url: str, process: subprocess.Popen, log: Path) -> tuple[int, bytes]:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, f"make lab exited with {process.returncode}: {log.read_text()[-2000:]}"
        try:
            return request(url)
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer {url} within {START_SECONDS} s")


def tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def listening_on(process: psutil.Process) -> set[str]:
    """The addresses a process listens on (none once it is gone: a helper may exit while we look)."""
    try:
        return {c.laddr.ip for c in process.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN}
    except psutil.NoSuchProcess:
        return set()


def command(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.NoSuchProcess:
        return []


@pytest.fixture
def own_state(tmp_path, monkeypatch):
    """A state dir without a cloud, so the lab starts its own and must stop it."""
    monkeypatch.setenv("MAZE_STATE_DIR", str(tmp_path))
    return tmp_path


def test_lab_serves_the_notebooks_with_its_token_on_loopback_and_stops_cleanly(own_state, tmp_path) -> None:
    port, token = free_port(), "maze-test-token"
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "lab.log"
    with log.open("wb") as out:  # as `make lab` runs it (the handout runs the same file as scripts/lab.py)
        lab = subprocess.Popen(
            [sys.executable, "-m", "maze.lab", "--root", str(ROOT), "--port", str(port), "--token", token],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        status, body = wait_for(f"{base}/api/contents/chapter_1?token={token}", lab, log)
        assert status == 200, body[:300]
        names = sorted(item["name"] for item in json.loads(body)["content"])
        assert names[:2] == ["task_1", "task_2"], names
        assert request(f"{base}/api/contents/chapter_1")[0] == 403, "no token, no notebooks"
        cloud = launcher.find(own_state)
        assert cloud is not None, "the local cloud is up before the first notebook runs"
        status, _ = request(f"{base}/api/kernels?token={token}", method="POST")
        assert status == 201
        processes = [*tree(lab.pid), psutil.Process(cloud.pid)]
        listening = {addr for process in processes for addr in listening_on(process)}
        assert listening == {"127.0.0.1"}, f"listening on {listening}"
        assert any("ipykernel" in " ".join(command(p)) for p in processes), "the kernel runs under the lab"

        lab.send_signal(signal.SIGTERM)
        lab.wait(timeout=120)
        output = log.read_text(errors="replace")
        assert lab.returncode == 0, output[-2000:]
        assert "local cloud stopped" in output
        _, alive = psutil.wait_procs(processes, timeout=30)
        assert not alive, f"still running: {[p.cmdline() for p in alive]}"
        assert launcher.find(own_state) is None
    finally:
        if lab.poll() is None:
            os.killpg(lab.pid, signal.SIGKILL)
        launcher.stop(own_state)


def test_a_killed_lab_leaves_no_cloud_behind(own_state, tmp_path, monkeypatch) -> None:
    """SIGKILL to the lab and everything it started (a closed terminal, an OOM kill): the cloud stops by itself."""
    monkeypatch.setenv("MAZE_IDLE_SECONDS", "2")
    log = tmp_path / "lab.log"
    with log.open("wb") as out:
        lab = subprocess.Popen(
            [sys.executable, "-m", "maze.lab", "--root", str(ROOT), "--port", str(free_port())],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_SECONDS
        while (cloud := launcher.find(own_state)) is None or lab.pid not in cloud.call("health")["clients"]:
            assert lab.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)
    finally:
        os.killpg(lab.pid, signal.SIGKILL)
        lab.wait()
    _, alive = psutil.wait_procs([psutil.Process(cloud.pid)], timeout=60)
    assert not alive, "the cloud outlived its last client by more than its idle time"
