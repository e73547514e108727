"""The facilitators' progress board: per task, does the brief's "done when" hold for a team, and the evidence.

Tasks 1-2 of chapter 1 leave nothing in the cloud and are checked from the repository's files.
Every other task is checked from what the cloud itself recorded, read with boto3 only, so the
board tells the truth on AWS as on the local cloud: training jobs and their artefacts and
metrics, the kept endpoint configs with the access lines their endpoints logged (the notebooks
delete the endpoints), and transform jobs with the access lines of each instance.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

import local_sagemaker
from local_sagemaker import daemon
from local_sagemaker.connect import chosen_target
from maze.evidence import endpoint_invocations, transform_instance_invocations
from maze.jobs import team_endpoint_configs, team_training_jobs, team_transform_jobs

METRIC_LINE = re.compile(r"^(precision|recall|f1): ([0-9.]+)$", re.MULTILINE)
METRICS = ("precision", "recall", "f1")
SERVERLESS_MEMORY_MB = 1024
# The brief's load test sends 1000 requests from 1000 processes; a participant trying the endpoint by
# hand sends a handful. Throttled at the SDK's default MaxConcurrency (5), with botocore's retries, the
# load test still gets most answered (947 of 1000 offline on 2 cores). 100 answered requests, a tenth
# of the load test, separates the two with a wide margin on either side.
LOAD_TEST_MIN_ANSWERED = 100
SCRIPT_TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class Status:
    """One row of the board."""

    task: str
    done: bool
    evidence: str


@dataclass(frozen=True)
class Board:
    """What the checks read: the team's cloud (boto3 clients) and its repository."""

    team: str
    repo: Path
    sagemaker: Any
    s3: Any
    logs: Any


def script_prints_metrics(board: Board) -> tuple[bool, str]:
    """chapter_1/task_1/train.py runs (a copy, so the check leaves no model behind) and prints the three metrics."""
    script = board.repo / "chapter_1/task_1/train.py"
    if not script.is_file():
        return False, f"{script} is missing"
    with tempfile.TemporaryDirectory() as folder:
        shutil.copy(script, folder)
        try:
            done = subprocess.run(
                [sys.executable, "train.py"], cwd=folder, capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_SECONDS
            )
        except subprocess.TimeoutExpired:
            return False, f"train.py did not finish in {SCRIPT_TIMEOUT_SECONDS} s"
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1:] or ["no error output"]
        return False, f"train.py exits with {done.returncode}: {last[0]}"
    printed = dict(METRIC_LINE.findall(done.stdout))
    missing = [name for name in METRICS if name not in printed]
    if missing:
        return False, f"train.py does not print {', '.join(missing)}"
    return True, "train.py prints " + " ".join(f"{name}={printed[name]}" for name in METRICS)


def script_has_main_and_fit(board: Board) -> tuple[bool, str]:
    """chapter_1/task_2/src/train.py defines the functions main and fit."""
    script = board.repo / "chapter_1/task_2/src/train.py"
    if not script.is_file():
        return False, f"{script} is missing"
    try:
        tree = ast.parse(script.read_text(), filename=str(script))
    except SyntaxError as error:
        return False, f"src/train.py does not parse: {error.msg} (line {error.lineno})"
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    missing = sorted({"main", "fit"} - defined)
    if missing:
        return False, f"src/train.py has no function {' or '.join(missing)}"
    return True, "src/train.py defines fit and main"


def trained_model_in_s3(board: Board) -> tuple[bool, str]:
    """A completed training job of the team whose model artefact is in S3."""
    jobs = team_training_jobs(board.sagemaker, board.team, status="Completed")
    for job in jobs:
        artefact = job.get("ModelArtifacts", {}).get("S3ModelArtifacts", "")
        bucket, _, key = artefact.removeprefix("s3://").partition("/")
        if not key:
            continue
        try:
            size = board.s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
        except board.s3.exceptions.ClientError:
            continue
        return True, f"{job['TrainingJobName']} Completed, {artefact} ({size / 1024:.0f} KiB)"
    if jobs:
        return False, f"{len(jobs)} completed training job(s), none with its model artefact in S3"
    return False, f"no completed training job maze-{board.team}-train-*"


def metrics_recorded(board: Board) -> tuple[bool, str]:
    """A training job of the team with precision, recall and f1 in its FinalMetricDataList."""
    jobs = team_training_jobs(board.sagemaker, board.team, status="Completed")
    for job in jobs:
        final = {m["MetricName"]: m["Value"] for m in job.get("FinalMetricDataList", [])}
        if all(name in final for name in METRICS):
            figures = " ".join(f"{name}={final[name]:.4f}" for name in METRICS)
            return True, f"{job['TrainingJobName']} FinalMetricDataList {figures}"
    if jobs:
        return False, f"{len(jobs)} completed training job(s), none with precision, recall, f1 in FinalMetricDataList"
    return False, f"no completed training job maze-{board.team}-train-*"


