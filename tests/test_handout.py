"""The participants' handout: exercises generated from the solutions, with nothing of the answers in them."""

from __future__ import annotations

import filecmp
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from maze import handout
from maze.tasks import discover
from tests.notebooks import ROOT

# Lines shorter than this ("return model", ")") say nothing about a solution on their own.
SECRET_MIN_CHARS = 16
TODO = "# TODO"
HANDOUT_TEAM = "handouttest"


def synthetic_solution() -> nbformat.NotebookNode:
    """A small solution notebook with every kind of marker, outputs and all."""
    ran = new_code_cell("print('hello')", id="run", execution_count=3)
    ran.outputs = [new_output("stream", name="stdout", text="hello\n")]
    return new_notebook(
        cells=[
            new_markdown_cell("# Task\nTrain a forest.", id="intro"),
            ran,
            new_code_cell(
                "import math\n\n\ndef fit(data):\n    # TODO: fit the forest on data\n    ### BEGIN SOLUTION\n"
                "    model = secret_forest_fit(data, trees=123)\n    return model\n    ### END SOLUTION\n\n\n"
                "print('boilerplate after the region stays')",
                id="fit",
            ),
            new_code_cell("### BEGIN SOLUTION\nwhole_cell_is_the_solution = 42\n### END SOLUTION", id="whole"),
            new_markdown_cell("The forest wins because of the secret sauce in solution notes.", id="notes"),
            new_code_cell("assert whole_cell_is_the_solution == 42", id="check"),
            new_markdown_cell("**Where does training run?**", id="q1"),
            new_markdown_cell("On the space's own instance, an ml.t3.medium by default.", id="a1"),
        ],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )


def unmarked() -> nbformat.NotebookNode:
    """A finished notebook nobody marked up: handing it out would hand out its solution."""
    nb = synthetic_solution()
    for cell in nb.cells:
        cell.source = "\n".join(line for line in cell.source.splitlines() if "SOLUTION" not in line)
    return nb


def tag(nb: nbformat.NotebookNode, cell_id: str, name: str) -> None:
    next(c for c in nb.cells if c.id == cell_id).metadata["tags"] = [name]


@pytest.fixture
def solution() -> nbformat.NotebookNode:
    nb = synthetic_solution()
    tag(nb, "notes", "solution-notes")
    tag(nb, "check", "solution-check")
    tag(nb, "a1", "answer")
    return nb


def test_exercise_replaces_regions_empties_answers_and_drops_solution_cells(solution) -> None:
    exercise = handout.exercise_notebook(solution)
    nbformat.validate(exercise)
    assert [c.id for c in exercise.cells] == ["0", "1", "2", "3", "4", "5"], "numbered as nbstripout numbers them"
    cells = dict(zip(["intro", "run", "fit", "whole", "q1", "a1"], exercise.cells, strict=True))
    assert cells["fit"].source == (
        "import math\n\n\ndef fit(data):\n    # TODO: fit the forest on data\n    # TODO: your code here\n"
        "    raise NotImplementedError()\n\n\nprint('boilerplate after the region stays')"
    )
    assert cells["whole"].source == handout.CODE_STUB
    assert cells["a1"].source == handout.ANSWER_STUB and cells["a1"].metadata["tags"] == ["answer"]
    assert "nbgrader" not in cells["a1"].metadata
    assert cells["run"].outputs == [] and cells["run"].execution_count is None
    assert "secret_forest_fit" in solution.cells[2].source, "the solution itself is left unchanged"


def test_notebook_without_markers_is_refused() -> None:
    with pytest.raises(handout.MissingMarkers):
        handout.exercise_notebook(unmarked())


def test_readme_loses_everything_after_the_answers_line() -> None:
    text = "# Task 1\n\n1. **Question?**\n\n<!-- answers -->\n\n**Question?**\n\nThe answer.\n"
    assert handout.exercise_readme(text) == "# Task 1\n\n1. **Question?**\n"
    with pytest.raises(handout.MissingMarkers):
        handout.exercise_readme("# Task 1\n\n**Question?**\n\nThe answer.\n")


def test_an_unmarked_solution_repository_is_refused(tmp_path, capsys) -> None:
    task = tmp_path / "solutions/chapter_1/task_2"
    task.mkdir(parents=True)
    nbformat.write(unmarked(), task / "training.ipynb")
    assert handout.main([str(tmp_path / "out"), "--solutions", str(tmp_path / "solutions")]) == 2
    assert "training.ipynb: no `### BEGIN SOLUTION` region" in capsys.readouterr().err


