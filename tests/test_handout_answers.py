"""Per task: the handout answers none of its questions, and names everything its given cells need.

A task's handout is its notebooks (every cell) and its README as generated. Secret, per task:

- every sentence of its answers and solution notes (cells tagged ``answer`` or ``solution-notes``; chapter 1,
  task 1: the README after ``<!-- answers -->``) of at least ``SENTENCE_MIN_CHARS`` characters;
- every distinctive line of its own solution code: a line of a solution region (or of ``train.py``) with at
  least ``LINE_MIN_CHARS`` characters besides spaces, brackets and quotes, which the task's handout does not
  also give in a cell of its own (``source_dir="src"`` in a hint is an instruction, not a leak).

None of these may appear anywhere in that task's handout, whatever other tasks' notebooks contain.
"""

from __future__ import annotations

import ast
import re
import shutil
import textwrap
from pathlib import Path

import nbformat
import pytest

from maze import handout
from maze.tasks import discover
from tests.notebooks import ROOT

SENTENCE_MIN_CHARS = 30
LINE_MIN_CHARS = 16
TRIVIAL = re.compile(r"[\s()\[\]{},:\"'#]")
SENTENCE_END = re.compile(r"(?<=[.!?:;])\s+|\n\s*[-*]\s+|\n{2,}")
TASKS = discover(ROOT)


def words(text: str) -> str:
    """Whitespace and markdown emphasis folded, so a reflowed sentence still matches."""
    return " ".join(text.replace("**", "").replace("`", "").split())


def tagged(cell: nbformat.NotebookNode, *names: str) -> bool:
    return bool(set(cell.metadata.get("tags", [])) & set(names))


def answer_texts(task: Path) -> list[str]:
    texts = []
    for notebook in sorted(task.glob("*.ipynb")):
        cells = nbformat.read(notebook, as_version=4).cells
        texts += [c.source for c in cells if tagged(c, handout.ANSWER_TAG, "solution-notes")]
    readme = task / "README.md"
    if readme.exists():
        texts.append(readme.read_text().partition(handout.README_ANSWERS)[2])
    return texts


def public_text(task: Path) -> str:
    """What the solution task says outside its answers (its questions, its instructions), folded."""
    texts = []
    for notebook in sorted(task.glob("*.ipynb")):
        cells = nbformat.read(notebook, as_version=4).cells
        texts += [c.source for c in cells if not tagged(c, handout.ANSWER_TAG, *handout.REMOVED_TAGS)]
    readme = task / "README.md"
    if readme.exists():
        texts.append(readme.read_text().partition(handout.README_ANSWERS)[0])
    return words("\n".join(texts))


def secret_sentences(task: Path) -> set[str]:
    """Sentences of the answers and notes that the task does not also say elsewhere (a question repeated)."""
    sentences = {words(s) for text in answer_texts(task) for s in SENTENCE_END.split(text)}
    public = public_text(task)
    return {s for s in sentences if len(s) >= SENTENCE_MIN_CHARS and s not in public}


def solution_lines(task: Path) -> set[str]:
    lines = set()
    for notebook in sorted(task.glob("*.ipynb")):
        for cell in nbformat.read(notebook, as_version=4).cells:
            if cell.cell_type == "code":
                lines |= {line for region in handout._regions(cell.source) for line in region}
    for script in handout.participant_scripts(task):
        lines |= set(script.read_text().splitlines())
    return {line.strip() for line in lines}


def distinctive(line: str) -> bool:
    return not line.startswith("#") and len(TRIVIAL.sub("", line)) >= LINE_MIN_CHARS


def handout_texts(handout_task: Path) -> list[str]:
    texts = [c.source for nb in sorted(handout_task.glob("*.ipynb")) for c in nbformat.read(nb, as_version=4).cells]
    return texts + [p.read_text() for p in sorted(handout_task.iterdir()) if p.is_file() and p.suffix != ".ipynb"]


def given_lines(handout_task: Path) -> set[str]:
    """Lines the handout gives in its code cells (not the hints of its TODOs)."""
    return {
        line.strip()
        for nb in sorted(handout_task.glob("*.ipynb"))
        for cell in nbformat.read(nb, as_version=4).cells
        if cell.cell_type == "code"
        for line in cell.source.splitlines()
        if not line.strip().startswith("#")
    }


def leaks(task: Path, handout_task: Path) -> list[str]:
    """What of the task's answers and solution code its handout shows."""
    texts = handout_texts(handout_task)
    flat = words("\n".join(texts))
    found = [f"answer sentence: {s}" for s in sorted(secret_sentences(task)) if s in flat]
    shown = {line.strip() for text in texts for line in text.splitlines()}
    secret = {line for line in solution_lines(task) if distinctive(line)} - given_lines(handout_task)
    return found + [f"solution line: {line}" for line in sorted(secret & shown)]


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("handout")
    assert handout.main([str(out)]) == 0
    return out


