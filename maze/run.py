"""Run the whole maze offline against the local cloud and print a one-screen summary."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from tqdm import tqdm

from local_sagemaker import daemon
from maze.jobs import training_jobs_since, transform_jobs_since
from maze.tasks import TaskResult, discover, run_task

ROOT = Path(__file__).resolve().parent.parent


def summary(results: list[TaskResult]) -> str:
    """One line a task: status, time, key figures; then its jobs, and the first error line of a failure."""
    lines = [f"{'task':<18}{'status':<8}{'time':>8}  figures"]
    for result in results:
        figures = "  ".join(f"{k}={v}" for k, v in result.figures.items())
        status = "ok" if result.ok else "FAILED"
        lines.append(f"{result.name:<18}{status:<8}{result.seconds:>7.1f}s  {figures}")
        lines += [f"{'':<36}job {job}" for job in result.jobs]
        if result.error:
            lines.append(f"{'':<36}{result.error[:200]}")
    return "\n".join(lines)


def main() -> int:
    os.environ["MAZE_TARGET"] = "local"  # the run command is the offline run, wherever it is started
    state = daemon.state_dir()
    cloud, started = daemon.find_or_start(state, idle_seconds=None)
    sagemaker, logs = cloud.client("sagemaker"), cloud.client("logs")
    results = []
    try:
        with tqdm(discover(ROOT), desc="maze", unit="task") as progress:
            for task in progress:
                progress.set_postfix_str(f"{task.parent.name}/{task.name}")
                since = datetime.now(UTC)
                result = run_task(task, ROOT / "runs")
                result.jobs = training_jobs_since(sagemaker, since) + transform_jobs_since(sagemaker, logs, since)
                results.append(result)
    finally:
        if started:
            daemon.stop(state)
    print(summary(results))
    return 0 if all(r.ok for r in results) else 1
