"""The facilitators' progress board: per task, does the brief's "done when" hold for a team, and the evidence.

Chapter 1 tasks 1-2 leave nothing in the cloud: they are judged by running the team's scripts
(``maze.team_code``), from the team's branch on the participants' remote (``--remote``) or a team's
clone (``--repo``); never from the answer key the board runs in, unless it is given as ``--repo``.
Every other task is judged by what the cloud itself recorded, read with boto3 only, so the board
tells the truth on AWS as on the local cloud: the team's training jobs with their artefacts and
metrics, its endpoints (real-time or serverless as their configs say, whatever their names after
``maze-<team>-``) with the requests their containers' access lines show answered, and its
transform jobs with the access lines of each instance.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError

from local_sagemaker.common import state_files
from local_sagemaker.kernel import launcher
from local_sagemaker.kernel.connect import chosen_target
from maze.branches import RemoteUnreadable, branch_checkout, remote_teams, team_branch
from maze.evidence import endpoint_invocations, transform_instance_invocations
from maze.jobs import cloud_teams, team_endpoints, team_prefix, team_training_jobs, team_transform_jobs
from maze.status import DONE, NO_REPOSITORY, NOT_DONE, NOT_STARTED, Status
from maze.team_code import METRICS, task_1_script, task_2_fit_and_main

__all__ = ["Board", "Status", "main", "render", "render_all", "run_checks"]

SERVERLESS_MEMORY_MB = 1024
# The brief's load test sends 1000 requests from 1000 processes; a participant trying the endpoint by
# hand sends a handful. Throttled at the SDK's default MaxConcurrency (5), with botocore's retries, the
# load test still gets most answered (947 of 1000 offline on 2 cores). 100 answered requests, a tenth
# of the load test, separates the two with a wide margin on either side.
LOAD_TEST_MIN_ANSWERED = 100
NO_REPOSITORY_GIVEN = (
    NO_REPOSITORY,
    "no repository given: add --remote URL (the participants' repository; the team's branch "
    "teams/<team>) or --repo DIR (a team's clone)",
)


@dataclass(frozen=True)
class Board:
    """What the checks read: the team's files (``repo``; None: ``without_repo`` says why) and its cloud."""

    team: str
    repo: Path | None
    sagemaker: Any
    s3: Any
    logs: Any
    without_repo: tuple[str, str] = NO_REPOSITORY_GIVEN

    @cached_property
    def training_jobs(self) -> list[dict[str, Any]]:
        """The tasks' own estimators' jobs (``maze-<team>-train``), as chapter 2 finds them: an optional part's
        jobs (task 3's ``-prepared``) are no evidence of a task."""
        return team_training_jobs(self.sagemaker, self.team, "train")

    @cached_property
    def endpoints(self) -> list[tuple[str, dict[str, Any]]]:
        return team_endpoints(self.sagemaker, self.team)

    @property
    def prefix(self) -> str:
        return f"{team_prefix(self.team)}*"


def script_prints_metrics(board: Board) -> tuple[str, str]:
    """Chapter 1 task 1: the team's ``train.py`` runs and prints the three metrics."""
    return task_1_script(board.repo) if board.repo else board.without_repo


def fit_and_main_print_metrics(board: Board) -> tuple[str, str]:
    """Chapter 1 task 2: the team's ``src/train.py``: ``fit`` returns the metrics, the script prints them."""
    return task_2_fit_and_main(board.repo) if board.repo else board.without_repo


def trained_model_in_s3(board: Board) -> tuple[str, str]:
    """A completed training job of the team whose model artefact is in S3."""
    jobs = board.training_jobs
    completed = [job for job in jobs if job["TrainingJobStatus"] == "Completed"]
    for job in completed:
        artefact = job.get("ModelArtifacts", {}).get("S3ModelArtifacts", "")
        bucket, _, key = artefact.removeprefix("s3://").partition("/")
        if not key:
            continue
        try:
            size = board.s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
        except board.s3.exceptions.ClientError:
            continue
        return DONE, f"{job['TrainingJobName']} Completed, {artefact} ({size / 1024:.0f} KiB)"
    if completed:
        return NOT_DONE, f"{len(completed)} completed training job(s), none with its model artefact in S3"
    if jobs:
        newest = jobs[0]
        reason = f": {newest['FailureReason']}" if newest.get("FailureReason") else ""
        latest = f"{newest['TrainingJobName']} {newest['TrainingJobStatus']}{reason}"
        return NOT_DONE, f"{len(jobs)} training job(s), none completed; the newest: {latest}"
    return NOT_STARTED, f"no training job {team_prefix(board.team, 'train')}*"


