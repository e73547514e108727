"""The progress board against the test session's local cloud: a fresh team, a team that did chapter 1 only,
the endpoint evidence, and the repository checks of tasks 1-2.

The whole maze done (every row "yes") is what README's run command ends with: ``python -m maze`` prints
the board for its team after the summary and exits non-zero unless every task is done.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import WaiterError

from maze.check import (
    LOAD_TEST_MIN_ANSWERED,
    Board,
    both_instances_worked,
    realtime_endpoint_answered,
    run_checks,
    serverless_load_test_answered,
)
from maze.evidence import endpoint_invocations
from maze.provisioning import team_waits
from maze.run import record_cloud_side
from maze.tasks import TaskResult, run_notebook
from tests.local_cloud.hosting import create_model, upload_model, wait_endpoint
from tests.local_cloud.jobs import BUCKET
from tests.local_cloud.test_batch import INPUT_FN
from tests.notebooks import ROOT
from tests.session_cloud import s3_with_bucket, session_cloud

TASKS = 7
TWO_DIGITS = "\n".join(",".join(["0"] * 64) for _ in range(2))  # one row would reach the model as a 1-D array
TRAIN_PY = "def fit(train, test):\n    return None, {}\n\n\ndef main():\n    fit(None, None)\n"


def fresh_team() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def clients() -> dict[str, Any]:
    cloud = session_cloud()
    s3_with_bucket(cloud)
    return {"cloud": cloud, **{name: cloud.client(name) for name in ("sagemaker", "s3", "logs", "sagemaker-runtime")}}


@pytest.fixture(scope="module")
def solved_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the solutions' chapter 1 tasks 1-2 as a participant leaves them: task 2's notebook run.

    ``src/train.py`` is what task 2's notebook writes (git-ignored), so a clean checkout has none
    until the notebook runs.
    """
    repo = tmp_path_factory.mktemp("solved")
    shutil.copytree(ROOT / "chapter_1/task_1", repo / "chapter_1/task_1", ignore=shutil.ignore_patterns("model"))
    task_2 = repo / "chapter_1/task_2"
    task_2.mkdir(parents=True)
    shutil.copy(ROOT / "chapter_1/task_2/training.ipynb", task_2)
    _, error = run_notebook(task_2 / "training.ipynb", task_2 / "executed.ipynb")
    assert not error, error
    return repo


def board(clients: dict[str, Any], team: str, repo: Path = ROOT) -> Board:
    return Board(team, repo, clients["sagemaker"], clients["s3"], clients["logs"])


def maze_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "maze", *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )


def test_a_fresh_team_in_an_empty_repository_has_done_nothing(tmp_path: Path) -> None:
    team = fresh_team()
    checked = maze_cli("check", "--team", team, "--repo", str(tmp_path))
    assert checked.returncode == 1, checked.stderr
    rows = [line for line in checked.stdout.splitlines() if line.startswith("chapter_")]
    assert len(rows) == TASKS
    assert all(row.split()[1] == "no" for row in rows), checked.stdout
    assert f"progress of team '{team}'" in checked.stdout
    assert f"0 of {TASKS} tasks done" in checked.stdout


def test_a_team_name_sagemaker_cannot_use_is_refused() -> None:
    checked = maze_cli("check", "--team", "Team 7!")
    assert checked.returncode == 2
    assert "MAZE_TEAM='Team 7!'" in checked.stderr and "Traceback" not in checked.stderr


def test_the_repository_tasks_hold_in_the_solutions(clients, solved_repo) -> None:
    statuses = run_checks(board(clients, fresh_team(), solved_repo))
    assert [s.done for s in statuses[:2]] == [True, True], statuses[:2]
    assert "precision=" in statuses[0].evidence and "f1=" in statuses[0].evidence


def test_task_2_needs_both_functions_and_task_1_must_run(clients, tmp_path: Path) -> None:
    (tmp_path / "chapter_1/task_1").mkdir(parents=True)
    (tmp_path / "chapter_1/task_1/train.py").write_text("raise SystemExit('not yet')\n")
    (tmp_path / "chapter_1/task_2/src").mkdir(parents=True)
    (tmp_path / "chapter_1/task_2/src/train.py").write_text(TRAIN_PY.replace("def main", "def run"))
    first, second = run_checks(board(clients, fresh_team(), tmp_path))[:2]
    assert not first.done and "exits with 1: not yet" in first.evidence
    assert not second.done and "no function main" in second.evidence
    (tmp_path / "chapter_1/task_2/src/train.py").write_text(TRAIN_PY)
    assert run_checks(board(clients, fresh_team(), tmp_path))[1].done