@pytest.mark.parametrize("task", TASKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_handout_answers_none_of_its_questions(task, generated) -> None:
    assert len(secret_sentences(task)) >= 5, "every task has answers to hide"
    assert any(distinctive(line) for line in solution_lines(task)), "every task has solution code to hide"
    found = leaks(task, generated / task.relative_to(ROOT))
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    ("task", "plant"),
    [
        ("chapter_2/task_3", "answer"),
        ("chapter_2/task_2", "code"),
        ("chapter_1/task_1", "answer"),
    ],
)
def test_a_planted_leak_is_caught(task, plant, generated, tmp_path) -> None:
    """A sentence of an answer put into an introduction, or a solution line into a given cell, fails the check."""
    copy = tmp_path / task
    shutil.copytree(generated / task, copy)
    solution = ROOT / task
    if plant == "answer":
        sentence = max(secret_sentences(solution), key=len)
        if (copy / "README.md").exists():
            readme = copy / "README.md"
            readme.write_text(readme.read_text() + "\nFor the record: " + sentence + "\n")
        else:
            notebook = next(copy.glob("*.ipynb"))
            nb = nbformat.read(notebook, as_version=4)
            nb.cells[0].source += "\n\n" + sentence
            nbformat.write(nb, notebook)
        assert any(sentence in found for found in leaks(solution, copy))
    else:
        line = sorted(line for line in solution_lines(solution) if distinctive(line) and line not in given_lines(copy))[
            0
        ]
        notebook = next(copy.glob("*.ipynb"))
        nb = nbformat.read(notebook, as_version=4)
        nb.cells[0].source += f"\n\nFor instance:\n\n    {line}\n"
        nbformat.write(nb, notebook)
        assert f"solution line: {line}" in leaks(solution, copy)


# Hidden contracts: a name a given cell needs, defined only in a solution region, is named in that TODO's hint.


def stored_names(code: str) -> set[str]:
    """Names the code binds: assignments, loop and comprehension variables, functions, classes."""
    python = "\n".join(line for line in textwrap.dedent(code).splitlines() if not line.lstrip().startswith(("!", "%")))
    tree = ast.parse(python)
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return names | {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)}


def loaded_names(code: str) -> set[str]:
    """Names the code reads and does not bind itself (a comprehension's variable is its own)."""
    python = "\n".join(line for line in code.splitlines() if not line.lstrip().startswith(("!", "%")))
    tree = ast.parse(python.replace("raise NotImplementedError()", "pass"))
    loads = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return loads - stored_names(python.replace("raise NotImplementedError()", "pass"))


def module_level_regions(source: str) -> list[str]:
    """The solution regions of a cell that run at module level (not inside a ``def``)."""
    lines, regions = source.split("\n"), []
    for index, line in enumerate(lines):
        if handout.BEGIN not in line:
            continue
        indent = len(line) - len(line.lstrip())
        enclosing = next(
            (ln for ln in reversed(lines[:index]) if ln.strip() and len(ln) - len(ln.lstrip()) < indent), ""
        )
        if not enclosing.lstrip().startswith("def "):
            end = next(i for i in range(index, len(lines)) if handout.END in lines[i])
            regions.append("\n".join(lines[index + 1 : end]))
    return regions


def hint(cells: list[nbformat.NotebookNode], index: int) -> str:
    """A TODO's instructions: its cell's comment lines and the markdown cell just above."""
    comments = "\n".join(line for line in cells[index].source.splitlines() if line.lstrip().startswith("#"))
    above = cells[index - 1].source if index and cells[index - 1].cell_type == "markdown" else ""
    return comments + "\n" + above


def hidden_contracts(solution: list[nbformat.NotebookNode], exercise: list[nbformat.NotebookNode]) -> list[str]:
    """Names a given cell reads that only a TODO region defines, where that TODO's hint does not name them."""
    kept = [cell for cell in solution if not tagged(cell, *handout.REMOVED_TAGS)]
    defined_by_todo: dict[str, int] = {}  # name -> index of the exercise cell whose TODO must define it
    hidden = []
    for index, cell in enumerate(kept):
        if cell.cell_type != "code":
            continue
        given = exercise[index].source
        if handout.copied_from(cell) is None:
            for name in sorted(loaded_names(given) & set(defined_by_todo)):
                owner = defined_by_todo[name]
                if f"`{name}`" not in hint(exercise, owner):
                    hidden.append(f"cell {index} needs `{name}`, defined only by the TODO of cell {owner}")
        given_stores = stored_names(given.replace("raise NotImplementedError()", "pass"))
        for name in given_stores:
            defined_by_todo.pop(name, None)
        if handout.copied_from(cell) is None:
            for region in module_level_regions(cell.source):
                defined_by_todo.update(dict.fromkeys(stored_names(region) - given_stores, index))
    return hidden


@pytest.mark.parametrize(
    "notebook", sorted(ROOT.glob("chapter_*/task_*/*.ipynb")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_every_name_a_given_cell_needs_is_named_in_its_todo(notebook, generated) -> None:
    solution = nbformat.read(notebook, as_version=4).cells
    exercise = nbformat.read(generated / notebook.relative_to(ROOT), as_version=4).cells
    hidden = hidden_contracts(solution, exercise)
    assert not hidden, "\n".join(hidden)


def test_a_todo_that_does_not_name_what_a_given_cell_needs_is_caught(generated) -> None:
    notebook = "chapter_1/task_3/training.ipynb"
    exercise = nbformat.read(generated / notebook, as_version=4).cells
    todo = next(cell for cell in exercise if "define `estimator`" in cell.source)
    todo.source = todo.source.replace("define `estimator`, an", "an")
    hidden = hidden_contracts(nbformat.read(ROOT / notebook, as_version=4).cells, exercise)
    assert any("needs `estimator`" in line for line in hidden), hidden