def metrics_recorded(board: Board) -> tuple[str, str]:
    """A training job of the team with precision, recall and f1 in its FinalMetricDataList."""
    for job in board.training_jobs:
        final = {m["MetricName"]: m["Value"] for m in job.get("FinalMetricDataList", [])}
        if all(name in final for name in METRICS):
            figures = " ".join(f"{name}={final[name]:.4f}" for name in METRICS)
            return DONE, f"{job['TrainingJobName']} FinalMetricDataList {figures}"
    defined = [job for job in board.training_jobs if job.get("AlgorithmSpecification", {}).get("MetricDefinitions")]
    if defined:
        missing = "none with precision, recall, f1 in FinalMetricDataList"
        return NOT_DONE, f"{len(defined)} training job(s) with metric definitions, {missing}"
    return NOT_STARTED, f"no training job {team_prefix(board.team, 'train')}* with metric definitions"


def _answered(board: Board, fits: Callable[[dict[str, Any]], bool]) -> list[tuple[str, dict[str, Any], int]]:
    """(endpoint, its variant, requests its container answered) for each endpoint of the team whose variant ``fits``."""
    variants = [(endpoint, config["ProductionVariants"][0]) for endpoint, config in board.endpoints]
    return [
        (endpoint, variant, endpoint_invocations(board.logs, endpoint))
        for endpoint, variant in variants
        if fits(variant)
    ]


def _serverless(variant: dict[str, Any]) -> bool:
    return "ServerlessConfig" in variant


def realtime_endpoint_answered(board: Board) -> tuple[str, str]:
    """A real-time endpoint of the team (its config has instances, no ServerlessConfig) that answered a request."""
    answered = _answered(board, lambda variant: not _serverless(variant))
    for endpoint, _, count in answered:
        if count >= 1:
            return DONE, f"{endpoint} answered {count} request(s) (access lines in its log group)"
    if answered:
        return NOT_DONE, f"{len(answered)} real-time endpoint(s) deployed, none answered a request"
    return NOT_STARTED, f"no real-time endpoint {board.prefix}"


def serverless_load_test_answered(board: Board) -> tuple[str, str]:
    """A serverless endpoint of the team at 1024 MB that answered a load test (LOAD_TEST_MIN_ANSWERED requests)."""
    deployed = _answered(board, _serverless)
    at_size = [
        (endpoint, count)
        for endpoint, variant, count in deployed
        if variant["ServerlessConfig"].get("MemorySizeInMB") == SERVERLESS_MEMORY_MB
    ]
    best = max(at_size, key=lambda pair: pair[1], default=None)
    if best is None:
        if deployed:
            return NOT_DONE, f"{len(deployed)} serverless endpoint(s), none at {SERVERLESS_MEMORY_MB} MB"
        return NOT_STARTED, f"no serverless endpoint {board.prefix}"
    endpoint, count = best
    done = count >= LOAD_TEST_MIN_ANSWERED
    verdict = "a load test" if done else f"fewer than a load test ({LOAD_TEST_MIN_ANSWERED})"
    return (DONE if done else NOT_DONE), f"{endpoint} ({SERVERLESS_MEMORY_MB} MB) answered {count} requests: {verdict}"


def both_instances_worked(board: Board) -> tuple[str, str]:
    """A transform job of the team on two instances where each instance answered requests."""
    jobs = team_transform_jobs(board.sagemaker, board.team)
    on_two = [
        job
        for job in jobs
        if job["TransformResources"]["InstanceCount"] == 2 and job["TransformJobStatus"] == "Completed"
    ]
    for job in on_two:
        answered = transform_instance_invocations(board.logs, job["TransformJobName"])
        working = {instance: count for instance, count in answered.items() if count > 0}
        if len(working) >= 2:
            figures = ", ".join(f"{instance}={count}" for instance, count in sorted(working.items()))
            return DONE, f"{job['TransformJobName']} requests answered per instance: {figures}"
    if on_two:
        return NOT_DONE, f"{len(on_two)} completed transform job(s) on 2 instances, in none did both instances answer"
    if jobs:
        return NOT_DONE, f"{len(jobs)} transform job(s), none completed on 2 instances"
    return NOT_STARTED, f"no transform job {board.prefix}"


CHECKS: list[tuple[str, Callable[[Board], tuple[str, str]]]] = [
    ("chapter_1/task_1", script_prints_metrics),
    ("chapter_1/task_2", fit_and_main_print_metrics),
    ("chapter_1/task_3", trained_model_in_s3),
    ("chapter_1/task_4", metrics_recorded),
    ("chapter_2/task_1", realtime_endpoint_answered),
    ("chapter_2/task_2", serverless_load_test_answered),
    ("chapter_2/task_3", both_instances_worked),
]


def run_checks(board: Board) -> list[Status]:
    """Every task's check, in maze order."""
    return [Status(task, *check(board)) for task, check in CHECKS]