def test_a_team_that_did_chapter_1_only_shows_exactly_that(clients, solved_repo, tmp_path: Path) -> None:
    team = fresh_team()
    notebook = tmp_path / "training.ipynb"
    shutil.copy(ROOT / "chapter_1/task_4/training.ipynb", notebook)
    since = datetime.now(UTC)
    _, error = run_notebook(notebook, tmp_path / "executed.ipynb", env={**os.environ, "MAZE_TEAM": team})
    assert not error, error
    statuses = run_checks(board(clients, team, solved_repo))
    assert [s.done for s in statuses] == [True] * 4 + [False] * 3, "\n".join(map(str, statuses))
    assert f"maze-{team}-train-" in statuses[3].evidence and "f1=" in statuses[3].evidence
    assert not run_checks(board(clients, fresh_team()))[3].done, "another team does not see this team's job"
    # What the run command's summary shows for the task: its job with f1, one provisioning wait.
    result = TaskResult("chapter_1/task_4", True, 0.0)
    record_cloud_side(result, clients["sagemaker"], clients["logs"], team, since)
    assert (result.figures["provisioned"], result.figures["waits"]) == ("1", "1")
    job, waits = result.cloud
    assert job.startswith(f"job maze-{team}-train-") and ": Completed, f1=0.9" in job
    assert re.fullmatch(r"waits train \d+s", waits), waits


def deploy_and_delete(clients: dict[str, Any], name: str, variant: dict[str, Any], requests: int) -> None:
    """Deploy a config named as the notebooks name it, answer ``requests``, delete the endpoint, keep the config."""
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


def test_an_endpoint_that_answered_once_is_a_done_real_time_task(clients) -> None:
    team, since = fresh_team(), datetime.now(UTC)
    assert not realtime_endpoint_answered(board(clients, team))[0]
    deploy_and_delete(
        clients, f"maze-{team}-realtime-1", {"InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}, requests=1
    )
    done, evidence = realtime_endpoint_answered(board(clients, team))
    assert done, evidence
    assert evidence.startswith(f"maze-{team}-realtime-1 answered 1 request")
    # The deleted endpoint's provisioning wait: from its config's creation to its first healthy /ping.
    (wait,) = team_waits(clients["sagemaker"], clients["logs"], team, since, datetime.now(UTC))
    assert wait.name == f"maze-{team}-realtime-1" and since < wait.start < wait.end


def test_a_serverless_endpoint_tried_by_hand_has_not_answered_a_load_test(clients) -> None:
    team = fresh_team()
    serverless = {"ServerlessConfig": {"MemorySizeInMB": 1024, "MaxConcurrency": 5}}
    deploy_and_delete(clients, f"maze-{team}-serverless-1", serverless, requests=3)
    done, evidence = serverless_load_test_answered(board(clients, team))
    assert not done
    assert f"answered 3 requests: fewer than a load test ({LOAD_TEST_MIN_ANSWERED})" in evidence


def start_transform(clients: dict[str, Any], model: str, name: str, prefix: str) -> None:
    clients["sagemaker"].create_transform_job(
        TransformJobName=name,
        ModelName=model,
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/{prefix}"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/out/{name}", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 2},
    )
    waiter = clients["sagemaker"].get_waiter("transform_job_completed_or_stopped")
    with contextlib.suppress(WaiterError):  # it raises on Failed; the description says why
        waiter.wait(TransformJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 300})
    job = clients["sagemaker"].describe_transform_job(TransformJobName=name)
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")


def test_a_transform_job_counts_when_both_of_its_instances_answered(clients) -> None:
    team = fresh_team()
    s3 = clients["s3"]
    model = create_model(clients["sagemaker"], s3, upload_model(s3), INPUT_FN)
    for part in range(2):
        s3.put_object(Bucket=BUCKET, Key=f"{team}/parts/part-{part}.csv", Body=TWO_DIGITS)
    start_transform(clients, model, f"maze-{team}-batch-1file", f"{team}/parts/part-0.csv")
    done, evidence = both_instances_worked(board(clients, team))
    assert not done and "in none did both instances answer" in evidence
    start_transform(clients, model, f"maze-{team}-batch-parts", f"{team}/parts/")
    done, evidence = both_instances_worked(board(clients, team))
    assert done, evidence
    both = r"i-\w+=[1-9]\d*, i-\w+=[1-9]\d*"
    assert re.fullmatch(rf"maze-{team}-batch-parts requests answered per instance: {both}", evidence)
