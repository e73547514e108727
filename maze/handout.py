"""``python -m maze handout DIR``: the participants' repository, generated from the solutions.

The solution notebooks stay the one tested source; the exercise version is derived from them, so the
two never drift (scikit-learn's MOOC works the same way). The stripping is nbgrader's
``ClearSolutions`` (code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes a ``# TODO``
stub, answer cells become an answer stub) and nbconvert's tag and output preprocessors; this module
only chooses what goes into the handout. The markers are described in FACILITATORS.md.

A notebook or task README without any marker would hand out its solution unchanged, so the
generator refuses it instead. The output is deterministic: no timestamps, files in a fixed order,
cells numbered 0, 1, 2, ... as nbstripout numbers them (the participants' clone strips notebooks with
it on every commit), so regenerating an unchanged repository changes nothing in Git, and a fresh clone
has nothing to commit.

The way back is ``fill_in`` (and ``fill_task`` for a whole task folder): it writes each solution region
into its ``# TODO`` stub, each answer into its answer cell, each copied cell back, so that a handout
notebook filled from its solution has the solution's cells, in the same order, with the same code (tested).
A rehearsal of the event uses it to play teams that completed some of the tasks.

The handout also gets ``tests/tasks.json`` (``TASKS_MANIFEST``), the TODO cells of every task as handed
out: its own CI (``tests/test_tasks.py``) reports a task as not started while all of them are unchanged.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ClearOutputPreprocessor, TagRemovePreprocessor
from nbgrader.preprocessors import ClearSolutions

from maze.tasks import OPTIONAL_TAG, discover

ROOT = Path(__file__).resolve().parent.parent
FILES = Path(__file__).resolve().parent / "handout_files"
# The stub a participant finds where solution code was; it raises so that a cell left undone says so.
CODE_STUB = "# TODO: your code here\nraise NotImplementedError()"
ANSWER_STUB = "_Your answer:_"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
ANSWER_TAG = "answer"
REMOVED_TAGS = frozenset({"solution-notes", "solution-check"})
# A code cell tagged ``copy-from:<notebook>`` repeats a cell of the previous task's notebook (chapter 1,
# task 4 starts from task 3's work, as the brief says): the handout asks the team to copy its own cell
# over instead of handing out the solution or making the team type it again.
COPY_PREFIX = "copy-from:"
COPY_STUB = (
    "# TODO: copy here the whole text of your cell of this section in {source} (the same section there)\n"
    "raise NotImplementedError()"
)
# Everything after this line of a task README is the answer key.
README_ANSWERS = "<!-- answers -->"
# Where the handout lists its TODO cells as handed out, for its own CI.
TASKS_MANIFEST = "tests/tasks.json"
# Copied unchanged from the solution repository: the package definition and its build backend, the
# Python selection of the Makefile and the locked versions per Python, the
# session-wide local cloud of the notebook tests (the root conftest and the helpers it imports), their output
# sanitiser, nbdime's notebook driver. The
# handout has its own .gitignore (handout_files/): a team commits everything it produces, src/ included.
VERBATIM = (
    "pyproject.toml",
    "build_backend/maze_build.py",
    "python.mk",
    "requirements/lock-py3.11.txt",
    "requirements/lock-py3.12.txt",
    "conftest.py",
    "tests/session_cloud.py",
    "testing/__init__.py",
    "testing/training_jobs.py",
    "nbval_sanitize.cfg",
    ".gitattributes",
)
# Copied from elsewhere in the solution repository to a new place in the handout.
RELOCATED = {"maze/lab.py": "scripts/lab.py"}


class MissingMarkers(ValueError):
    """A solution file carries no handout markers: handing it out would give the answers away."""


class Unmatched(ValueError):
    """An exercise and a solution that do not map one to one (another notebook, or an exercise edited since)."""


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
    for cell in nb.cells:
        source = copied_from(cell)
        if source is not None:
            cell.source = COPY_STUB.format(source=source)
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
    for index, cell in enumerate(nb.cells):
        cell.metadata.pop("nbgrader", None)
        cell.id = str(index)
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


def copied_from(cell: nbformat.NotebookNode) -> str | None:
    """The notebook a code cell tagged ``copy-from:<notebook>`` repeats a cell of, else None."""
    sources = [tag.removeprefix(COPY_PREFIX) for tag in _tags(cell) if tag.startswith(COPY_PREFIX)]
    return sources[0] if sources and cell.cell_type == "code" else None


def solution_code(source: str) -> str:
    """A solution cell's source as it runs: the region marker lines left out, the regions kept."""
    return "\n".join(line for line in source.split("\n") if BEGIN not in line and END not in line)


def is_todo(cell: nbformat.NotebookNode) -> bool:
    """A handout code cell with something for the team to write: a ``# TODO`` stub or a cell to copy."""
    if cell.cell_type != "code":
        return False
    source = copied_from(cell)
    if source is not None and cell.source == COPY_STUB.format(source=source):
        return True
    return bool(_stub_at(cell.source.split("\n"), CODE_STUB.split("\n")))


def _stub_at(lines: list[str], stub: list[str]) -> list[int]:
    """Where the stub starts in ``lines`` (each stub line after the same indentation), in order."""
    found = []
    for i in range(len(lines) - len(stub) + 1):
        indent = re.match(r"\s*", lines[i]).group(0)
        if all(lines[i + k] == indent + stub[k] for k in range(len(stub))):
            found.append(i)
    return found