def test_a_non_empty_directory_is_kept_unless_replace(tmp_path, capsys) -> None:
    out = tmp_path / "out"
    (out / ".git").mkdir(parents=True)
    (out / "notes.txt").write_text("mine")
    assert handout.main([str(out)]) == 2
    assert "not empty" in capsys.readouterr().err and (out / "notes.txt").exists()
    assert handout.main([str(out), "--replace"]) == 2, "--replace only replaces a previous handout"
    assert "does not look like a previous handout" in capsys.readouterr().err and (out / "notes.txt").exists()
    (out / "chapter_1/task_1").mkdir(parents=True)
    (out / "local_sagemaker").mkdir()
    handout.prepare(out, replace=True)
    assert [p.name for p in out.iterdir()] == [".git"]


# The real solutions.


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("handout")
    assert handout.main([str(out)]) == 0
    return out


def handout_notebooks(root: Path) -> list[Path]:
    return [nb for task in discover(root) for nb in sorted(task.glob("*.ipynb"))]


def test_layout_is_the_solutions_without_the_solution_files(generated) -> None:
    solution_tasks = [t.relative_to(ROOT) for t in discover(ROOT)]
    assert [t.relative_to(generated) for t in discover(generated)] == solution_tasks
    assert [nb.relative_to(generated) for nb in handout_notebooks(generated)] == [
        nb.relative_to(ROOT) for nb in handout_notebooks(ROOT)
    ]
    assert not (generated / "chapter_1/task_1/train.py").exists(), "participants write train.py"
    assert (generated / "chapter_1/task_1/README.md").exists()
    for name in (
        "README.md",
        "pyproject.toml",
        "conftest.py",
        "Makefile",
        ".gitattributes",
        "scripts/lab.py",
        ".github/workflows/tasks.yml",
        "tests/test_tasks.py",
        handout.TASKS_MANIFEST,
        "local_sagemaker/kernel/connect.py",
    ):
        assert (generated / name).is_file(), name
    assert not (generated / "maze").exists()
    # The handout's own checks and the session cloud its conftest imports: none of the solution repository's tests.
    assert sorted(p.name for p in (generated / "tests").iterdir() if p.name != "__pycache__") == [
        "__init__.py", "session_cloud.py", "tasks.json", "test_tasks.py"
    ]


def test_a_team_commits_everything_it_writes(generated, tmp_path) -> None:
    """The handout's .gitignore keeps src/ (task 2's src/train.py is the work reviewed) and drops what reruns make."""
    repo = tmp_path / "clone"
    shutil.copytree(generated, repo)
    git(repo, "init", "-q")
    for written in ("chapter_1/task_2/src/train.py", "chapter_2/task_1/src/predict.py", "chapter_1/task_1/train.py"):
        (repo / written).parent.mkdir(parents=True, exist_ok=True)
        (repo / written).write_text("print('ours')\n")
    produced_by_runs = ("chapter_1/task_3/data/train/train.csv", "chapter_1/task_3/model/model.joblib", "reports/t.xml")
    for produced in produced_by_runs:
        (repo / produced).parent.mkdir(parents=True, exist_ok=True)
        (repo / produced).write_text("x")
    untracked = git(repo, "status", "--porcelain", "--untracked-files=all", "--", "chapter_1", "chapter_2", "reports")
    assert "chapter_1/task_2/src/train.py" in untracked and "chapter_2/task_1/src/predict.py" in untracked
    assert "chapter_1/task_1/train.py" in untracked
    assert "data/" not in untracked and "model/" not in untracked and "reports/" not in untracked


# The way back: a handout notebook filled from its solution is the solution (the rehearsal's teams).


def test_fill_in_writes_each_region_into_its_stub_and_each_answer_into_its_cell(solution) -> None:
    tag(solution, "whole", handout.OPTIONAL_TAG)
    exercise = handout.exercise_notebook(solution)
    filled = handout.fill_in(exercise, solution)
    cells = dict(zip(["intro", "run", "fit", "whole", "q1", "a1"], filled.cells, strict=True))
    assert cells["fit"].source == handout.solution_code(next(c for c in solution.cells if c.id == "fit").source)
    assert "secret_forest_fit(data, trees=123)" in cells["fit"].source and "SOLUTION" not in cells["fit"].source
    assert cells["whole"].source == "whole_cell_is_the_solution = 42"
    assert cells["a1"].source == "On the space's own instance, an ml.t3.medium by default."
    assert handout.todo_cells(filled) == {} and set(handout.todo_cells(exercise)) == {"2", "3"}
    assert exercise.cells[2].source.count(handout.CODE_STUB.split("\n")[1]) == 1, "the exercise is left unchanged"
    required_only = handout.fill_in(exercise, solution, optional=False)
    assert required_only.cells[3].source == handout.CODE_STUB
    assert set(handout.todo_cells(required_only)) == {"3"}


