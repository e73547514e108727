"""What the board's tests share: fresh team names, the board's command and its rows, an endpoint that answered."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from typing import Any

from maze.evidence import endpoint_invocations
from tests.local_cloud.hosting import create_model, upload_model, wait_endpoint
from tests.notebooks import ROOT

TASKS = 7
TWO_DIGITS = "\n".join(",".join(["0"] * 64) for _ in range(2))  # one row would reach the model as a 1-D array
STATE = r"(done|not done|not started|no repository)"
ROW = re.compile(rf"^(chapter_\d/task_\d)\s+{STATE}\s+(.*)$", re.MULTILINE)
REAL_TIME = {"InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}


def fresh_team() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


def maze_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "maze", *args], cwd=ROOT, capture_output=True, text=True, timeout=600, env=env
    )


def rows(stdout: str) -> dict[str, tuple[str, str]]:
    """A team's board as printed: task -> (state, evidence)."""
    return {task: (state, evidence) for task, state, evidence in ROW.findall(stdout)}


def deploy_and_delete(clients: dict[str, Any], name: str, variant: dict[str, Any], requests: int) -> None:
    """Deploy a config named as the SDK names it (as its endpoint), answer ``requests``, delete the endpoint."""
    sm = clients["sagemaker"]
    model = create_model(sm, clients["s3"], upload_model(clients["s3"]))
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": model, "InitialVariantWeight": 1.0, **variant}],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    assert wait_endpoint(sm, name)["EndpointStatus"] == "InService"
    for _ in range(requests):
        clients["sagemaker-runtime"].invoke_endpoint(EndpointName=name, Body=TWO_DIGITS, ContentType="text/csv")
    sm.delete_endpoint(EndpointName=name)
    deadline = time.monotonic() + 60  # the container's access lines reach CloudWatch Logs shortly after
    while endpoint_invocations(clients["logs"], name) < requests and time.monotonic() < deadline:
        time.sleep(0.5)
