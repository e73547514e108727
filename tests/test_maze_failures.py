"""``make maze`` says why a task failed: the failing cell's exception and message, and the executed notebook to open.

The SDK installs rich's traceback handler in IPython at ``import sagemaker``; the kernel then sends no
``error`` output and the traceback nbclient reports is empty, so the reason is read from the kernel's reply.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from maze.run import summary
from maze.tasks import run_task

pytestmark = [pytest.mark.usefixtures("cloud"), pytest.mark.slow]


def test_a_failed_task_shows_its_cells_error_and_the_executed_notebook(tmp_path: Path) -> None:
    task = tmp_path / "chapter_2" / "task_1"
    task.mkdir(parents=True)
    code = nbformat.v4.new_code_cell
    notebook = nbformat.v4.new_notebook(
        cells=[
            code("import sagemaker"),
            code("raise LookupError('no completed training job\\nfor team solo')"),
            code("print('never runs')"),
        ]  # fmt: skip
    )
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, task / "inference.ipynb")

    result = run_task(task, tmp_path / "runs")

    assert not result.ok
    assert result.error == "LookupError: no completed training job\nfor team solo"
    assert result.executed == tmp_path / "runs" / "chapter_2" / "task_1" / "inference.ipynb"
    assert nbformat.read(result.executed, as_version=4).cells[2].outputs == [], "the notebook stops at the error"
    shown = summary([result]).splitlines()
    assert shown[1].startswith("chapter_2/task_1  FAILED")
    assert [line.strip() for line in shown[2:5]] == [
        "LookupError: no completed training job",
        "for team solo",
        f"the executed notebook, with every output: {result.executed}",
    ]
