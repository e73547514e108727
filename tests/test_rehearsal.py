"""The event rehearsal: ``python -m maze rehearse`` plays a whole event offline and passes only when the board
and the handout's CI say, task by task, what each team did; it names every disagreement, and leaves no
folder and no local cloud behind, on failure too."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import psutil
import pytest
from nbclient import NotebookClient

from local_sagemaker.kernel import launcher
from maze import handout, rehearse
from maze.rehearse import TASKS, TEAMS, Event, Rehearsal, RehearsalError, Team
from maze.status import DONE, NOT_DONE, NOT_STARTED
from tests.notebooks import ROOT

CELL = re.compile(r"not started|not done|completed|halfway|passed|failed|missing|done|-")
WALL_TIME = re.compile(r"^wall time (?:(\d+) min )?(\d+) s \(handout .* teams .* CI .* board .*\)$", re.MULTILINE)


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A temporary folder with a short path (pytest's tmp_path is too deep for the local clouds' Unix sockets
    inside the rehearsal's folder); it must be empty again afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="rh"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def processes_under(folder: Path) -> list[psutil.Process]:
    """Processes whose command line names ``folder``: a local cloud of a state dir in it, a kernel, a job."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if any(str(folder) in part for part in process.info["cmdline"] or []):
            found.append(process)
    return found


def printed_table(stdout: str) -> dict[tuple[str, str], list[str]]:
    """The closing table as printed: (team, did / board / CI) -> its cells, task by task."""
    section = stdout.split("what each team did, what the board and CI say\n", 1)[1].split("\n\n", 1)[0]
    lines = section.splitlines()
    assert lines[0].split() == ["team", "1.1", "1.2", "1.3", "1.4", "2.1", "2.2", "2.3"], lines[0]
    table, team = {}, ""
    for line in lines[1:]:
        words = line.split(maxsplit=2 if line[0] != " " else 1)
        if line[0] != " ":
            team = words.pop(0)
        row, cells = words
        table[(team, row)] = CELL.findall(cells)
    return table


@pytest.mark.cloud
@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_the_rehearsal_passes_and_prints_what_each_team_did_the_board_and_ci_said(short_tmp: Path) -> None:
    """The command as a facilitator runs it; its temporary folder (in TMPDIR) gone afterwards, no process left."""
    temporary = short_tmp
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "maze", "rehearse"],
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(temporary)},
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    seconds = time.monotonic() - started
    print(done.stdout)  # the closing table and the wall time, kept in the test's report
    assert done.returncode == 0, done.stdout + done.stderr[-5000:]
    assert len({(team.tasks, team.halfway) for team in TEAMS}) == len(TEAMS) >= 3, "three teams, different points"
    table = printed_table(done.stdout)
    halfway = [team for team in TEAMS if team.halfway]
    assert halfway and TASKS[halfway[0].tasks] == "chapter_1/task_2", "the stub of src/train.py pushed"
    for team in TEAMS:
        steps = ["completed"] * team.tasks + ["halfway"] * team.halfway
        untouched = len(TASKS) - len(steps)
        assert table[(team.name, "did")] == steps + ["-"] * untouched
        board = [DONE] * team.tasks + [NOT_DONE] * team.halfway + [NOT_STARTED] * untouched
        assert table[(team.name, "board")] == board, done.stdout
        ci = ["passed"] * team.tasks + ["failed"] * team.halfway + [NOT_STARTED] * untouched
        assert table[(team.name, "CI")] == ci, done.stdout
    assert "passed: the board and CI say what every team did, task by task" in done.stdout
    minutes, rest = WALL_TIME.search(done.stdout).groups()
    assert 0 < int(minutes or 0) * 60 + int(rest) <= seconds + 1
    assert not list(temporary.iterdir()), "the rehearsal left its temporary folder behind"
    assert not processes_under(temporary), "a process of the rehearsal outlived it"


