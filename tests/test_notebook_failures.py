"""A notebook that raises fails the notebook tests, even after ``import sagemaker`` took over IPython's tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tests.notebooks import ROOT


def write_notebook(path: Path, *cells: nbformat.NotebookNode) -> Path:
    notebook = nbformat.v4.new_notebook(cells=list(cells))
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


@pytest.mark.slow
def test_a_raising_cell_after_import_sagemaker_fails_under_the_projects_configuration(tmp_path: Path) -> None:
    code = nbformat.v4.new_code_cell
    tagged = code("raise KeyError('expected, and tagged so')")
    tagged.metadata["tags"] = ["raises-exception"]
    write_notebook(
        tmp_path / "raising.ipynb",
        code("import sagemaker"),
        code("raise ValueError('the notebook fails here')"),
        tagged,
        code("x = 1"),
    )

    # As `make test` runs it, from the repository: pyproject.toml's options, and the root conftest.py that
    # pytest loads for every notebook of the repository (given with -p: this notebook lies outside it).
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", "pyproject.toml", "-p", "conftest", "-q", "--color=no", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )

    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 failed, 3 passed" in done.stdout, done.stdout[-3000:]
    failures = [line for line in done.stdout.splitlines() if line.startswith("FAILED")]
    assert len(failures) == 1 and "raising.ipynb::Cell 1" in failures[0], failures
    assert "Cell execution caused an exception: ValueError: the notebook fails here" in done.stdout
