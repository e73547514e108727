"""Notebooks stay reviewable in Git: no outputs, no execution counts, no Studio metadata."""

import nbformat
import pytest

from tests.notebooks import NOTEBOOKS, ROOT

ALLOWED_METADATA = {"kernelspec", "language_info"}


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, "no notebook found under chapter_*/task_*"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_is_stripped(notebook) -> None:
    nb = nbformat.read(notebook, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"cells {dirty} keep outputs: run `nbstripout {notebook}` (make setup installs the hook)"
    assert set(nb.metadata) <= ALLOWED_METADATA, f"Studio metadata left in: {set(nb.metadata) - ALLOWED_METADATA}"
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_ends_with_answers(notebook) -> None:
    last = nbformat.read(notebook, as_version=4).cells[-1]
    assert last.cell_type == "markdown" and "Mind tickling" in last.source
    assert last.source.count("**") >= 4, "each question should be followed by its answer"
