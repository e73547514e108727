"""The clean-up a notebook cannot skip: a kernel's endpoints go when it exits or sits idle, no one else's,
and a failing cell deletes nothing.

Against the session's local cloud, through boto3 as on AWS; the guard is tested in real kernels
(nbclient), the way a participant's notebook runs it, and in a plain script.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from local_sagemaker.kernel import cleanup
from local_sagemaker.kernel.cleanup import delete_team_endpoints, delete_team_resources, team_names
from testing.training_jobs import ROLE
from tests.local_cloud.hosting import create_config, create_model, upload_model, wait_endpoint


@pytest.fixture(scope="module")
def config(sm: Any, s3: Any) -> str:
    """One endpoint configuration (of no team) that every endpoint of these tests is created from."""
    return create_config(sm, create_model(sm, s3, upload_model(s3)))


def team() -> str:
    """A team name no other test of the session uses."""
    return f"t{uuid.uuid4().hex[:8]}"


def endpoint(sm: Any, config: str, name: str) -> str:
    sm.create_endpoint(EndpointName=name, EndpointConfigName=config)
    return name


def live_endpoints(sm: Any) -> set[str]:
    pages = sm.get_paginator("list_endpoints").paginate()
    return {e["EndpointName"] for page in pages for e in page["Endpoints"] if e["EndpointStatus"] != "Deleting"}


def test_only_the_teams_endpoints_are_deleted(sm: Any, config: str) -> None:
    ours, theirs = team(), team()
    mine = [endpoint(sm, config, f"maze-{ours}-realtime-1"), endpoint(sm, config, f"maze-{ours}-serverless-1")]
    others = [
        endpoint(sm, config, f"maze-{theirs}-realtime-1"),
        endpoint(sm, config, f"maze-{ours}x-realtime-1"),  # a team whose name extends ours
        endpoint(sm, config, f"x-maze-{ours}-realtime-1"),  # a name that merely contains our prefix
    ]
    try:
        assert sorted(delete_team_endpoints(sm, ours)) == sorted(mine)
        live = live_endpoints(sm)
        assert not live & set(mine)
        assert set(others) <= live
        assert delete_team_endpoints(sm, ours) == [], "nothing left to delete"
    finally:
        for name in others:
            sm.delete_endpoint(EndpointName=name)


def test_team_resources_go_in_order_and_others_stay(sm: Any, config: str) -> None:
    ours, theirs = team(), team()
    model = sm.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"][0]["ModelName"]
    container = sm.describe_model(ModelName=model)["PrimaryContainer"]
    for name in (ours, theirs):
        sm.create_model(ModelName=f"maze-{name}-model-1", ExecutionRoleArn=ROLE, PrimaryContainer=container)
        variant = {"VariantName": "AllTraffic", "ModelName": f"maze-{name}-model-1", "InitialInstanceCount": 1}
        sm.create_endpoint_config(
            EndpointConfigName=f"maze-{name}-realtime-1",
            ProductionVariants=[{**variant, "InstanceType": "ml.m5.large"}],
        )
        endpoint(sm, f"maze-{name}-realtime-1", f"maze-{name}-realtime-1")
        sm.create_model_package_group(ModelPackageGroupName=f"maze-{name}-digits")
        sm.create_model_package(
            ModelPackageGroupName=f"maze-{name}-digits",
            InferenceSpecification={"Containers": [container], "SupportedContentTypes": ["text/csv"],
                                    "SupportedResponseMIMETypes": ["application/json"]},
        )  # fmt: skip

    deleted = delete_team_resources(sm, ours)

    version = f"arn:aws:sagemaker:us-east-1:123456789012:model-package/maze-{ours}-digits/1"
    assert deleted == [
        f"maze-{ours}-realtime-1",
        f"maze-{ours}-realtime-1",
        f"maze-{ours}-model-1",
        version,  # a group's versions before the group, which refuses to go while it holds one
        f"maze-{ours}-digits",
    ]
    for kind in cleanup.KINDS:
        assert team_names(sm, kind, ours) == []
        assert len(team_names(sm, kind, theirs)) == 1, f"the other team's {kind} stays"
    delete_team_resources(sm, theirs)


IDLE_MINUTES = 0.05  # the limit the idle tests set: 3 seconds
IDLE_SECONDS = IDLE_MINUTES * 60


def _notebook(cells: list[str]) -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])


def _client(nb: nbformat.NotebookNode, folder: Path) -> NotebookClient:
    """Runs cells in a fresh kernel, errors allowed, as a participant would."""
    return NotebookClient(
        nb, timeout=300, kernel_name="python3", allow_errors=True, resources={"metadata": {"path": str(folder)}}
    )


def _run(cells: list[str], folder: Path) -> nbformat.NotebookNode:
    """Execute code cells one after the other; the kernel exits at the end."""
    nb = _notebook(cells)
    _client(nb, folder).execute()
    return nb


def _text(cell: nbformat.NotebookNode) -> str:
    return "".join(output.get("text", "") for output in cell.outputs if output.output_type == "stream")


def _kernel_cells(team_name: str, config: str, endpoint_name: str, idle_minutes: float | None = None) -> list[str]:
    """A notebook's start (connect, SDK clients, the guard), then a deploy that waits until the endpoint serves."""
    idle = f"os.environ['MAZE_ENDPOINT_IDLE_MINUTES'] = '{idle_minutes}'\n" if idle_minutes else ""
    return [
        f"import os\nos.environ['MAZE_TEAM'] = {team_name!r}\n{idle}"
        # The SDK too: importing it installs rich's traceback handler, which must not hide a failure from the guard.
        "import boto3\nimport local_sagemaker\nimport sagemaker\n"
        "from local_sagemaker.kernel.cleanup import guard_endpoints\n\n"
        "cloud = local_sagemaker.connect()\nsm = boto3.client('sagemaker')\nguard_endpoints(sm, cloud.team)",
        f"import time\nsm.create_endpoint(EndpointName={endpoint_name!r}, EndpointConfigName={config!r})\n"
        f"while sm.describe_endpoint(EndpointName={endpoint_name!r})['EndpointStatus'] == 'Creating':\n"
        "    time.sleep(0.2)\n"
        f"print(sm.describe_endpoint(EndpointName={endpoint_name!r})['EndpointStatus'])",
    ]


