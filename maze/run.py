"""Run the whole maze offline against the local cloud and print a one-screen summary, then the progress board."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from local_sagemaker.common import state_files
from local_sagemaker.kernel import launcher
from local_sagemaker.kernel.team import team_name
from maze.check import Board, render, run_checks
from maze.jobs import team_training_jobs, team_transform_jobs, training_lines, transform_lines
from maze.provisioning import chain_line, longest_chain, split_at, team_waits
from maze.tasks import TaskResult, discover, run_task

ROOT = Path(__file__).resolve().parent.parent
# How much of a failure's message the summary shows (its first lines, each cut to a screen's width).
ERROR_LINES, ERROR_WIDTH = 6, 200


def summary(results: list[TaskResult]) -> str:
    """One line a task: status, time, key figures; then its jobs; for a failure, why and where to look."""
    lines = [f"{'task':<18}{'status':<8}{'time':>8}  figures"]
    for result in results:
        figures = "  ".join(f"{k}={v}" for k, v in result.figures.items())
        status = "ok" if result.ok else "FAILED"
        lines.append(f"{result.name:<18}{status:<8}{result.seconds:>7.1f}s  {figures}")
        lines += [f"{'':<36}{line}" for line in result.cloud]
        if result.error:
            lines += [f"{'':<36}{line[:ERROR_WIDTH]}" for line in result.error.splitlines()[:ERROR_LINES]]
        if result.executed is not None:
            where = result.executed.relative_to(ROOT) if result.executed.is_relative_to(ROOT) else result.executed
            lines.append(f"{'':<36}the executed notebook, with every output: {where}")
    lines.append(
        "waits = the longest chain of provisioning waits one after another (training and transform jobs, "
        "endpoints) of the task itself, from the cloud's records; optional_waits = the same for its optional parts, "
        "run after it; provisioned = all of them"
    )
    return "\n".join(lines)


def record_cloud_side(result: TaskResult, sagemaker: Any, logs: Any, team: str, since: datetime) -> None:
    """Add what the task left in the cloud: its jobs' lines and its provisioning waits (total and in sequence)."""
    until = datetime.now(UTC)
    jobs = training_lines(team_training_jobs(sagemaker, team, since=since))
    jobs += transform_lines(logs, team_transform_jobs(sagemaker, team, since=since))
    result.cloud = [f"job {line}" for line in jobs]
    waits = team_waits(sagemaker, logs, team, since, until)
    if waits:
        own, optional = split_at(waits, result.optional_since)
        chain = longest_chain(own)
        result.figures["provisioned"] = str(len(waits))
        result.figures["waits"] = str(len(chain))
        result.cloud.append(f"waits {chain_line(chain, team)}")
        if optional:
            result.figures["optional_waits"] = str(len(longest_chain(optional)))
            result.cloud.append(f"optional parts' waits {chain_line(longest_chain(optional), team)}")


def main() -> int:
    os.environ["MAZE_TARGET"] = "local"  # the run command is the offline run, wherever it is started
    team = team_name()  # the notebooks' kernels inherit MAZE_TEAM, so they work for the same team
    state = state_files.state_dir()
    cloud, started = launcher.find_or_start(state, idle_seconds=None)
    sagemaker, logs = cloud.client("sagemaker"), cloud.client("logs")
    results = []
    try:
        with tqdm(discover(ROOT), desc="maze", unit="task") as progress:
            for task in progress:
                progress.set_postfix_str(f"{task.parent.name}/{task.name}")
                since = datetime.now(UTC)
                result = run_task(task, ROOT / "runs")
                record_cloud_side(result, sagemaker, logs, team, since)
                results.append(result)
        board = run_checks(Board(team, ROOT, sagemaker, cloud.client("s3"), logs))
    finally:
        if started:
            launcher.stop(state)
    print(summary(results))
    print(f"\n{render(team, board)}")
    return 0 if all(r.ok for r in results) and all(s.done for s in board) else 1
