"""Endpoint instances: reachable only by the cloud, replaced when they die, gone with the cloud.

A dead instance is found by the cloud within a second or two and replaced, as SageMaker replaces an
instance that fails its health checks; meanwhile DescribeEndpoint shows fewer current than desired
instances and requests go to the live ones.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pytest

from local_sagemaker.kernel import launcher
from tests.local_cloud.hosting import (
    create_config,
    create_model,
    deploy,
    gunicorn_masters,
    upload_model,
    wait_endpoint,
)
from tests.local_cloud.processes import alive, cloud_of_its_own

ROWS = "\n".join([",".join(["0"] * 64)] * 2)  # two digits (one CSV row decodes as 1-D, as in the container)


def socket_path(master: psutil.Process) -> Path:
    command = master.cmdline()
    return Path(command[command.index("-b") + 1].removeprefix("unix:"))


@pytest.fixture(scope="module")
def two_instances(sm, s3) -> str:
    name = deploy(sm, create_config(sm, create_model(sm, s3, upload_model(s3)), instances=2))
    assert wait_endpoint(sm, name)["EndpointStatus"] == "InService"
    yield name
    sm.delete_endpoint(EndpointName=name)


AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def python_for_nobody() -> str:
    """A Python that user nobody can start: this one, or the system's (a pyenv build under /root may not load
    its libpython for another user), so that the probe's exit code speaks of the socket, not of the interpreter."""
    for python in (sys.executable, "/usr/bin/python3"):
        if subprocess.run([*AS_NOBODY, python, "-c", ""], check=False, capture_output=True).returncode == 0:
            return python
    pytest.fail("no Python that user nobody can run: the probe could not tell a refused socket from a failed start")


def test_instances_listen_on_a_socket_only_the_clouds_user_can_open(cloud, two_instances) -> None:
    masters = gunicorn_masters(cloud, two_instances)
    assert len(masters) == 2
    for master in masters:
        tree = [master, *master.children(recursive=True)]
        listening = [c for p in tree for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
        assert listening == [], "no TCP port: any user of the machine could call it"
        path = socket_path(master)
        folder = path.parent.stat()
        assert (folder.st_mode & 0o777, folder.st_uid) == (0o700, os.getuid())
        if os.geteuid() == 0:  # another user of the machine is refused by the folder's permissions
            probe = (
                "import socket, sys\ns = socket.socket(socket.AF_UNIX)\n"
                f"try:\n    s.connect({str(path)!r})\nexcept PermissionError:\n    sys.exit(13)\n"
            )
            other = subprocess.run([*AS_NOBODY, python_for_nobody(), "-c", probe], check=False)
            assert other.returncode == 13, "user nobody reached the instance"


def test_a_killed_instance_is_replaced_and_requests_go_to_the_live_one(sm, cloud, two_instances) -> None:
    runtime = cloud.client("sagemaker-runtime")
    before = {p.pid for p in gunicorn_masters(cloud, two_instances)}
    answers: list[int] = []
    errors: list[str] = []
    done = threading.Event()

    def keep_invoking() -> None:
        while not done.is_set():
            try:
                runtime.invoke_endpoint(EndpointName=two_instances, Body=ROWS, ContentType="text/csv")
                answers.append(200)
            except Exception as error:  # noqa: BLE001 - every failure is counted and shown
                errors.append(str(error))

    worker = threading.Thread(target=keep_invoking)
    worker.start()
    try:
        victim = psutil.Process(min(before))
        victim.kill()
        counts = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            variant = sm.describe_endpoint(EndpointName=two_instances)["ProductionVariants"][0]
            counts.append(variant["CurrentInstanceCount"])
            after = {p.pid for p in gunicorn_masters(cloud, two_instances)}
            if 1 in counts and variant["CurrentInstanceCount"] == 2 and len(after) == 2 and victim.pid not in after:
                break
            time.sleep(0.05)
    finally:
        done.set()
        worker.join()
    assert 1 in counts, f"DescribeEndpoint never showed the dead instance missing: {sorted(set(counts))}"
    assert counts[-1] == 2, "replaced"
    assert len(after - before) == 1, "one new instance, the survivor kept"
    assert errors == [], errors[0]
    assert len(answers) > 0


def test_what_a_model_starts_dies_with_its_instance_and_with_the_cloud(tmp_path) -> None:
    """A cloud of its own, killed with SIGKILL while a model's setsid'd child runs."""
    info, sm, s3 = cloud_of_its_own(tmp_path)
    pid_file = tmp_path / "pids"
    script = (
        "import os, subprocess, joblib\n"
        "def model_fn(model_dir):\n"
        f"    child = subprocess.Popen(['sleep', '300'], start_new_session=True)\n"
        f"    open({str(pid_file)!r}, 'a').write(f'{{child.pid}}\\n')\n"
        "    return joblib.load(os.path.join(model_dir, 'model.joblib'))\n"
    )
    name = deploy(sm, create_config(sm, create_model(sm, s3, upload_model(s3), script)))
    try:
        assert wait_endpoint(sm, name)["EndpointStatus"] == "InService"
        pids = [int(line) for line in pid_file.read_text().split()]
        assert pids, "model_fn ran on the health check"
        tree = [p.pid for p in psutil.Process(info.pid).children(recursive=True)]
        assert set(pids) <= set(tree), "the setsid'd child is still the instance's (its supervisor adopted it)"
    finally:
        os.kill(info.pid, signal.SIGKILL)
    assert alive(tree) == [], "every process of the instance died with the cloud"


def test_the_socket_is_gone_with_the_endpoint(sm, s3, cloud) -> None:
    name = deploy(sm, create_config(sm, create_model(sm, s3, upload_model(s3))))
    assert wait_endpoint(sm, name)["EndpointStatus"] == "InService"
    (master,) = gunicorn_masters(cloud, name)
    path = socket_path(master)
    assert path.is_socket()
    sm.delete_endpoint(EndpointName=name)
    assert not path.exists()
    with pytest.raises(OSError), socket.socket(socket.AF_UNIX) as probe:
        probe.connect(str(path))


def test_socket_folders_go_with_their_cloud_and_a_killed_clouds_with_the_next_one(tmp_path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = Path(tempfile.gettempdir()) / f"lsm-{dead.pid}-stale"
    stale.mkdir(mode=0o700)
    (stale / "left.sock").touch()
    info, sm, s3 = cloud_of_its_own(tmp_path)
    try:
        assert not stale.exists(), "the next cloud removed the folder of a cloud that is gone"
        name = deploy(sm, create_config(sm, create_model(sm, s3, upload_model(s3))))
        assert wait_endpoint(sm, name)["EndpointStatus"] == "InService"
        (master,) = gunicorn_masters(info, name)
        folder = socket_path(master).parent
        assert folder.name.startswith(f"lsm-{info.pid}-")
    finally:
        launcher.stop(info.state_dir)
    assert not folder.exists(), "a cloud that stops removes its sockets' folder"