def _regions(source: str) -> list[list[str]]:
    """The lines of each solution region of one cell, in order, with their indentation."""
    regions: list[list[str]] = []
    inside = False
    for line in source.split("\n"):
        if BEGIN in line:
            inside = True
            regions.append([])
        elif END in line:
            inside = False
        elif inside:
            regions[-1].append(line)
    return regions


def _fill_cell(exercise: nbformat.NotebookNode, solution: nbformat.NotebookNode) -> str:
    """The exercise cell's source with the solution written into its stubs (unchanged if it has none)."""
    if ANSWER_TAG in _tags(exercise) and exercise.cell_type == "markdown" and exercise.source == ANSWER_STUB:
        return solution.source
    if exercise.cell_type != "code":
        return exercise.source
    if copied_from(exercise) is not None and exercise.source == COPY_STUB.format(source=copied_from(exercise)):
        return solution_code(solution.source)
    lines, stub = exercise.source.split("\n"), CODE_STUB.split("\n")
    starts, regions = _stub_at(lines, stub), _regions(solution.source)
    if not starts:
        return exercise.source
    if len(starts) != len(regions):
        raise Unmatched(
            f"cell {exercise.id}: {len(starts)} `# TODO` stubs in the exercise but {len(regions)} solution regions"
        )
    filled, previous = [], 0
    for start, region in zip(starts, regions, strict=True):
        filled += lines[previous:start] + region
        previous = start + len(stub)
    return "\n".join(filled + lines[previous:])


def fill_in(
    exercise: nbformat.NotebookNode, solution: nbformat.NotebookNode, *, optional: bool = True
) -> nbformat.NotebookNode:
    """The exercise with its solution written in, as a team that completed the task would have it.

    ``exercise`` is the notebook as ``exercise_notebook`` made it (a team's cells may be edited, not
    added or removed): its n-th cell is the n-th solution cell the handout keeps. Each ``# TODO`` stub
    gets the solution region it replaced (the k-th stub of a cell the k-th region of its solution cell),
    each empty answer cell the solution's answer, each cell to copy from the previous task the
    solution's cell. Cells tagged ``optional`` are filled only with ``optional=True``. Everything else of
    the exercise is kept as it is, outputs included; the exercise passed in is left unchanged. Raises
    ``Unmatched`` when the cells do not pair up (number or kind) or a cell's stubs and its solution's
    regions differ in number: the two do not map one to one.
    """
    filled = nbformat.from_dict(exercise)
    kept = [cell for cell in solution.cells if not set(_tags(cell)) & REMOVED_TAGS]
    if [c.cell_type for c in kept] != [c.cell_type for c in filled.cells]:
        raise Unmatched(
            f"the exercise's {len(filled.cells)} cells do not pair up with the {len(kept)} cells the handout keeps "
            "of the solution: another notebook, or cells added or removed since"
        )
    for cell, solution_cell in zip(filled.cells, kept, strict=True):
        if OPTIONAL_TAG not in _tags(cell) or optional:
            cell.source = _fill_cell(cell, solution_cell)
    return filled


def todo_cells(exercise: nbformat.NotebookNode) -> dict[str, str]:
    """The handout's TODO cells of one notebook by id, as handed out: the handout's CI compares against them."""
    return {cell.id: cell.source for cell in exercise.cells if is_todo(cell)}


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


def participant_scripts(solution_task: Path) -> list[Path]:
    """The scripts a task asks the team to write (chapter 1, task 1's ``train.py``): the handout leaves them out."""
    return sorted(solution_task.glob("*.py"))


def fill_task(solution_task: Path, handout_task: Path, *, optional: bool = True) -> list[Path]:
    """Complete one task folder of a handout clone from the solutions, as a team that did the task.

    Every notebook is filled (``fill_in``) and written back, the task's scripts are copied in; the task
    README is left as it is (its answers are the facilitators'). Returns the files written.
    """
    written = []
    for notebook in sorted(handout_task.glob("*.ipynb")):
        solution = nbformat.read(solution_task / notebook.name, as_version=4)
        nbformat.write(fill_in(nbformat.read(notebook, as_version=4), solution, optional=optional), notebook)
        written.append(notebook)
    for script in participant_scripts(solution_task):
        written.append(_copy(script, handout_task / script.name))
    return written


def manifest(solution: Path, handout: Path) -> dict:
    """Each task of the handout in maze order: the scripts it asks for and its TODO cells per notebook."""
    tasks = []
    for task in discover(solution):
        folder = handout / task.relative_to(solution)
        notebooks = {nb.name: todo_cells(nbformat.read(nb, as_version=4)) for nb in sorted(folder.glob("*.ipynb"))}
        scripts = [script.name for script in participant_scripts(task)]
        tasks.append({"task": str(task.relative_to(solution)), "scripts": scripts, "notebooks": notebooks})
    return {"tasks": tasks}


def generate(solution: Path, handout: Path) -> list[Path]:
    """Write the whole handout repository into ``handout``; returns the files written, in order."""
    written = []
    for task in discover(solution):
        written += write_task(task, handout / task.relative_to(solution))
    tasks = handout / TASKS_MANIFEST
    tasks.parent.mkdir(parents=True, exist_ok=True)
    tasks.write_text(json.dumps(manifest(solution, handout), indent=1, sort_keys=True) + "\n")
    written.append(tasks)
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
