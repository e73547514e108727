"""``python -m maze cleanup``: lists a team's endpoints, configs and models, asks, deletes only that team's."""

from __future__ import annotations

import subprocess
import sys
import uuid
from typing import Any

import pytest

from maze.cleanup import clean
from tests.local_cloud.hosting import create_model, upload_model, wait_endpoint
from tests.notebooks import ROOT


@pytest.fixture(scope="module")
def clients(sm: Any, s3: Any) -> dict[str, Any]:
    return {"sagemaker": sm, "s3": s3}


def team_with_an_endpoint(clients: dict[str, Any]) -> tuple[str, list[str]]:
    """A fresh team with a model, an endpoint config and a running endpoint, named as the notebooks name them."""
    team = f"t{uuid.uuid4().hex[:8]}"
    sm, s3 = clients["sagemaker"], clients["s3"]
    model, name = f"maze-{team}-model-1", f"maze-{team}-realtime-1"
    template = sm.describe_model(ModelName=create_model(sm, s3, upload_model(s3)))
    sm.create_model(
        ModelName=model, PrimaryContainer=template["PrimaryContainer"], ExecutionRoleArn=template["ExecutionRoleArn"]
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": model, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    assert wait_endpoint(sm, name)["EndpointStatus"] == "InService"
    return team, [name, name, model]


def names(sm: Any, team: str) -> set[str]:
    prefix = f"maze-{team}-"
    listed = [
        item
        for operation, key in (("list_endpoints", "Endpoints"), ("list_endpoint_configs", "EndpointConfigs"),
                               ("list_models", "Models"))
        for page in sm.get_paginator(operation).paginate(NameContains=prefix)
        for item in page[key]
    ]  # fmt: skip
    found = {item.get("EndpointName") or item.get("EndpointConfigName") or item["ModelName"] for item in listed}
    return {name for name in found if name.startswith(f"maze-{team}-")}


def test_declined_deletes_nothing(clients, capsys) -> None:
    team, resources = team_with_an_endpoint(clients)
    questions: list[str] = []
    assert clean(clients["sagemaker"], team, yes=False, ask=lambda q: questions.append(q) or "n") == 1
    assert questions == ["delete these 3 resources? [y/N] "]
    assert names(clients["sagemaker"], team) == set(resources)
    shown = capsys.readouterr().out
    assert all(name in shown for name in resources) and "nothing deleted" in shown
    assert clean(clients["sagemaker"], team, yes=True) == 0


def test_confirmed_deletes_the_team_and_nobody_else(clients, capsys) -> None:
    team, resources = team_with_an_endpoint(clients)
    bystander, theirs = team_with_an_endpoint(clients)
    assert clean(clients["sagemaker"], team, yes=False, ask=lambda _: "y") == 0
    assert names(clients["sagemaker"], team) == set()
    assert names(clients["sagemaker"], bystander) == set(theirs)
    assert "deleted 3" in capsys.readouterr().out
    assert clean(clients["sagemaker"], bystander, yes=True) == 0


def test_the_command_asks_and_without_a_terminal_deletes_nothing(clients) -> None:
    def cleanup(team: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "maze", "cleanup", "--team", team, *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    team, resources = team_with_an_endpoint(clients)
    unanswered = cleanup(team)
    assert unanswered.returncode == 1 and "nothing deleted" in unanswered.stdout, unanswered.stderr
    assert names(clients["sagemaker"], team) == set(resources)
    confirmed = cleanup(team, "--yes")
    assert confirmed.returncode == 0 and "deleted 3" in confirmed.stdout, confirmed.stderr
    assert names(clients["sagemaker"], team) == set()
    assert "nothing to delete" in cleanup(team, "--yes").stdout
