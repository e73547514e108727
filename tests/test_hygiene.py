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


def _tags(cell) -> list[str]:
    return cell.metadata.get("tags", [])


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_ends_with_answered_questions(notebook) -> None:
    """Each question is its own cell, followed by one cell tagged `answer` that the handout empties."""
    cells = nbformat.read(notebook, as_version=4).cells
    answers = [i for i, cell in enumerate(cells) if "answer" in _tags(cell)]
    assert answers, "no markdown cell tagged `answer`"
    assert answers[-1] == len(cells) - 1, "the notebook ends with the answer to its last question"
    assert "Mind tickling" in cells[answers[0] - 1].source
    for i in answers:
        question = cells[i - 1]
        assert cells[i].cell_type == question.cell_type == "markdown"
        assert "answer" not in _tags(question) and question.source.count("**") >= 2, f"cell {i - 1} is no question"
