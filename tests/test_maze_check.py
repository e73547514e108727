"""The progress board against the test session's local cloud: a fresh team, a team that did chapter 1 only,
the endpoint evidence whatever the endpoint's name, and the repository checks of tasks 1-2 on a team's clone
(``tests/test_maze_board.py`` reads teams' branches of a remote, every team at once, a stopped cloud's state).

The whole maze done (every row "done") is what README's run command ends with: ``python -m maze`` prints
the board for its team after the summary and exits non-zero unless every task is done.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat
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
from maze.handout import exercise_notebook
from maze.provisioning import team_waits
from maze.run import record_cloud_side
from maze.status import DONE, NO_REPOSITORY, NOT_DONE, NOT_STARTED
from maze.tasks import TaskResult, run_notebook
from testing.training_jobs import BUCKET
from tests.board_helpers import REAL_TIME, TASKS, TWO_DIGITS, deploy_and_delete, fresh_team, maze_cli, rows
from tests.local_cloud.hosting import INPUT_FN, create_model, upload_model
from tests.notebooks import ROOT

pytestmark = pytest.mark.usefixtures("cloud")  # the board reads the session's cloud


@pytest.fixture(scope="module")
def clients(cloud: Any, s3: Any) -> dict[str, Any]:
    return {"cloud": cloud, **{name: cloud.client(name) for name in ("sagemaker", "s3", "logs", "sagemaker-runtime")}}


@pytest.fixture(scope="module")
def solved_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the solutions' chapter 1 tasks 1-2 as a participant leaves them: task 2's notebook run.

    ``src/train.py`` is what task 2's notebook writes: a team's files have it once the notebook ran.
    """
    repo = tmp_path_factory.mktemp("solved")
    shutil.copytree(ROOT / "chapter_1/task_1", repo / "chapter_1/task_1", ignore=shutil.ignore_patterns("model"))
    task_2 = repo / "chapter_1/task_2"
    task_2.mkdir(parents=True)
    shutil.copy(ROOT / "chapter_1/task_2/training.ipynb", task_2)
    _, error = run_notebook(task_2 / "training.ipynb", task_2 / "executed.ipynb")
    assert not error, error
    return repo


def board(clients: dict[str, Any], team: str, repo: Path | None = None) -> Board:
    return Board(team, repo, clients["sagemaker"], clients["s3"], clients["logs"])


def test_a_fresh_team_in_an_empty_repository_has_started_nothing(tmp_path: Path) -> None:
    team = fresh_team()
    checked = maze_cli("check", "--team", team, "--repo", str(tmp_path))
    assert checked.returncode == 1, checked.stderr
    board = rows(checked.stdout)
    assert len(board) == TASKS
    assert {state for state, _ in board.values()} == {NOT_STARTED}, checked.stdout
    assert f"progress of team '{team}' (files: the clone {tmp_path})" in checked.stdout
    assert f"0 of {TASKS} tasks done" in checked.stdout


def test_without_a_repository_the_board_reads_no_files_not_even_the_answer_key() -> None:
    """It runs in the answer key, whose task 1 script prints the metrics: it must not count that for a team."""
    checked = maze_cli("check", "--team", fresh_team())
    assert checked.returncode == 1, checked.stderr
    board = rows(checked.stdout)
    for task in ("chapter_1/task_1", "chapter_1/task_2"):
        state, evidence = board[task]
        assert state == NO_REPOSITORY and "--remote URL" in evidence and "--repo DIR" in evidence, checked.stdout
    assert "(files: none given)" in checked.stdout


def test_a_repository_that_is_not_a_folder_is_refused(tmp_path: Path) -> None:
    checked = maze_cli("check", "--team", fresh_team(), "--repo", str(tmp_path / "nowhere"))
    assert checked.returncode == 2
    assert "is not a folder" in checked.stderr and "Traceback" not in checked.stderr


def test_a_team_name_sagemaker_cannot_use_is_refused() -> None:
    checked = maze_cli("check", "--team", "Team 7!")
    assert checked.returncode == 2
    assert "MAZE_TEAM='Team 7!'" in checked.stderr and "Traceback" not in checked.stderr


def test_the_repository_tasks_hold_in_the_solutions(clients, solved_repo) -> None:
    statuses = run_checks(board(clients, fresh_team(), solved_repo))
    assert [s.state for s in statuses[:2]] == [DONE, DONE], statuses[:2]
    assert "precision=" in statuses[0].evidence and "f1=" in statuses[0].evidence
    assert re.search(r"^fit returns precision=0\.\d+ .*; src/train\.py prints precision=", statuses[1].evidence)


def test_the_handouts_task_2_run_untouched_is_not_done(clients, tmp_path: Path) -> None:
    """Its %%writefile cell writes the stub (functions raising NotImplementedError); then its first TODO raises."""
    task_2 = tmp_path / "chapter_1/task_2"
    task_2.mkdir(parents=True)
    exercise = exercise_notebook(nbformat.read(ROOT / "chapter_1/task_2/training.ipynb", as_version=4))
    nbformat.write(exercise, task_2 / "training.ipynb")
    _, error = run_notebook(task_2 / "training.ipynb", tmp_path / "executed.ipynb")
    assert "NotImplementedError" in error
    assert "def fit(" in (task_2 / "src/train.py").read_text()
    status = run_checks(board(clients, fresh_team(), tmp_path))[1]
    assert status.state == NOT_DONE and "fit raises NotImplementedError: the handout's stub" in status.evidence