def test_fill_in_refuses_an_exercise_that_does_not_map_one_to_one(solution) -> None:
    exercise = handout.exercise_notebook(solution)
    exercise.cells[2].source += "\n" + handout.CODE_STUB
    with pytest.raises(handout.Unmatched, match="cell 2: 2 `# TODO` stubs in the exercise but 1 solution regions"):
        handout.fill_in(exercise, solution)
    exercise = handout.exercise_notebook(solution)
    del exercise.cells[0]
    with pytest.raises(handout.Unmatched, match="the exercise's 5 cells do not pair up with the 6 cells"):
        handout.fill_in(exercise, solution)


def runs_as(nb: nbformat.NotebookNode) -> list[tuple[str, str, str]]:
    """What a notebook runs and shows, cell by cell: type, tags, code without the region markers."""
    return [
        (
            cell.cell_type,
            cell.metadata.get("tags", []),
            handout.solution_code(cell.source) if cell.cell_type == "code" else cell.source,
        )
        for cell in nb.cells
        if not set(cell.metadata.get("tags", [])) & handout.REMOVED_TAGS
    ]


@pytest.mark.usefixtures("cloud")
@pytest.mark.slow
@pytest.mark.parametrize("notebook", handout_notebooks(ROOT), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_handout_notebook_filled_from_its_solution_runs_as_the_solution(notebook, generated) -> None:
    """Same cells in the same order, same code: TODO cells and solution regions map one to one."""
    solution = nbformat.read(notebook, as_version=4)
    exercise = nbformat.read(generated / notebook.relative_to(ROOT), as_version=4)
    assert handout.todo_cells(exercise), "something to fill"
    filled = handout.fill_in(exercise, solution)
    assert runs_as(filled) == runs_as(solution)
    assert handout.todo_cells(filled) == {}
    nbformat.validate(filled)


def test_fill_task_completes_a_task_folder_scripts_included(generated, tmp_path) -> None:
    clone = tmp_path / "team"
    shutil.copytree(generated, clone)
    for task in discover(ROOT):
        written = handout.fill_task(task, clone / task.relative_to(ROOT))
        assert written, task
    assert (clone / "chapter_1/task_1/train.py").read_text() == (ROOT / "chapter_1/task_1/train.py").read_text()
    manifest = json.loads((generated / handout.TASKS_MANIFEST).read_text())
    assert [t["task"] for t in manifest["tasks"]] == [str(t.relative_to(ROOT)) for t in discover(ROOT)]
    assert manifest["tasks"][0] == {"task": "chapter_1/task_1", "scripts": ["train.py"], "notebooks": {}}
    for task in manifest["tasks"]:
        for name, todos in task["notebooks"].items():
            assert todos, f"{task['task']}/{name} lists its TODO cells"
            filled = [c.source for c in nbformat.read(clone / task["task"] / name, as_version=4).cells]
            assert not set(todos.values()) & set(filled), "every TODO cell filled"


def solution_regions(source: str) -> list[str]:
    """The lines between the markers of every region of one cell."""
    inside, lines = False, []
    for line in source.splitlines():
        if handout.BEGIN in line:
            inside = True
        elif handout.END in line:
            inside = False
        elif inside:
            lines.append(line)
    return lines


def secret_and_public_lines() -> tuple[set[str], set[str]]:
    """Lines of the solutions a participant must not see, and lines the handout may keep."""
    secret, public = set(), set()
    for notebook in handout_notebooks(ROOT):
        for cell in nbformat.read(notebook, as_version=4).cells:
            tags = set(cell.metadata.get("tags", []))
            region = set(solution_regions(cell.source))
            if tags & ({handout.ANSWER_TAG} | handout.REMOVED_TAGS):
                secret |= set(cell.source.splitlines())
            else:
                secret |= region
                public |= set(cell.source.splitlines()) - region
    for readme in ROOT.glob("chapter_*/task_*/README.md"):
        head, _, answers = readme.read_text().partition(handout.README_ANSWERS)
        secret |= set(answers.splitlines())
        public |= set(head.splitlines())
    secret |= set((ROOT / "chapter_1/task_1/train.py").read_text().splitlines())
    strip = {line.strip() for line in secret}, {line.strip() for line in public}
    return {line for line in strip[0] - strip[1] if len(line) >= SECRET_MIN_CHARS}, strip[1]


def handout_lines(root: Path) -> set[str]:
    """Every line of the handout's notebooks and task files, stripped.

    Whole lines, not substrings: a hint may quote an argument of the solution (``source_dir="src"``).
    """
    texts = [c.source for nb in handout_notebooks(root) for c in nbformat.read(nb, as_version=4).cells]
    texts += [p.read_text() for p in sorted(root.glob("chapter_*/task_*/*")) if p.suffix != ".ipynb"]
    return {line.strip() for text in texts for line in text.splitlines()}


def test_no_solution_code_and_no_answer_is_handed_out(generated) -> None:
    secret, _ = secret_and_public_lines()
    assert len(secret) >= 20, "the solutions should have regions, answers and train.py to hide"
    leaked = sorted(secret & handout_lines(generated))
    assert not leaked, f"solution lines in the handout: {leaked[:10]}"


@pytest.mark.parametrize("notebook", handout_notebooks(ROOT), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_solution_notebook_has_exercises_and_answers(notebook) -> None:
    cells = nbformat.read(notebook, as_version=4).cells
    assert any(handout.BEGIN in c.source for c in cells if c.cell_type == "code"), "no code for participants"
    assert any(handout.ANSWER_TAG in c.metadata.get("tags", []) for c in cells), "no answer cell"


def before_first_todo(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    todos = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and TODO in c.source]
    assert todos, "no `# TODO` cell: nothing for participants to write"
    first = todos[0]
    return nbformat.from_dict({**nb, "cells": nb.cells[:first]})


def execute(nb: nbformat.NotebookNode, folder: Path) -> list[dict]:
    """Run in a fresh kernel with ``folder`` as working directory; the error outputs."""
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]


@pytest.fixture(scope="module")
def team_with_a_trained_model(tmp_path_factory, cloud) -> str:
    """Chapter 2 starts from a team's chapter 1 result: solved task 3 leaves a trained model and the data in S3."""
    assert os.environ.get("MAZE_STATE_DIR"), "the root conftest.py names the session's state dir"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MAZE_TEAM", HANDOUT_TEAM)
        solved = ROOT / "chapter_1/task_3/training.ipynb"
        assert not execute(nbformat.read(solved, as_version=4), tmp_path_factory.mktemp("solved-task-3"))
    return HANDOUT_TEAM


@pytest.fixture(scope="module")
def participant_clone(generated, tmp_path_factory) -> Path:
    """A copy to run the notebooks in, so what they write stays out of the generated handout."""
    clone = tmp_path_factory.mktemp("clone") / "participants"
    shutil.copytree(generated, clone)
    return clone


@pytest.mark.slow
@pytest.mark.parametrize("notebook", handout_notebooks(ROOT), ids=lambda p: str(p.relative_to(ROOT)))
def test_handout_notebook_is_valid_and_runs_up_to_its_first_todo(
    notebook, participant_clone, team_with_a_trained_model, monkeypatch
) -> None:
    """As a participant runs it, for a team that did the previous tasks; the cells after need their code."""
    path = participant_clone / notebook.relative_to(ROOT)
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    monkeypatch.setenv("MAZE_TEAM", team_with_a_trained_model)
    errors = execute(before_first_todo(nb), path.parent)
    assert not errors, errors


def test_a_second_generation_is_byte_identical(tmp_path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    assert handout.main([str(first)]) == 0 and handout.main([str(second)]) == 0
    files = sorted(str(p.relative_to(first)) for p in first.rglob("*") if p.is_file())
    assert files == sorted(str(p.relative_to(second)) for p in second.rglob("*") if p.is_file())
    _, mismatch, errors = filecmp.cmpfiles(first, second, files, shallow=False)
    assert not mismatch and not errors


# nbdime's git integration, as the handout's setup (and `make setup`) configures it.

SCRIPT = ROOT / "maze/handout_files/scripts/notebook-diffs.sh"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, timeout=60, check=True)
    return ANSI.sub("", done.stdout)


@pytest.mark.slow
def test_git_shows_notebook_changes_cell_by_cell(tmp_path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "team@example.com")
    git(repo, "config", "user.name", "team")
    attributes = (ROOT / ".gitattributes").read_text()
    (repo / ".gitattributes").write_text(attributes)
    subprocess.run(["sh", str(SCRIPT), str(ROOT / ".venv/bin")], cwd=repo, check=True, timeout=60, capture_output=True)
    assert (repo / ".gitattributes").read_text() == attributes, "the committed attributes stay as they are"
    nb = new_notebook(cells=[new_markdown_cell("# Title", id="0"), new_code_cell("x = 1\nprint(x)", id="1")])
    nbformat.write(nb, repo / "task.ipynb")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "first")
    nb.cells[1].source = "x = 2\nprint(x)"
    nbformat.write(nb, repo / "task.ipynb")
    # A shell without the virtualenv on PATH: git still finds the drivers.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    diff = git(repo, "diff", env=env)
    assert "## modified /cells/1/source:" in diff and "-x = 1" in diff and "+x = 2" in diff
    assert '"source": [' not in diff, "not the JSON"
    git(repo, "commit", "-qam", "second")
    log = git(repo, "log", "-p", "--ext-diff", "-1", env=env)
    assert "## modified /cells/1/source:" in log and "+x = 2" in log