def _live_in_kernel(name: str) -> str:
    """A cell printing whether the endpoint is still there."""
    return f"print({name!r} in [e['EndpointName'] for e in sm.list_endpoints(NameContains={name!r})['Endpoints']])"


def test_a_cell_that_raises_after_deploying_deletes_nothing(sm: Any, config: str, tmp_path: Path) -> None:
    ours = team()
    mine = f"maze-{ours}-realtime-1"
    nb = _run(
        [
            *_kernel_cells(ours, config, mine),
            "raise RuntimeError('a typo in the next cell')",
            "import signal\nos.kill(os.getpid(), signal.SIGINT)\ntime.sleep(5)",  # an interrupted cell
            _live_in_kernel(mine) + f"\nprint(sm.describe_endpoint(EndpointName={mine!r})['EndpointStatus'])",
        ],
        tmp_path,
    )
    assert "InService" in _text(nb.cells[1]), "the endpoint served before the failure"
    # The SDK's rich traceback handler shows errors as display data, not as an error output.
    assert "RuntimeError" in str(nb.cells[2].outputs) and "KeyboardInterrupt" in str(nb.cells[3].outputs)
    assert _text(nb.cells[4]).split() == ["True", "InService"], "the failures left the endpoint serving"
    assert "maze clean-up" not in "".join(_text(cell) for cell in nb.cells)
    assert mine not in live_endpoints(sm), "the kernel's exit deleted it"


def test_kernel_exit_deletes_only_the_kernels_endpoints(sm: Any, config: str, tmp_path: Path) -> None:
    ours, theirs = team(), team()
    mine = f"maze-{ours}-realtime-1"
    other = endpoint(sm, config, f"maze-{theirs}-realtime-1")
    # The same team's endpoint of another notebook (task 2 open beside task 1) must survive task 1's exit.
    sibling = endpoint(sm, config, f"maze-{ours}-serverless-1")
    try:
        nb = _run(_kernel_cells(ours, config, mine), tmp_path)
        assert "InService" in _text(nb.cells[1])
        assert mine not in live_endpoints(sm), "the kernel's exit deleted the endpoint no cell deleted"
        assert wait_endpoint(sm, other)["EndpointStatus"] == "InService", "another team's endpoint is untouched"
        assert wait_endpoint(sm, sibling)["EndpointStatus"] == "InService", "another notebook's endpoint is untouched"
    finally:
        for name in (other, sibling):
            sm.delete_endpoint(EndpointName=name)


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[tuple[NotebookClient, nbformat.NotebookNode]]:
    """A kernel the test gives cells one at a time, so that it can stay idle in between."""
    nb = _notebook([])
    client = _client(nb, tmp_path)
    with client.setup_kernel():
        yield client, nb


def _cell(kernel: tuple[NotebookClient, nbformat.NotebookNode], source: str) -> str:
    """Run one more cell in the kernel; its printed text."""
    client, nb = kernel
    nb.cells.append(nbformat.v4.new_code_cell(source))
    client.execute_cell(nb.cells[-1], len(nb.cells) - 1)
    return _text(nb.cells[-1])


