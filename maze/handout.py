"""``python -m maze handout DIR``: the participants' repository, generated from the solutions.

The solution notebooks stay the one tested source; the exercise version is derived from them, so the
two never drift (scikit-learn's MOOC works the same way). The stripping is nbgrader's
``ClearSolutions`` (code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes a ``# TODO``
stub, answer cells become an answer stub) and nbconvert's tag and output preprocessors; this module
only chooses what goes into the handout. The markers are described in FACILITATORS.md.

A notebook or task README without any marker would hand out its solution unchanged, so the
generator refuses it instead. The output is deterministic: no timestamps, files in a fixed order,
cell ids kept from the solution, so regenerating an unchanged repository changes nothing in Git.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ClearOutputPreprocessor, TagRemovePreprocessor
from nbgrader.preprocessors import ClearSolutions

from maze.tasks import discover

ROOT = Path(__file__).resolve().parent.parent
FILES = Path(__file__).resolve().parent / "handout_files"
# The stub a participant finds where solution code was; it raises so that a cell left undone says so.
CODE_STUB = "# TODO: your code here\nraise NotImplementedError()"
ANSWER_STUB = "_Your answer:_"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
ANSWER_TAG = "answer"
REMOVED_TAGS = frozenset({"solution-notes", "solution-check"})
# Everything after this line of a task README is the answer key.
README_ANSWERS = "<!-- answers -->"
# Copied unchanged from the solution repository: the package definition and its build backend, the
# session-wide local cloud of the notebook tests, their output sanitiser, what Git ignores, nbdime's
# notebook driver.
VERBATIM = (
    "pyproject.toml",
    "build_backend/maze_build.py",
    "conftest.py",
    "nbval_sanitize.cfg",
    ".gitignore",
    ".gitattributes",
)
# Copied from elsewhere in the solution repository to a new place in the handout.
RELOCATED = {"maze/lab.py": "scripts/lab.py"}


class MissingMarkers(ValueError):
    """A solution file carries no handout markers: handing it out would give the answers away."""


def exercise_notebook(solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The participant's version of one solution notebook (a copy; the solution is left unchanged)."""
    nb = nbformat.from_dict(solution)
    regions = sum(cell.source.count(BEGIN) for cell in nb.cells)
    answers = [cell for cell in nb.cells if cell.cell_type == "markdown" and ANSWER_TAG in _tags(cell)]
    if not regions and not answers:
        raise MissingMarkers(f"no `{BEGIN}` region and no cell tagged `{ANSWER_TAG}`")
    for cell in answers:
        # nbgrader replaces the whole source of a cell its metadata marks as a solution cell.
        cell.metadata["nbgrader"] = {"solution": True, "grade": False, "locked": False}
    resources: dict = {}
    nb, resources = TagRemovePreprocessor(remove_cell_tags=set(REMOVED_TAGS), enabled=True).preprocess(nb, resources)
    nb, resources = ClearOutputPreprocessor().preprocess(nb, resources)
    clear = ClearSolutions(
        code_stub={"python": CODE_STUB},
        text_stub=ANSWER_STUB,
        begin_solution_delimeter=BEGIN,
        end_solution_delimeter=END,
        enforce_metadata=False,
    )
    nb, resources = clear.preprocess(nb, resources)
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    nbformat.validate(nb)
    return nb


def exercise_readme(text: str) -> str:
    """A task README without its answer key (everything after the ``<!-- answers -->`` line)."""
    lines = text.splitlines(keepends=True)
    cut = [i for i, line in enumerate(lines) if line.strip() == README_ANSWERS]
    if not cut:
        raise MissingMarkers(f"no `{README_ANSWERS}` line before the answers")
    return "".join(lines[: cut[0]]).rstrip() + "\n"


def _tags(cell: nbformat.NotebookNode) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def write_task(solution_task: Path, handout_task: Path) -> list[Path]:
    """A task folder: its notebooks as exercises, its README without answers; nothing else.

    Everything else in a solution task folder is either the solution itself (chapter 1, task 1's
    ``train.py``, written by the participants) or what running the task produced (``data/``,
    ``model/``, ``src/``).
    """
    handout_task.mkdir(parents=True, exist_ok=True)
    written = []
    for notebook in sorted(solution_task.glob("*.ipynb")):
        try:
            exercise = exercise_notebook(nbformat.read(notebook, as_version=4))
        except MissingMarkers as error:
            raise MissingMarkers(f"{notebook}: {error}") from None
        target = handout_task / notebook.name
        nbformat.write(exercise, target)
        written.append(target)
    readme = solution_task / "README.md"
    if readme.exists():
        try:
            text = exercise_readme(readme.read_text())
        except MissingMarkers as error:
            raise MissingMarkers(f"{readme}: {error}") from None
        (handout_task / "README.md").write_text(text)
        written.append(handout_task / "README.md")
    return written


def generate(solution: Path, handout: Path) -> list[Path]:
    """Write the whole handout repository into ``handout``; returns the files written, in order."""
    written = []
    for task in discover(solution):
        written += write_task(task, handout / task.relative_to(solution))
    package = handout / "local_sagemaker"
    shutil.copytree(
        solution / "local_sagemaker",
        package,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        copy_function=shutil.copyfile,
    )
    written += sorted(p for p in package.rglob("*") if p.is_file())
    copies = {name: name for name in VERBATIM} | RELOCATED
    for source, target in copies.items():
        written.append(_copy(solution / source, handout / target))
    for source in sorted(p for p in FILES.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        written.append(_copy(source, handout / source.relative_to(FILES)))
    return written


def _copy(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


def prepare(handout: Path, replace: bool) -> None:
    """An empty folder (apart from ``.git``, so DIR can be a clone of the participants' repository).

    With ``replace``, a previous handout in DIR is removed first (its ``.git`` stays), so that files
    the solutions no longer have do not linger.
    """
    handout.mkdir(parents=True, exist_ok=True)
    present = sorted(p for p in handout.iterdir() if p.name != ".git")
    names = ", ".join(p.name for p in present[:5])
    if present and not replace:
        raise FileExistsError(
            f"{handout} is not empty ({names}...): pass --replace to regenerate a handout there (.git is kept)"
        )
    if present and not all((handout / name).is_dir() for name in ("chapter_1", "local_sagemaker")):
        raise FileExistsError(f"{handout} does not look like a previous handout ({names}...): not replacing it")
    for path in present:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m maze handout",
        description="Write the participants' repository (exercises, no answers) into DIR.",
    )
    parser.add_argument("dir", type=Path, metavar="DIR", help="where to write it (empty, or a clone with only .git)")
    parser.add_argument("--replace", action="store_true", help="remove a previous handout in DIR first (keeps .git)")
    parser.add_argument("--solutions", type=Path, default=ROOT, help="the solution repository (default: this one)")
    args = parser.parse_args(argv)
    try:
        prepare(args.dir, args.replace)
        written = generate(args.solutions.resolve(), args.dir)
    except (MissingMarkers, FileExistsError) as error:
        print(f"handout: {error}", file=sys.stderr)
        return 2
    notebooks = [p for p in written if p.suffix == ".ipynb"]
    print(f"handout: {len(written)} files in {args.dir}, {len(notebooks)} exercise notebooks:")
    for notebook in notebooks:
        print(f"  {notebook.relative_to(args.dir)}")
    return 0