def test_task_1_must_run_and_task_2_s_fit_must_return_the_metrics(clients, tmp_path: Path) -> None:
    (tmp_path / "chapter_1/task_1").mkdir(parents=True)
    (tmp_path / "chapter_1/task_1/train.py").write_text("raise SystemExit('not yet')\n")
    (tmp_path / "chapter_1/task_2/src").mkdir(parents=True)
    (tmp_path / "chapter_1/task_2/src/train.py").write_text("def fit(train, test, **options):\n    return None\n")
    first, second = run_checks(board(clients, fresh_team(), tmp_path))[:2]
    assert first.state == NOT_DONE and "exits with 1: not yet" in first.evidence
    assert second.state == NOT_DONE and "fit returns NoneType, not (model, " in second.evidence


def test_a_team_that_did_chapter_1_only_shows_exactly_that(clients, solved_repo, tmp_path: Path) -> None:
    team = fresh_team()
    notebook = tmp_path / "training.ipynb"
    shutil.copy(ROOT / "chapter_1/task_4/training.ipynb", notebook)
    since = datetime.now(UTC)
    _, error = run_notebook(notebook, tmp_path / "executed.ipynb", env={**os.environ, "MAZE_TEAM": team})
    assert not error, error
    statuses = run_checks(board(clients, team, solved_repo))
    assert [s.state for s in statuses] == [DONE] * 4 + [NOT_STARTED] * 3, "\n".join(map(str, statuses))
    assert f"maze-{team}-train-" in statuses[3].evidence and "f1=" in statuses[3].evidence
    assert run_checks(board(clients, fresh_team()))[3].state == NOT_STARTED, "another team sees not this team's job"
    # What the run command's summary shows for the task: its job with f1, then the optional tuning part's 4 training
    # jobs with theirs, and one provisioning wait (the task's own job: the board and the waits count those only).
    result = TaskResult("chapter_1/task_4", True, 0.0)
    record_cloud_side(result, clients["sagemaker"], clients["logs"], team, since)
    assert (result.figures["provisioned"], result.figures["waits"]) == ("1", "1")
    job, *tuned, waits = result.cloud
    assert job.startswith(f"job maze-{team}-train-") and ": Completed, f1=0.9" in job
    assert len(tuned) == 4, tuned
    tuned_line = rf"job maze-{team}-[0-9a-z]{{6}}-00[1-4]-[0-9a-f]{{8}}: Completed, f1="
    assert all(re.match(tuned_line, line) for line in tuned), tuned
    assert re.fullmatch(r"waits train \d+s", waits), waits


def test_an_endpoint_of_any_name_that_answered_once_is_a_done_real_time_task(clients) -> None:
    """The handout asks for names starting maze-<team>-: what follows is the team's (here not "realtime")."""
    team, since = fresh_team(), datetime.now(UTC)
    assert realtime_endpoint_answered(board(clients, team))[0] == NOT_STARTED
    deploy_and_delete(clients, f"maze-{team}-endpoint-1", REAL_TIME, requests=1)
    state, evidence = realtime_endpoint_answered(board(clients, team))
    assert state == DONE, evidence
    assert evidence.startswith(f"maze-{team}-endpoint-1 answered 1 request")
    assert serverless_load_test_answered(board(clients, team))[0] == NOT_STARTED, (
        "a real-time endpoint is not serverless"
    )
    # The deleted endpoint's provisioning wait: from its config's creation to its first healthy /ping.
    (wait,) = team_waits(clients["sagemaker"], clients["logs"], team, since, datetime.now(UTC))
    assert wait.name == f"maze-{team}-endpoint-1" and since < wait.start < wait.end


def test_a_serverless_endpoint_tried_by_hand_has_not_answered_a_load_test(clients) -> None:
    team = fresh_team()
    serverless = {"ServerlessConfig": {"MemorySizeInMB": 1024, "MaxConcurrency": 5}}
    deploy_and_delete(clients, f"maze-{team}-mine", serverless, requests=3)
    state, evidence = serverless_load_test_answered(board(clients, team))
    assert state == NOT_DONE
    assert (
        f"maze-{team}-mine (1024 MB) answered 3 requests: fewer than a load test ({LOAD_TEST_MIN_ANSWERED})" in evidence
    )
    assert realtime_endpoint_answered(board(clients, team))[0] == NOT_STARTED, "a serverless endpoint is not real-time"


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
    assert both_instances_worked(board(clients, team))[0] == NOT_STARTED
    start_transform(clients, model, f"maze-{team}-one", f"{team}/parts/part-0.csv")
    state, evidence = both_instances_worked(board(clients, team))
    assert state == NOT_DONE and "in none did both instances answer" in evidence
    start_transform(clients, model, f"maze-{team}-two", f"{team}/parts/")
    state, evidence = both_instances_worked(board(clients, team))
    assert state == DONE, evidence
    both = r"i-\w+=[1-9]\d*, i-\w+=[1-9]\d*"
    assert re.fullmatch(rf"maze-{team}-two requests answered per instance: {both}", evidence)