def render(team: str, statuses: list[Status], files: str = "") -> str:
    """One team's board: task, state, evidence; ``files`` says where its repository tasks were read."""
    lines = [f"progress of team '{team}'" + (f" (files: {files})" if files else "")]
    lines.append(f"{'task':<18}{'state':<14}evidence")
    lines += [f"{s.task:<18}{s.state:<14}{s.evidence}" for s in statuses]
    lines.append(f"{sum(s.done for s in statuses)} of {len(statuses)} tasks done")
    return "\n".join(lines)


def task_label(task: str) -> str:
    """``chapter_2/task_3`` as ``2.3``, a column of the teams' table."""
    chapter, number = (part.split("_")[1] for part in task.split("/"))
    return f"{chapter}.{number}"


def render_all(boards: dict[str, list[Status]], files: str = "") -> str:
    """Every team's board as one table: a row per team, a column per task, the state in each cell."""
    width = max([len("team"), *map(len, boards)]) + 2
    tasks = [task for task, _ in CHECKS]
    lines = [f"progress of {len(boards)} team(s)" + (f" (files: {files})" if files else "")]
    lines.append(f"{'team':<{width}}" + "".join(f"{task_label(task):<14}" for task in tasks) + "done")
    for team, statuses in boards.items():
        cells = "".join(f"{s.state:<14}" for s in statuses)
        lines.append(f"{team:<{width}}{cells}{sum(s.done for s in statuses)}/{len(statuses)}")
    lines.append("the evidence of one team: python -m maze check --team <team> (with the same --remote)")
    return "\n".join(lines)


@contextmanager
def cloud_clients(target: str) -> Iterator[Callable[[str], Any]]:
    """A boto3 client factory for the cloud the notebooks use: AWS (MAZE_TARGET=aws, Studio) or the local cloud.

    The local cloud keeps everything the notebooks did in its state dir after it stops (``make maze``
    ends, its last kernel exits): when none runs, one is started on that state for the check and
    stopped when the board is printed.
    """
    if target == "aws":
        yield boto3.client
        return
    state = state_files.state_dir()
    cloud, started = launcher.find_or_start(state, idle_seconds=None)
    if started:
        print(
            f"no local cloud was running: reading the state it kept in {state} (started for this check)",
            file=sys.stderr,
        )
    try:
        yield cloud.client
    finally:
        if started:
            launcher.stop(state)


def check_team(
    team: str, clients: tuple[Any, Any, Any], repo: Path | None, remote: str | None, branches: list[str]
) -> list[Status]:
    """One team's statuses; with ``remote``, its files are its branch's (a temporary clone, removed afterwards)."""
    if remote is None:
        return run_checks(Board(team, repo, *clients))
    if team not in branches:
        missing = (NOT_STARTED, f"no branch {team_branch(team)} on the remote")
        return run_checks(Board(team, None, *clients, without_repo=missing))
    with branch_checkout(remote, team) as checkout:
        return run_checks(Board(team, checkout, *clients))


def _files(team: str, repo: Path | None, remote: str | None) -> str:
    if remote is not None:
        return f"branch {team_branch(team)} of {remote}"
    return f"the clone {repo}" if repo is not None else "none given"


def main(team: str | None, repo: Path | None = None, remote: str | None = None) -> int:
    """Print one team's board, or with ``team`` None every team's as one table (the teams with a branch on
    ``remote`` and those with resources in the cloud). Exit status 0 only when every task shown is done."""
    if repo is not None and not repo.is_dir():
        print(f"check: --repo {repo} is not a folder: give the path of a team's clone", file=sys.stderr)
        return 2
    try:
        target = chosen_target()
    except ValueError as error:  # MAZE_TARGET neither aws nor local
        print(f"check: {error}", file=sys.stderr)
        return 2
    try:
        branches, misnamed = remote_teams(remote) if remote is not None else ([], [])
        for branch in misnamed:
            print(f"check: skipped {branch}: a team name is lowercase letters and digits", file=sys.stderr)
        with cloud_clients(target) as client:
            clients = (client("sagemaker"), client("s3"), client("logs"))
            teams = [team] if team else sorted(set(branches) | cloud_teams(clients[0]))
            boards = {name: check_team(name, clients, repo, remote, branches) for name in teams}
    except (RemoteUnreadable, launcher.LocalCloudNotRunning, BotoCoreError) as error:
        print(f"check: {error}", file=sys.stderr)
        return 2
    if not boards:
        print("no team found: no branch teams/<team> on the remote, no resource maze-<team>-* in the cloud")
        return 1
    files = _files(team or "<team>", repo, remote)
    print(render(team, boards[team], files) if team else render_all(boards, files))
    return 0 if all(s.done for statuses in boards.values() for s in statuses) else 1
