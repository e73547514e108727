"""The clean-up a notebook cannot skip: a team's endpoints go when a cell fails or the kernel exits, no one else's.

Against the session's local cloud, through boto3 as on AWS; the guard is tested in real kernels
(nbclient), the way a participant's notebook runs it.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from local_sagemaker import daemon
from local_sagemaker.cleanup import delete_team_endpoints, delete_team_resources, team_names
from tests.local_cloud.hosting import create_config, create_model, upload_model, wait_endpoint
from tests.local_cloud.jobs import ROLE
from tests.session_cloud import s3_with_bucket, session_cloud


@pytest.fixture(scope="module")
def cloud() -> daemon.CloudInfo:
    return session_cloud()


@pytest.fixture(scope="module")
def sm(cloud: daemon.CloudInfo) -> Any:
    return cloud.client("sagemaker")


@pytest.fixture(scope="module")
def config(cloud: daemon.CloudInfo, sm: Any) -> str:
    """One endpoint configuration (of no team) that every endpoint of these tests is created from."""
    s3 = s3_with_bucket(cloud)
    return create_config(sm, create_model(sm, s3, upload_model(s3)))


def team() -> str:
    """A team name no other test of the session uses."""
    return f"t{uuid.uuid4().hex[:8]}"


def endpoint(sm: Any, config: str, name: str) -> str:
    sm.create_endpoint(EndpointName=name, EndpointConfigName=config)
    return name


def live_endpoints(sm: Any) -> set[str]:
    return {e["EndpointName"] for e in sm.list_endpoints()["Endpoints"] if e["EndpointStatus"] != "Deleting"}


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

    deleted = delete_team_resources(sm, ours)

    assert deleted == [f"maze-{ours}-realtime-1", f"maze-{ours}-realtime-1", f"maze-{ours}-model-1"]
    for kind in ("endpoint", "endpoint config", "model"):
        assert team_names(sm, kind, ours) == []
        assert len(team_names(sm, kind, theirs)) == 1, f"the other team's {kind} stays"
    delete_team_resources(sm, theirs)


def _run(cells: list[str], folder: Path) -> nbformat.NotebookNode:
    """Execute code cells in a fresh kernel, errors allowed, as a participant would; the kernel exits at the end."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    NotebookClient(
        nb, timeout=300, kernel_name="python3", allow_errors=True, resources={"metadata": {"path": str(folder)}}
    ).execute()
    return nb


def _text(cell: nbformat.NotebookNode) -> str:
    return "".join(output.get("text", "") for output in cell.outputs if output.output_type == "stream")


def _kernel_cells(team_name: str, config: str, endpoint_name: str) -> list[str]:
    """A notebook's start (connect, SDK clients, the guard), then a deploy that waits until the endpoint serves."""
    return [
        f"import os\nos.environ['MAZE_TEAM'] = {team_name!r}\n"
        # The SDK too: importing it installs rich's traceback handler, which must not hide a failure from the guard.
        "import boto3\nimport local_sagemaker\nimport sagemaker\n"
        "from local_sagemaker.cleanup import guard_endpoints\n\n"
        "cloud = local_sagemaker.connect()\nsm = boto3.client('sagemaker')\nguard_endpoints(sm, cloud.team)",
        f"import time\nsm.create_endpoint(EndpointName={endpoint_name!r}, EndpointConfigName={config!r})\n"
        f"while sm.describe_endpoint(EndpointName={endpoint_name!r})['EndpointStatus'] == 'Creating':\n"
        "    time.sleep(0.2)\n"
        f"print(sm.describe_endpoint(EndpointName={endpoint_name!r})['EndpointStatus'])",
    ]


def test_a_cell_that_raises_after_deploying_deletes_the_kernels_endpoints(sm: Any, config: str, tmp_path: Path) -> None:
    ours, theirs = team(), team()
    mine = f"maze-{ours}-realtime-1"
    other = endpoint(sm, config, f"maze-{theirs}-realtime-1")
    # The same team's endpoint of another notebook (task 2 open beside task 1) must survive task 1's failure.
    sibling = endpoint(sm, config, f"maze-{ours}-serverless-1")
    try:
        nb = _run(
            [
                *_kernel_cells(ours, config, mine),
                "raise RuntimeError('a typo in the next cell')",
                f"print({mine!r} in [e['EndpointName'] for e in sm.list_endpoints()['Endpoints']])",
            ],
            tmp_path,
        )
        assert "InService" in _text(nb.cells[1]), "the endpoint served before the failure"
        assert "this notebook's endpoints were deleted" in _text(nb.cells[2]) and mine in _text(nb.cells[2])
        assert _text(nb.cells[3]).strip() == "False", "deleted by the failing cell, before the kernel exited"
        assert wait_endpoint(sm, other)["EndpointStatus"] == "InService", "another team's endpoint is untouched"
        assert wait_endpoint(sm, sibling)["EndpointStatus"] == "InService", "another notebook's endpoint is untouched"
    finally:
        for name in (other, sibling):
            sm.delete_endpoint(EndpointName=name)


def test_kernel_exit_deletes_the_kernels_endpoints(sm: Any, config: str, tmp_path: Path) -> None:
    ours = team()
    mine = f"maze-{ours}-realtime-1"
    nb = _run(_kernel_cells(ours, config, mine), tmp_path)
    assert "InService" in _text(nb.cells[1])
    assert mine not in live_endpoints(sm), "the kernel's exit deleted the endpoint no cell deleted"
