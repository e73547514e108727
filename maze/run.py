"""Run the whole maze offline and print a one-screen summary."""

from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from maze.tasks import TaskResult, discover, run_task

ROOT = Path(__file__).resolve().parent.parent


def summary(results: list[TaskResult]) -> str:
    """One line a task: status, time, key figures; the first error line of a failed task."""
    lines = [f"{'task':<18}{'status':<8}{'time':>8}  figures"]
    for result in results:
        figures = "  ".join(f"{k}={v}" for k, v in result.figures.items())
        status = "ok" if result.ok else "FAILED"
        lines.append(f"{result.name:<18}{status:<8}{result.seconds:>7.1f}s  {figures}")
        if result.error:
            lines.append(f"{'':<18}{result.error[:200]}")
    return "\n".join(lines)


def main() -> int:
    tasks = discover(ROOT)
    results = []
    with tqdm(tasks, desc="maze", unit="task") as progress:
        for task in progress:
            progress.set_postfix_str(f"{task.parent.name}/{task.name}")
            results.append(run_task(task, ROOT / "runs"))
    print(summary(results))
    return 0 if all(r.ok for r in results) else 1