@pytest.mark.slow
def test_the_git_road_of_the_readmes(generated, tmp_path) -> None:
    """Teams push teams/<team>, one starts from another's branch, a facilitator fetches all and diffs cell by cell."""
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "GIT_TERMINAL_PROMPT": "0"}
    remote = tmp_path / "participants.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote), env=env)
    git(tmp_path, "config", "--global", "user.name", "Team", env=env)
    git(tmp_path, "config", "--global", "user.email", "team@example.com", env=env)
    git(tmp_path, "config", "--global", "credential.helper", "cache --timeout=28800", env=env)
    assert git(tmp_path, "config", "--global", "credential.helper", env=env).strip() == "cache --timeout=28800"
    publisher = tmp_path / "handout"
    shutil.copytree(generated, publisher)
    git(publisher, "init", "-q", "-b", "main", env=env)
    git(publisher, "add", "-A", env=env)
    git(publisher, "commit", "-qm", "SageMaker Maze handout", env=env)
    git(publisher, "push", "-q", str(remote), "main", env=env)
    notebook = "chapter_1/task_3/training.ipynb"
    clones = {}
    for team in ("team3", "team7"):
        clone = clones[team] = tmp_path / team
        git(tmp_path, "clone", "-q", str(remote), str(clone), env=env)
        git(clone, "switch", "-q", "-c", f"teams/{team}", env=env)
        handout.fill_task(ROOT / "chapter_1/task_3", clone / "chapter_1/task_3")
        (clone / "chapter_1/task_3/src").mkdir()
        (clone / "chapter_1/task_3/src/train.py").write_text(f"# {team}'s script\n")
        git(clone, "add", "-A", env=env)
        git(clone, "commit", "-qm", "chapter 1, task 3", env=env)
        git(clone, "push", "-q", "-u", "origin", f"teams/{team}", env=env)
    # team7 starts the next task from team3's work, its own kept on teams/team7
    seven = clones["team7"]
    git(seven, "fetch", "-q", "origin", env=env)
    git(seven, "switch", "-q", "-c", "teams/team7-from-team3", "origin/teams/team3", env=env)
    assert (seven / "chapter_1/task_3/src/train.py").read_text() == "# team3's script\n"
    git(seven, "checkout", "teams/team7", "--", "chapter_1/task_3/src/train.py", env=env)
    assert (seven / "chapter_1/task_3/src/train.py").read_text() == "# team7's script\n"
    git(seven, "push", "-q", "-u", "origin", "teams/team7-from-team3", env=env)
    # a facilitator
    facilitator = tmp_path / "facilitator"
    git(tmp_path, "clone", "-q", str(remote), str(facilitator), env=env)
    subprocess.run(["sh", str(SCRIPT), str(ROOT / ".venv/bin")], cwd=facilitator, check=True, timeout=60, env=env)
    git(facilitator, "fetch", "origin", env=env)
    branches = git(facilitator, "branch", "-r", "--list", "origin/teams/*", env=env).split()
    assert branches == ["origin/teams/team3", "origin/teams/team7", "origin/teams/team7-from-team3"]
    diff = git(facilitator, "diff", "main", "origin/teams/team7", "--", notebook, env=env)
    assert "## modified /cells/" in diff and "+estimator = SKLearn(" in diff and '"source": [' not in diff
    git(facilitator, "worktree", "add", "-q", str(tmp_path / "review-team7"), "origin/teams/team7", env=env)
    assert (tmp_path / "review-team7/chapter_1/task_3/src/train.py").read_text() == "# team7's script\n"


@pytest.mark.slow
def test_a_fresh_clone_has_nothing_to_commit_after_nbstripout(generated, tmp_path) -> None:
    """The handout's notebooks are as nbstripout (its git filter) writes them: ids 0, 1, 2, ..., no outputs."""
    for notebook in handout_notebooks(generated):
        copy = tmp_path / notebook.name
        shutil.copyfile(notebook, copy)
        subprocess.run([str(ROOT / ".venv/bin/nbstripout"), str(copy)], check=True, timeout=60)
        assert copy.read_bytes() == notebook.read_bytes(), notebook
