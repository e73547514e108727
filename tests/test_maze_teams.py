"""Two teams run chapter 1 task 3 at the same time against one local cloud and never touch each other's work."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from local_sagemaker.common.account import ACCOUNT_ID, DEFAULT_REGION
from maze.tasks import run_notebook
from tests.notebooks import ROOT

BUCKET = f"sagemaker-{DEFAULT_REGION}-{ACCOUNT_ID}"  # the SDK's default bucket, which every team shares


def bucket_keys(s3: Any) -> set[str]:
    try:
        pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET))
    except s3.exceptions.NoSuchBucket:
        return set()
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, cloud) -> dict[str, Any]:
    """chapter_1/task_3 for teams red* and blue* (a longest name), in parallel kernels, each in its own folder."""
    s3 = cloud.client("s3")
    suffix = uuid.uuid4().hex
    teams = [f"red{suffix[:6]}", f"blue{suffix[:16]}"]  # blue's is as long as a team name can be: 20 characters
    before = bucket_keys(s3)

    def run(team: str) -> str:
        folder = tmp_path_factory.mktemp(team)
        shutil.copy(ROOT / "chapter_1/task_3/training.ipynb", folder)
        _, error = run_notebook(folder / "training.ipynb", folder / "executed.ipynb", {**os.environ, "MAZE_TEAM": team})
        return error

    with ThreadPoolExecutor(max_workers=2) as pool:
        errors = dict(zip(teams, pool.map(run, teams), strict=True))
    return {
        "teams": teams,
        "errors": errors,
        "sagemaker": cloud.client("sagemaker"),
        "written": bucket_keys(s3) - before,
    }


def jobs_of(sm: Any, team: str) -> list[dict[str, Any]]:
    summaries = sm.list_training_jobs(NameContains=f"maze-{team}-train-", MaxResults=100)["TrainingJobSummaries"]
    return [sm.describe_training_job(TrainingJobName=s["TrainingJobName"]) for s in summaries]


def test_both_notebooks_run_to_the_end(two_runs) -> None:
    assert two_runs["errors"] == {team: "" for team in two_runs["teams"]}


def test_each_team_trains_once_on_its_own_data(two_runs) -> None:
    for team in two_runs["teams"]:
        (job,) = jobs_of(two_runs["sagemaker"], team)
        assert job["TrainingJobStatus"] == "Completed"
        sources = [c["DataSource"]["S3DataSource"]["S3Uri"] for c in job["InputDataConfig"]]
        assert sources and all(uri.startswith(f"s3://{BUCKET}/sagemaker-maze/{team}/") for uri in sources), sources


def test_every_key_written_belongs_to_one_team(two_runs) -> None:
    red, blue = two_runs["teams"]
    written = two_runs["written"]

    def owned_by(team: str, key: str) -> bool:
        return key.startswith((f"sagemaker-maze/{team}/", f"maze-{team}-"))

    assert {key for key in written if owned_by(red, key)}, "red wrote under its own prefix"
    assert {key for key in written if owned_by(blue, key)}, "blue wrote under its own prefix"
    assert [key for key in written if owned_by(red, key) == owned_by(blue, key)] == [], "a key of nobody or both"


def test_the_board_of_one_team_does_not_see_the_other(two_runs) -> None:
    red, blue = two_runs["teams"]
    board = subprocess.run(
        [sys.executable, "-m", "maze", "check", "--team", red],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    ).stdout
    task_3 = next(line for line in board.splitlines() if line.startswith("chapter_1/task_3"))
    assert task_3.split()[1] == "done" and f"maze-{red}-train-" in task_3, board
    assert blue not in board