def test_every_disagreement_is_named_and_fails_the_rehearsal() -> None:
    """The comparison itself, on made-up answers: each wrong cell, each missing one, each unasked team."""
    ant, bee = Team("ant", 1, halfway=True), Team("bee", 3)
    right = {
        team.name: (
            {task: {"completed": DONE, "halfway": NOT_DONE}.get(team.plan(task), NOT_STARTED) for task in TASKS},
            {task: {"completed": "passed", "halfway": "failed"}.get(team.plan(task), NOT_STARTED) for task in TASKS},
        )
        for team in (ant, bee)
    }
    rehearsal = Rehearsal([ant, bee], {n: b for n, (b, _) in right.items()}, {n: c for n, (_, c) in right.items()})
    assert rehearsal.disagreements() == []
    rehearsal.board["ant"]["chapter_1/task_2"] = DONE  # the stub pushed, taken for done
    rehearsal.ci["bee"]["chapter_1/task_3"] = "failed"
    rehearsal.ci_failures["bee"] = {"chapter_1/task_3": "Failed: training.ipynb: ValueError: boom"}
    rehearsal.board["bee"]["chapter_2/task_1"] = DONE
    del rehearsal.ci["bee"]["chapter_2/task_3"]
    rehearsal.board["solo"] = {task: NOT_STARTED for task in TASKS}
    assert rehearsal.disagreements() == [
        "ant chapter_1/task_2: the board says 'done', expected 'not done' (the team left it halfway)",
        "bee chapter_1/task_3: CI says 'failed', expected 'passed' (the team completed it): "
        "Failed: training.ipynb: ValueError: boom",
        "bee chapter_2/task_1: the board says 'done', expected 'not started' (the team did not start it)",
        "bee chapter_2/task_3: CI says 'missing', expected 'not started' (the team did not start it)",
        "the board shows a team 'solo' that did not take part",
    ]
    text = rehearse.report(rehearsal)
    assert "FAILED: 5 disagreement(s):" in text and "passed:" not in text


