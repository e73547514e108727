"""Find the maze's tasks and run one as a participant would: scripts with Python, notebooks in a kernel."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

# A notebook cell of a task's optional part, kept in the handout: a part a team may skip. Its cells never turn the
# task red in the handout's CI, may stay undone without the task counting as unfinished, and run last.
OPTIONAL_TAG = "optional"
FIGURE = re.compile(
    r"^\s*(precision|recall|f1|accuracy|throughput|throttled)\s*[:=]\s*([0-9]*\.?[0-9]+)\b(?!\.)", re.MULTILINE
)


@dataclass
class TaskResult:
    """What the summary shows for one task."""

    name: str
    ok: bool
    seconds: float
    figures: dict[str, str] = field(default_factory=dict)
    error: str = ""  # the exception type and message of the failing cell or script, "" if the task passed
    cloud: list[str] = field(default_factory=list)  # what it left in the cloud: job lines, its provisioning waits
    executed: Path | None = None  # the executed copy of the notebook that failed
    optional_since: datetime | None = None  # when its first optional cell started, if one ran


def discover(root: Path) -> list[Path]:
    """Task folders in maze order: chapter by chapter, task by task."""

    def order(path: Path) -> tuple[int, int]:
        return int(path.parent.name.split("_")[1]), int(path.name.split("_")[1])

    return sorted((p for p in root.glob("chapter_*/task_*") if p.is_dir()), key=order)


def figures_in(text: str) -> dict[str, str]:
    """The last value printed for each key figure (``f1: 0.96`` lines, as the training script prints them)."""
    return {name: value for name, value in FIGURE.findall(text)}


def run_script(task: Path) -> tuple[str, str]:
    """A task without a notebook is a script run from its own folder (chapter 1, task 1)."""
    done = subprocess.run([sys.executable, "train.py"], cwd=task, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        return done.stdout, done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"
    return done.stdout, ""


def run_notebook(notebook: Path, executed: Path, env: dict[str, str] | None = None) -> tuple[str, str]:
    """Execute in a fresh kernel with the notebook's folder as working directory; keep the executed copy.

    ``env`` is the kernel's environment (default: this process's), e.g. another MAZE_TEAM.
    """
    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(
        nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(notebook.parent)}}
    )
    error = ""
    try:
        client.execute(**({"env": env} if env is not None else {}))
    except CellExecutionError as exc:
        # The kernel's own reply names the exception, whatever renders its traceback (the SDK installs rich's).
        error = f"{exc.ename}: {exc.evalue}"
    executed.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, executed)
    text = "\n".join(
        output.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream"
    )
    return text, error


def optional_start(nb: nbformat.NotebookNode) -> datetime | None:
    """When the executed notebook's first optional cell started (nbclient records each cell's start), or None if
    none ran."""
    for cell in nb.cells:
        if cell.cell_type == "code" and OPTIONAL_TAG in cell.metadata.get("tags", []):
            started = cell.metadata.get("execution", {}).get("iopub.execute_input")
            return datetime.fromisoformat(started.replace("Z", "+00:00")) if started else None
    return None


def run_task(task: Path, runs: Path) -> TaskResult:
    """Run every notebook of a task in name order (or its script) and collect its key figures."""
    name = f"{task.parent.name}/{task.name}"
    started = time.monotonic()
    notebooks = sorted(task.glob("*.ipynb"))
    if notebooks:
        text, error, executed, optional_since = "", "", None, None
        for notebook in notebooks:
            executed = runs / task.parent.name / task.name / notebook.name
            out, error = run_notebook(notebook, executed)
            text += out
            optional_since = optional_since or optional_start(nbformat.read(executed, as_version=4))
            if error:
                break
    else:
        (text, error), executed, optional_since = run_script(task), None, None
    result = TaskResult(name, not error, time.monotonic() - started, figures_in(text), error)
    result.optional_since = optional_since
    result.executed = executed if error else None
    return result