def _gone_after(sm: Any, name: str, since: float, timeout: float) -> float:
    """Seconds from ``since`` until the endpoint is no longer live; fails after ``timeout``."""
    while name in live_endpoints(sm):
        assert time.monotonic() - since < timeout, f"{name} still live after {timeout} s"
        time.sleep(0.2)
    return time.monotonic() - since


def test_an_idle_kernel_deletes_its_endpoints_with_the_rule_but_a_long_cell_is_not_idle(
    sm: Any, config: str, kernel: tuple[NotebookClient, nbformat.NotebookNode]
) -> None:
    ours = team()
    mine = f"maze-{ours}-realtime-1"
    setup, deploy = _kernel_cells(ours, config, mine, IDLE_MINUTES)
    _cell(kernel, setup)
    _cell(kernel, setup)  # the set-up cell run again replaces the guard
    threads = "import threading\nprint([t.daemon for t in threading.enumerate() if t.name.startswith('maze-endpoint')])"
    assert _cell(kernel, threads).strip() == "[True]", "one idle clock, a daemon thread that dies with the kernel"
    assert "InService" in _cell(kernel, deploy)
    # A load test: one cell running three times the limit.
    long_cell = f"time.sleep({3 * IDLE_SECONDS})\n" + _live_in_kernel(mine)
    assert _cell(kernel, long_cell).strip() == "True", "a running cell is not idle"
    ended = time.monotonic()
    idle = _gone_after(sm, mine, ended, timeout=IDLE_SECONDS + 10)
    assert idle >= IDLE_SECONDS * 0.9, f"deleted {idle:.1f} s after the last cell, before the limit"
    notice = _cell(kernel, "print('back')")
    assert mine in notice and "no cell has run in this notebook for 0.05 minutes" in notice, notice
    assert cleanup.RULE in notice and notice.rstrip().endswith("back"), "told before the next cell's own output"
    assert "maze clean-up" not in _cell(kernel, "print('again')"), "told once"


def test_a_script_keeps_an_endpoint_it_calls_and_deletes_it_once_idle(sm: Any, config: str, tmp_path: Path) -> None:
    ours = team()
    mine = f"maze-{ours}-realtime-1"
    script = textwrap.dedent(
        f"""
        import os, time
        os.environ["MAZE_TEAM"], os.environ["MAZE_ENDPOINT_IDLE_MINUTES"] = {ours!r}, "{IDLE_MINUTES}"
        import boto3, local_sagemaker
        from local_sagemaker.kernel.cleanup import guard_endpoints
        cloud = local_sagemaker.connect()
        sm = boto3.client("sagemaker")
        guard_endpoints(sm, cloud.team)
        runtime = boto3.client("sagemaker-runtime")
        watcher = boto3.client("sagemaker")  # not the guarded client, whose calls count as activity
        listed = lambda: watcher.list_endpoints(NameContains={mine!r})["Endpoints"]
        live = lambda: {mine!r} in [e["EndpointName"] for e in listed()]
        sm.create_endpoint(EndpointName={mine!r}, EndpointConfigName={config!r})
        sm.get_waiter("endpoint_in_service").wait(EndpointName={mine!r}, WaiterConfig={{"Delay": 1}})
        started = time.monotonic()
        while time.monotonic() - started < {2 * IDLE_SECONDS}:  # busy: calls the endpoint
            runtime.invoke_endpoint(EndpointName={mine!r}, Body="0," * 63 + "0\\n" + "0," * 63 + "0",
                                    ContentType="text/csv")
            last_call = time.monotonic()
            time.sleep(0.5)
        print("still live after calling it:", live())
        while live():
            assert time.monotonic() - last_call < 60, "never deleted"
            time.sleep(0.2)
        print(f"deleted after {{time.monotonic() - last_call:.1f}} s idle", flush=True)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "still live after calling it: True" in done.stdout, done.stdout
    assert "this program has called neither SageMaker nor an endpoint for 0.05 minutes" in done.stdout
    assert mine in done.stdout.split("maze clean-up:")[1], done.stdout
    idle = float(done.stdout.split("deleted after ")[1].split()[0])
    assert idle >= IDLE_SECONDS * 0.8, done.stdout


@pytest.mark.parametrize("bad", ["soon", "0", "-5", "inf", "nan"])
def test_an_idle_limit_that_is_no_duration_is_refused_with_the_fix(monkeypatch: Any, bad: str) -> None:
    monkeypatch.setenv("MAZE_ENDPOINT_IDLE_MINUTES", bad)
    with pytest.raises(ValueError, match="set a positive number, e.g. MAZE_ENDPOINT_IDLE_MINUTES=45"):
        cleanup.guard_endpoints(None, "team")