@pytest.mark.cloud
@pytest.mark.slow
def test_a_step_that_fails_leaves_no_folder_and_no_cloud(monkeypatch, short_tmp: Path) -> None:
    """CI cut short (here: it raises) after the teams worked and while a CI cloud runs: both clouds stopped,
    the folder removed, the reason raised."""
    monkeypatch.setattr(tempfile, "tempdir", str(short_tmp))
    clouds: list[int] = []

    def failing_ci(event: Event, team: Team, rehearsal: Rehearsal, progress: object) -> None:
        ci_cloud, _ = launcher.find_or_start(event.ci_temporary(team.name) / "maze-state-x", idle_seconds=None)
        event_cloud = launcher.find(event.cloud)
        assert event_cloud is not None, "the teams' cloud runs while CI runs"
        clouds.extend([event_cloud.pid, ci_cloud.pid])
        raise RehearsalError("CI broke")

    monkeypatch.setattr(rehearse, "run_ci", failing_ci)
    with pytest.raises(RehearsalError, match="CI broke"):
        rehearse.rehearse([Team("ant", 1)])
    assert len(clouds) == 2
    assert not [pid for pid in clouds if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
    assert not list(short_tmp.iterdir()), "the rehearsal left its temporary folder behind"


def test_a_temporary_folder_too_deep_for_the_clouds_sockets_is_refused_first(monkeypatch, tmp_path: Path) -> None:
    deep = tmp_path / ("x" * 60)
    deep.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    with pytest.raises(RehearsalError, match="is too deep: .* Set TMPDIR to a short folder"):
        rehearse.rehearse([Team("ant", 1)])
    assert not list(deep.iterdir())


def test_a_team_is_a_valid_team_name_with_one_to_seven_tasks_and_maybe_one_halfway() -> None:
    refused = [
        ("Ant", 2, False, "lowercase"),
        ("a-b", 2, False, "lowercase"),
        ("ant", 0, False, "1 to 7"),
        ("ant", 8, False, "1 to 7"),
        ("ant", 7, True, "1 to 7 tasks, and starts one more"),
        ("ant", 0, True, "1 to 7"),
    ]
    for name, tasks, halfway, problem in refused:
        with pytest.raises(ValueError, match=problem):
            Team(name, tasks, halfway)
    with pytest.raises(RehearsalError, match="two teams share a name"):
        rehearse.rehearse([Team("ant", 1), Team("ant", 2)])


# A facilitator runs the event from FACILITATORS.md alone: every command it gives is run by a test.

GUIDE = ROOT / "FACILITATORS.md"
DOCUMENTED_URL = "git@github.com:<org>/sagemaker-maze-participants.git"
FENCED = re.compile(r"^( *)```[a-z]*\n(.*?)^\1```$", re.MULTILINE | re.DOTALL)
# The first word of a command in the guide's prose (`make lab`, `python -m maze cleanup --team T`, ...).
COMMAND_WORDS = {
    "make",
    "python",
    ".venv/bin/python",
    "git",
    "pip",
    "%pip",
    "%env",
    "sh",
    "nbdiff",
    "nbdiff-web",
    "nbdime",
}
ANSI = re.compile(r"\x1b\[[0-9;]*m")
NOTEBOOK = "chapter_1/task_3/training.ipynb"
THIS = "tests/test_rehearsal.py::"
URL = DOCUMENTED_URL
# Every command of the guide, under the test that runs it (under a file for `make test`: CI runs it).
RUN_BY = {
    f"{THIS}test_the_guides_handout_commands_run_as_written": [
        f"git clone {URL} ../participants",
        ".venv/bin/python -m maze handout ../participants",
        'cd ../participants && git add -A && git commit -m "SageMaker Maze handout" && git push',
    ],
    f"{THIS}test_the_rehearsal_passes_and_prints_what_each_team_did_the_board_and_ci_said": [
        ".venv/bin/python -m maze rehearse",
    ],
    "tests/test_maze_board.py::test_every_command_of_the_board_section_runs_as_written": [
        f".venv/bin/python -m maze check --all --remote {URL}",
        f".venv/bin/python -m maze check --team team7 --remote {URL}",
        f"git clone --branch teams/team7 {URL} ../team7",
        ".venv/bin/python -m maze check --team team7 --repo ../team7",
        "python -m maze check --team T",
    ],
    f"{THIS}test_the_guides_review_commands_run_as_written": [
        "make setup",
        "sh scripts/notebook-diffs.sh",
        "git fetch origin",
        "git branch -r --list 'origin/teams/*'",
        f"git diff main origin/teams/team7 -- {NOTEBOOK}",
        f"git diff origin/teams/team3 origin/teams/team7 -- {NOTEBOOK}",
        f"git log -p --ext-diff origin/teams/team7 -- {NOTEBOOK}",
        f"nbdiff main origin/teams/team7 -- {NOTEBOOK}",
        f"nbdiff-web main origin/teams/team7 -- {NOTEBOOK}",
        "git worktree add ../team7 origin/teams/team7",
        "git log",
        "git show",
        "git diff",
    ],
    "tests/test_handout.py::test_git_shows_notebook_changes_cell_by_cell": ["nbdime config-git"],
    "tests/test_handout.py::test_the_git_road_of_the_readmes": [
        "git fetch origin && git switch -c teams/<team>-from-<presenter> origin/teams/<presenter>",
    ],
    ".ci/run": ["make test"],
    "tests/test_maze_run.py::test_the_run_command_ends_with_every_task_done": ["make maze"],
    f"{THIS}test_the_guides_make_targets_run_what_they_say": ["make lab", "make lab LAB_ROOT=../participants"],
    "tests/test_install.py::test_a_fresh_environment_with_the_one_command_runs_the_notebooks_first_cells": [
        "pip install -e .",
    ],
    "tests/test_install.py::test_each_mismatch_gets_one_message_with_its_fix": ["%pip install ..."],
    f"{THIS}test_env_maze_team_in_a_notebook_names_the_team": ["%env MAZE_TEAM=<name>", "%env MAZE_TEAM=team7"],
    "tests/test_maze_cleanup.py::test_the_command_asks_and_without_a_terminal_deletes_nothing": [
        "python -m maze cleanup --team T",
    ],
    "tests/test_task1_script.py::test_prints_each_metric_once_above_090": ["python train.py"],
    "tests/local_cloud/test_connect.py::test_cli_status_reports_the_running_cloud": [
        "python -m local_sagemaker status"
    ],
    "tests/local_cloud/test_state_cli.py::test_reset_yes_stops_the_cloud_and_wipes_its_state": [
        "python -m local_sagemaker reset",
    ],
}


def guide_blocks() -> list[list[str]]:
    """The command lines of each fenced block of the guide (indented ones too), without their comments."""
    blocks = []
    for _, body in FENCED.findall(GUIDE.read_text()):
        lines = [" ".join(re.sub(r"\s+#\s.*$", "", line).split()) for line in body.splitlines()]
        blocks.append([line for line in lines if line])
    return blocks


def guide_commands() -> list[str]:
    """Every command the guide gives: each line of its fenced blocks, each code span of its prose that starts
    with a command word."""
    commands = [line for block in guide_blocks() for line in block]
    for span in re.findall(r"`([^`]+)`", FENCED.sub("", GUIDE.read_text())):
        span = " ".join(span.split())
        if span.split()[0] in COMMAND_WORDS and span not in commands:
            commands.append(span)
    return commands


def test_every_command_of_the_guide_is_run_by_a_test() -> None:
    commands = guide_commands()
    tested = [command for listed in RUN_BY.values() for command in listed]
    assert not [c for c in commands if c not in tested], "a command of FACILITATORS.md that no test runs"
    assert not [c for c in tested if c not in commands], "a command FACILITATORS.md no longer gives"
    for where in RUN_BY:
        path, _, test = where.partition("::")
        assert (ROOT / path).is_file(), where
        assert not test or re.search(rf"^def {test}\(", (ROOT / path).read_text(), re.MULTILINE), where


def run(line: str, cwd: Path, env: dict[str, str]) -> str:
    """One documented line in a shell, as a facilitator types it; its output without colours."""
    done = subprocess.run(["bash", "-c", line], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
    return ANSI.sub("", done.stdout)


def facilitator_env(tmp_path: Path) -> dict[str, str]:
    """A facilitator's shell: the answer key's virtualenv on PATH, a Git identity, no prompts."""
    config = tmp_path / "gitconfig"
    config.write_text("[user]\n\tname = Facilitator\n\temail = facilitator@example.invalid\n")
    path = f"{ROOT / '.venv/bin'}{os.pathsep}{os.environ['PATH']}"
    # A shell, not a make recipe: `make test` runs this test with MAKELEVEL and MAKEFLAGS set, which would
    # make every make below print "Entering/Leaving directory" lines.
    shell = {name: value for name, value in os.environ.items() if name not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    return shell | {
        "PATH": path,
        "GIT_CONFIG_GLOBAL": str(config),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
    }


@pytest.mark.slow
def test_the_guides_handout_commands_run_as_written(tmp_path: Path) -> None:
    """ "Generate the handout", the (empty) participants' repository a bare one here; regenerating with
    --replace changes nothing in Git."""
    remote, participants = tmp_path / "participants.git", tmp_path / "participants"
    env = facilitator_env(tmp_path)
    run(f"git init --quiet --bare --initial-branch=main {remote}", tmp_path, env)
    block = next(block for block in guide_blocks() if any("maze handout" in line for line in block))
    for line in block:
        run(line.replace(DOCUMENTED_URL, str(remote)).replace("../participants", str(participants)), ROOT, env)
    published = run(f"git --git-dir={remote} ls-tree -r --name-only main", tmp_path, env).split()
    assert "chapter_1/task_3/training.ipynb" in published and "tests/tasks.json" in published
    assert "chapter_1/task_1/train.py" not in published, "the handout hands out no solution script"
    run(f".venv/bin/python -m maze handout {participants} --replace", ROOT, env)
    assert run("git status --porcelain", participants, env) == "", "regenerating changed the handout"


def browser(tmp_path: Path) -> tuple[Path, Path]:
    """A stand-in for the facilitator's browser (BROWSER): it writes down the page it was asked to open."""
    opened, script = tmp_path / "opened.txt", tmp_path / "browser.sh"
    script.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    script.chmod(0o755)
    return script, opened


def read_web_diff(process: subprocess.Popen[str], opened: Path) -> dict:
    """What nbdiff-web serves to the browser it opened: the page, then its diff; then the page's close button."""
    deadline = time.monotonic() + 60
    while not opened.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert opened.exists(), (
        f"nbdiff-web opened no page: {process.communicate()[0] if process.poll() is not None else ''}"
    )
    page = opened.read_text().strip()
    base = page.rsplit("/", 1)[0]
    jar = http.cookiejar.CookieJar()
    browse = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    assert browse.open(page, timeout=30).status == 200
    token = {"X-XSRFToken": next(cookie.value for cookie in jar if cookie.name == "_xsrf")}
    asked = urllib.request.Request(f"{base}/api/diff", data=b"{}", method="POST", headers=token)
    diff = json.load(browse.open(asked, timeout=30))
    close = urllib.request.Request(f"{base}/api/closetool", data=b'{"exitCode": 0}', method="POST", headers=token)
    browse.open(close, timeout=30)
    assert process.wait(timeout=30) == 0
    return diff


@pytest.mark.slow
def test_the_guides_review_commands_run_as_written(tmp_path: Path) -> None:
    """ "Reviewing a team's work": a remote with the handout and two teams that did task 3 (team7 its own way),
    a facilitator's clone set up as the guide says, then every line of the block."""
    event = Event(tmp_path, Path())
    rehearse.publish_handout(event)
    for team in ("team3", "team7"):
        clone = tmp_path / team
        rehearse.git(event, "clone", "--quiet", str(event.remote), str(clone), cwd=tmp_path)
        rehearse.git(event, "switch", "--quiet", "-c", f"teams/{team}", cwd=clone)
        handout.fill_task(ROOT / "chapter_1/task_3", clone / "chapter_1/task_3", optional=False)
        if team == "team7":
            nb = nbformat.read(clone / NOTEBOOK, as_version=4)
            cell = next(cell for cell in nb.cells if "SKLearn(" in cell.source)
            cell.source += "\n# team7 tried it its own way"
            nbformat.write(nb, clone / NOTEBOOK)
        rehearse.git(event, "add", "-A", cwd=clone)
        rehearse.git(event, "commit", "--quiet", "-m", "chapter 1, task 3", cwd=clone)
        rehearse.git(event, "push", "--quiet", "-u", "origin", f"teams/{team}", cwd=clone)
    facilitator = tmp_path / "facilitator"
    env = facilitator_env(tmp_path)
    run(f"git clone --quiet {event.remote} {facilitator}", tmp_path, env)
    setup = run("make -n setup", facilitator, env)  # what `make setup` does besides building .venv
    assert "sh scripts/notebook-diffs.sh" in setup and "nbstripout --install" in setup, setup
    run("sh scripts/notebook-diffs.sh", facilitator, env)  # "does it alone"
    script, opened = browser(tmp_path)
    block = next(block for block in guide_blocks() if any(line.startswith("nbdiff-web") for line in block))
    said = {}
    for line in block:
        line = line.replace("../team7", str(tmp_path / "review-team7"))
        if line.startswith("nbdiff-web"):
            web = subprocess.Popen(
                ["bash", "-c", line],
                cwd=facilitator,
                env=env | {"BROWSER": str(script)},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            said["nbdiff-web"] = read_web_diff(web, opened)
        else:
            said[" ".join(line.split()[:3])] = run(line, facilitator, env)
    assert said["git branch -r"].split() == ["origin/teams/team3", "origin/teams/team7"]
    for command in ("git diff main", "git log -p", "nbdiff main origin/teams/team7"):
        assert "## modified /cells/" in said[command] and '"source": [' not in said[command], said[command]
        assert "+estimator = SKLearn(" in said[command], said[command]
    compared = said["git diff origin/teams/team3"]
    assert "+# team7 tried it its own way" in compared and "+estimator = SKLearn(" not in compared, compared
    assert said["nbdiff-web"]["diff"] and said["nbdiff-web"]["base"]["cells"], "the browser gets the diff"
    assert (tmp_path / "review-team7" / NOTEBOOK).read_text() == (tmp_path / "team7" / NOTEBOOK).read_text()
    shown = run(f"git show --ext-diff origin/teams/team7 -- {NOTEBOOK}", facilitator, env)
    assert "## modified /cells/" in shown, "git show, as git log, runs the driver with --ext-diff"


def test_the_guides_make_targets_run_what_they_say(tmp_path: Path) -> None:
    """`make lab` serves the answer key, `make lab LAB_ROOT=../participants` a handout (tests/test_lab.py runs
    that program); the handout's own `make lab` runs the same file as scripts/lab.py."""
    env = facilitator_env(tmp_path)
    assert run("make -n lab", ROOT, env).splitlines()[-1] == ".venv/bin/python -m maze.lab "
    assert run("make -n lab LAB_ROOT=../participants", ROOT, env).splitlines()[-1] == (
        ".venv/bin/python -m maze.lab --root ../participants"
    )
    handout.generate(ROOT, tmp_path / "participants")
    assert run("make -n lab", tmp_path / "participants", env).splitlines()[-1] == ".venv/bin/python scripts/lab.py"
    assert (tmp_path / "participants/scripts/lab.py").read_bytes() == (ROOT / "maze/lab.py").read_bytes()


def test_env_maze_team_in_a_notebook_names_the_team() -> None:
    """The guide's `%env MAZE_TEAM=team7` above `connect()`: the notebook works for team7."""
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("%env MAZE_TEAM=team7"),
            nbformat.v4.new_code_cell("import local_sagemaker\n\ncloud = local_sagemaker.connect()\nprint(cloud.team)"),
        ]
    )
    env = {name: value for name, value in os.environ.items() if name != "MAZE_TEAM"}
    NotebookClient(nb, timeout=300, kernel_name="python3").execute(env=env)
    printed = "".join(output.get("text", "") for output in nb.cells[1].outputs)
    assert "as team 'team7'" in printed and printed.rstrip().endswith("team7"), printed
