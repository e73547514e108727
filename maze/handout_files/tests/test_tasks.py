"""One test per task, in maze order, so that CI shows which tasks your team has done.

- **not started** (skipped, reason "not started"): the task's script does not exist yet (chapter 1,
  task 1's ``train.py``) and every TODO cell of its notebooks is exactly as handed out
  (``tests/tasks.json`` lists them; each must still be a cell of the notebook, text for text, wherever it
  is: adding cells of your own does not start a task, changing or deleting a TODO cell does).
- **started**: the task runs as you run it: its script from its folder, then its notebooks from top to
  bottom in a fresh kernel, against the one local cloud of the session (``conftest.py``). It fails
  when the script exits non-zero or a cell raises, a ``# TODO`` stub left in a required cell included.
  Cells tagged ``optional`` may raise: an optional part never turns a task red (its errors are listed
  as the test's ``optional_errors`` property in the report).
- Tasks run in maze order in one session, so a later task finds what the earlier ones left in the
  cloud (chapter 2 deploys the model of chapter 1's training job). A started task whose previous task
  is not started runs all the same: it fails where it needs the earlier result, with the notebook's
  own message (for instance "No completed training job ...: run chapter 1, task 4 first").

``make test`` writes the results as JUnit XML to ``reports/tasks.xml`` (one ``testcase`` per task,
named ``test_task[chapter_1/task_3]``, with a ``skipped`` element for a task not started and a
``failure`` for a red one) and every executed notebook under ``reports/``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
TASKS = json.loads((ROOT / "tests/tasks.json").read_text())["tasks"]
REPORTS = ROOT / "reports"
OPTIONAL = "optional"
# nbclient lets a cell with this tag raise without stopping the notebook.
MAY_RAISE = "raises-exception"
# Seconds: a whole task, notebooks and all; chapter 2, task 2's load test is the longest.
TASK_TIMEOUT = 3600


def started(task: dict) -> bool:
    """A script of the task exists, or a TODO cell of one of its notebooks is no longer there as handed out."""
    folder = ROOT / task["task"]
    if any((folder / script).exists() for script in task["scripts"]):
        return True
    for name, todos in task["notebooks"].items():
        path = folder / name
        if not path.exists():
            return True
        cells = Counter(cell.source for cell in nbformat.read(path, as_version=4).cells)
        if Counter(todos.values()) - cells:
            return True
    return False


def run_script(folder: Path, script: str) -> None:
    done = subprocess.run([sys.executable, script], cwd=folder, capture_output=True, text=True, timeout=TASK_TIMEOUT)
    if done.returncode != 0:
        pytest.fail(f"`python {script}` in {folder.relative_to(ROOT)} exits with {done.returncode}:\n{done.stderr}")


def run_notebook(path: Path) -> list[str]:
    """Execute the notebook in its folder; fail on a required cell's error; the optional cells' errors."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if OPTIONAL in cell.metadata.get("tags", []):
            cell.metadata["tags"] = [*cell.metadata["tags"], MAY_RAISE]
    optional_errors: list[str] = []

    def note(cell: nbformat.NotebookNode, cell_index: int, execute_reply: dict) -> None:
        """The kernel's reply says a cell raised (nbclient reads it, whatever renders the traceback)."""
        if OPTIONAL in cell.metadata.get("tags", []):
            reply = execute_reply["content"]
            optional_errors.append(f"{path.name} cell {cell_index}: {reply['ename']}: {reply['evalue']}")

    client = NotebookClient(
        nb,
        timeout=1800,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        on_cell_error=note,
    )
    try:
        client.execute()
    except CellExecutionError as error:
        # The error first: once the SDK has installed rich's traceback handler, the kernel sends no traceback
        # text, and the cell alone would not say what went wrong.
        pytest.fail(f"{path.relative_to(ROOT)}: {error.ename}: {error.evalue}\n{error}", pytrace=False)
    finally:
        executed = REPORTS / path.relative_to(ROOT)
        executed.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, executed)
    return optional_errors


@pytest.mark.timeout(TASK_TIMEOUT)
@pytest.mark.parametrize("task", TASKS, ids=[task["task"] for task in TASKS])
def test_task(task: dict, record_property) -> None:
    if not started(task):
        pytest.skip("not started")
    folder = ROOT / task["task"]
    for script in task["scripts"]:
        run_script(folder, script)
    optional_errors = []
    for name in task["notebooks"]:
        optional_errors += run_notebook(folder / name)
    record_property("optional_errors", "; ".join(optional_errors) or "none")