def _answered(board: Board, what: str, fits: Callable[[dict[str, Any]], bool]) -> list[tuple[str, int]]:
    """(endpoint, requests answered) for each of the team's endpoint configs ``maze-<team>-<what>*`` that fits."""
    configs = team_endpoint_configs(board.sagemaker, board.team, what)
    return [
        (config["EndpointConfigName"], endpoint_invocations(board.logs, config["EndpointConfigName"]))
        for config in configs
        if fits(config["ProductionVariants"][0])
    ]


def realtime_endpoint_answered(board: Board) -> tuple[bool, str]:
    """A real-time endpoint of the team that answered at least one request (its access lines)."""
    answered = _answered(board, "realtime", lambda variant: "ServerlessConfig" not in variant)
    for endpoint, count in answered:
        if count >= 1:
            return True, f"{endpoint} answered {count} request(s) (access lines in its log group)"
    if answered:
        return False, f"{len(answered)} real-time endpoint(s) deployed, none answered a request"
    return False, f"no real-time endpoint config maze-{board.team}-realtime*"


def serverless_load_test_answered(board: Board) -> tuple[bool, str]:
    """A serverless endpoint of the team at 1024 MB that answered a load test (LOAD_TEST_MIN_ANSWERED requests)."""
    answered = _answered(
        board,
        "serverless",
        lambda variant: variant.get("ServerlessConfig", {}).get("MemorySizeInMB") == SERVERLESS_MEMORY_MB,
    )
    best = max(answered, key=lambda pair: pair[1], default=None)
    if best is None:
        return False, f"no serverless endpoint config maze-{board.team}-serverless* at {SERVERLESS_MEMORY_MB} MB"
    endpoint, count = best
    done = count >= LOAD_TEST_MIN_ANSWERED
    verdict = "a load test" if done else f"fewer than a load test ({LOAD_TEST_MIN_ANSWERED})"
    return done, f"{endpoint} ({SERVERLESS_MEMORY_MB} MB) answered {count} requests: {verdict}"


def both_instances_worked(board: Board) -> tuple[bool, str]:
    """A transform job of the team on two instances where each instance answered requests."""
    jobs = [
        job
        for job in team_transform_jobs(board.sagemaker, board.team)
        if job["TransformResources"]["InstanceCount"] == 2 and job["TransformJobStatus"] == "Completed"
    ]
    for job in jobs:
        answered = transform_instance_invocations(board.logs, job["TransformJobName"])
        working = {instance: count for instance, count in answered.items() if count > 0}
        if len(working) >= 2:
            figures = ", ".join(f"{instance}={count}" for instance, count in sorted(working.items()))
            return True, f"{job['TransformJobName']} requests answered per instance: {figures}"
    if jobs:
        return False, f"{len(jobs)} completed transform job(s) on 2 instances, in none did both instances answer"
    return False, f"no completed transform job maze-{board.team}-batch* on 2 instances"


CHECKS: list[tuple[str, Callable[[Board], tuple[bool, str]]]] = [
    ("chapter_1/task_1", script_prints_metrics),
    ("chapter_1/task_2", script_has_main_and_fit),
    ("chapter_1/task_3", trained_model_in_s3),
    ("chapter_1/task_4", metrics_recorded),
    ("chapter_2/task_1", realtime_endpoint_answered),
    ("chapter_2/task_2", serverless_load_test_answered),
    ("chapter_2/task_3", both_instances_worked),
]


def run_checks(board: Board) -> list[Status]:
    """Every task's check, in maze order."""
    return [Status(task, *check(board)) for task, check in CHECKS]


def render(team: str, statuses: list[Status]) -> str:
    """The board as a plain table: task, done or not, evidence."""
    lines = [f"progress of team '{team}'", f"{'task':<18}{'done':<6}evidence"]
    lines += [f"{s.task:<18}{'yes' if s.done else 'no':<6}{s.evidence}" for s in statuses]
    lines.append(f"{sum(s.done for s in statuses)} of {len(statuses)} tasks done")
    return "\n".join(lines)


def main(repo: Path) -> int:
    """Connect as a notebook does (AWS or the local cloud, per MAZE_TARGET; team per MAZE_TEAM), print the board.

    Exit status 0 only when every task is done.
    """
    if chosen_target() == "local" and daemon.find(daemon.state_dir()) is None:
        # connect() would start a new, empty local cloud and the board would truthfully say nothing is done.
        print(
            f"No local cloud is running (state {daemon.state_dir()}): the board reads the cloud the notebooks "
            "used. Run the notebooks (or `python -m maze`) first, or use MAZE_TARGET=aws in Studio.",
            file=sys.stderr,
        )
        return 2
    connection = local_sagemaker.connect()
    board = Board(connection.team, repo, boto3.client("sagemaker"), boto3.client("s3"), boto3.client("logs"))
    statuses = run_checks(board)
    print(render(board.team, statuses))
    return 0 if all(s.done for s in statuses) else 1
