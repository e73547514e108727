"""The board on an event's road: teams' branches on a real bare Git remote, every team as one table, the
state a stopped local cloud kept, and every command of FACILITATORS.md's board section as it is written.

The remote holds the handout's ``main`` and one branch ``teams/<team>`` per team: one that solved
chapter 1 tasks 1-2 (the answer key's files), one that ran task 2's handout notebook untouched (its
``%%writefile`` cell's stub), one that pushed nothing of its own, and a branch that names no team.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest

from local_sagemaker.common.pids import is_alive
from local_sagemaker.kernel import launcher
from maze import team_code
from maze.handout import exercise_notebook
from maze.status import DONE, NO_REPOSITORY, NOT_DONE, NOT_STARTED
from tests.board_helpers import REAL_TIME, STATE, TASKS, deploy_and_delete, fresh_team, maze_cli, rows
from tests.local_cloud.hosting import create_model, upload_model
from tests.notebooks import ROOT, written_file
from tests.session_cloud import s3_with_bucket

pytestmark = pytest.mark.usefixtures("cloud")  # the board reads the session's cloud

FACILITATORS = ROOT / "FACILITATORS.md"
DOCUMENTED_URL = "git@github.com:<org>/sagemaker-maze-participants.git"
DOCUMENTED_TEAM = "team7"
TABLE_ROW = re.compile(rf"^(\w+)\s+((?:{STATE}\s+){{{TASKS}}})(\d)/{TASKS}$", re.MULTILINE)


@dataclass(frozen=True)
class Remote:
    """A bare repository as the participants' remote, and which team pushed what."""

    path: Path
    solved: str
    stub: str
    nothing: str


def git(*args: str, cwd: Path | None = None) -> str:
    author = ["-c", "user.name=Board Test", "-c", "user.email=board@example.invalid"]
    done = subprocess.run(["git", *author, *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def push_branch(work: Path, team: str, files: dict[str, str]) -> None:
    """From the handout's main: the team's files committed and pushed to ``teams/<team>``."""
    git("checkout", "--quiet", "-B", f"teams/{team}", "main", cwd=work)
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    git("add", "-A", cwd=work)
    git("commit", "--quiet", "--allow-empty", "-m", f"{team}'s work", cwd=work)
    git("push", "--quiet", "origin", f"teams/{team}", cwd=work)


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Remote:
    root = tmp_path_factory.mktemp("event")
    bare, work = root / "participants.git", root / "work"
    git("init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    git("clone", "--quiet", str(bare), str(work))
    git("symbolic-ref", "HEAD", "refs/heads/main", cwd=work)
    (work / "README.md").write_text("The handout.\n")
    git("add", "-A", cwd=work)
    git("commit", "--quiet", "-m", "SageMaker Maze handout", cwd=work)
    git("push", "--quiet", "origin", "main", cwd=work)
    handout = root / "handout_training.ipynb"
    nbformat.write(exercise_notebook(nbformat.read(ROOT / "chapter_1/task_2/training.ipynb", as_version=4)), handout)
    event = Remote(bare, fresh_team(), fresh_team(), fresh_team())
    push_branch(
        work,
        event.solved,
        {
            "chapter_1/task_1/train.py": (ROOT / "chapter_1/task_1/train.py").read_text(),
            "chapter_1/task_2/src/train.py": written_file(ROOT / "chapter_1/task_2/training.ipynb", "src/train.py"),
        },
    )
    push_branch(work, event.stub, {"chapter_1/task_2/src/train.py": written_file(handout, "src/train.py")})
    push_branch(work, event.nothing, {})
    push_branch(work, "Not-A-Team", {})
    return event


@pytest.fixture
def temporary(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The board's environment with its own TMPDIR, which must be empty again when it has printed."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    yield {**os.environ, "TMPDIR": str(folder)}
    assert not list(folder.iterdir()), "the board left temporary files behind"


def test_a_team_that_solved_tasks_1_and_2_on_its_branch_has_them_done(remote: Remote, temporary) -> None:
    checked = maze_cli("check", "--team", remote.solved, "--remote", str(remote.path), env=temporary)
    assert checked.returncode == 1, checked.stderr  # the cloud tasks are not started
    board = rows(checked.stdout)
    assert board["chapter_1/task_1"][0] == DONE and "train.py prints precision=" in board["chapter_1/task_1"][1]
    assert board["chapter_1/task_2"][0] == DONE and board["chapter_1/task_2"][1].startswith("fit returns precision=")
    assert {state for state, _ in list(board.values())[2:]} == {NOT_STARTED}, checked.stdout
    assert f"(files: branch teams/{remote.solved} of {remote.path})" in checked.stdout


def test_the_handouts_stub_pushed_is_not_done_and_nothing_pushed_is_not_started(remote: Remote, temporary) -> None:
    stub = rows(maze_cli("check", "--team", remote.stub, "--remote", str(remote.path), env=temporary).stdout)
    assert stub["chapter_1/task_1"] == (NOT_STARTED, "no chapter_1/task_1/train.py")
    state, evidence = stub["chapter_1/task_2"]
    assert state == NOT_DONE and "fit raises NotImplementedError: the handout's stub" in evidence
    nothing = rows(maze_cli("check", "--team", remote.nothing, "--remote", str(remote.path), env=temporary).stdout)
    assert (
        nothing["chapter_1/task_2"][0] == NOT_STARTED
        and "no chapter_1/task_2/src/train.py" in nothing["chapter_1/task_2"][1]
    )


def test_a_team_without_a_branch_has_not_started_its_repository_tasks(remote: Remote) -> None:
    team = fresh_team()
    board = rows(maze_cli("check", "--team", team, "--remote", str(remote.path)).stdout)
    assert board["chapter_1/task_1"] == (NOT_STARTED, f"no branch teams/{team} on the remote")


def table(stdout: str) -> dict[str, list[str]]:
    """The ``--all`` table: team -> its cells, task by task."""
    return {team: re.findall(STATE, cells) for team, cells, *_ in TABLE_ROW.findall(stdout)}


def test_all_shows_every_team_of_the_remote_and_the_cloud_as_one_table(remote: Remote, temporary, sm, s3) -> None:
    cloud_only = fresh_team()  # no branch; an endpoint config in the cloud (deployed, never answered)
    model = create_model(sm, s3, upload_model(s3))
    variant = {"VariantName": "AllTraffic", "ModelName": model, "InitialVariantWeight": 1.0, **REAL_TIME}
    sm.create_endpoint_config(EndpointConfigName=f"maze-{cloud_only}-anything", ProductionVariants=[variant])
    checked = maze_cli("check", "--all", "--remote", str(remote.path), env=temporary)
    assert checked.returncode == 1, checked.stderr
    header = next(line for line in checked.stdout.splitlines() if line.startswith("team"))
    assert header.split() == ["team", "1.1", "1.2", "1.3", "1.4", "2.1", "2.2", "2.3", "done"]
    found = table(checked.stdout)
    assert found[remote.solved] == [DONE, DONE] + [NOT_STARTED] * 5, checked.stdout
    assert found[remote.stub] == [NOT_STARTED, NOT_DONE] + [NOT_STARTED] * 5
    assert found[remote.nothing] == [NOT_STARTED] * TASKS
    assert found[cloud_only] == [NOT_STARTED] * 4 + [NOT_DONE, NOT_STARTED, NOT_STARTED]
    assert re.search(rf"^{remote.solved}\s.*\s2/{TASKS}$", checked.stdout, re.MULTILINE), checked.stdout
    assert "skipped teams/Not-A-Team: a team name is lowercase letters and digits" in checked.stderr


def test_all_without_a_remote_lists_the_clouds_teams_and_reads_no_files(sm, s3) -> None:
    team = fresh_team()
    model = create_model(sm, s3, upload_model(s3))
    variant = {"VariantName": "AllTraffic", "ModelName": model, "InitialVariantWeight": 1.0, **REAL_TIME}
    sm.create_endpoint_config(EndpointConfigName=f"maze-{team}-x", ProductionVariants=[variant])
    checked = maze_cli("check", "--all")
    assert checked.returncode == 1, checked.stderr
    assert table(checked.stdout)[team] == [NO_REPOSITORY] * 2 + [NOT_STARTED] * 2 + [NOT_DONE] + [NOT_STARTED] * 2
    assert "(files: none given)" in checked.stdout


def test_an_unreadable_remote_all_with_one_clone_and_an_unknown_target_are_refused(tmp_path: Path) -> None:
    checked = maze_cli("check", "--all", "--remote", str(tmp_path / "nowhere.git"))
    assert checked.returncode == 2
    assert "cannot read the participants' remote" in checked.stderr and "Traceback" not in checked.stderr
    checked = maze_cli("check", "--all", "--repo", str(tmp_path))
    assert checked.returncode == 2 and "use --remote URL, not --repo" in checked.stderr
    checked = maze_cli("check", "--all", env={**os.environ, "MAZE_TARGET": "gcp"})
    assert checked.returncode == 2 and "MAZE_TARGET='gcp'" in checked.stderr and "Traceback" not in checked.stderr


def test_with_no_cloud_running_the_board_reads_the_state_the_cloud_kept(tmp_path: Path) -> None:
    """As after ``make maze``: the cloud stopped, what the notebooks did is in its state dir."""
    state, team = tmp_path / "state", fresh_team()
    cloud, _ = launcher.find_or_start(state, idle_seconds=None)
    try:
        clients: dict[str, Any] = {name: cloud.client(name) for name in ("sagemaker", "logs", "sagemaker-runtime")}
        clients["s3"] = s3_with_bucket(cloud)
        deploy_and_delete(clients, f"maze-{team}-endpoint-1", REAL_TIME, requests=2)
    finally:
        launcher.stop(state)
    assert launcher.find(state) is None
    checked = maze_cli("check", "--team", team, env={**os.environ, "MAZE_STATE_DIR": str(state)})
    try:
        assert f"no local cloud was running: reading the state it kept in {state}" in checked.stderr
        assert rows(checked.stdout)["chapter_2/task_1"] == (
            DONE,
            f"maze-{team}-endpoint-1 answered 2 request(s) (access lines in its log group)",
        ), checked.stdout + checked.stderr
        assert launcher.find(state) is None and not (state / "cloud.json").exists(), (
            "the board stops the cloud it started"
        )
    finally:
        launcher.stop(state)


def test_a_teams_script_runs_bounded_without_credentials_and_leaves_no_process(monkeypatch, tmp_path: Path) -> None:
    """A script that forks a sleeper and hangs: stopped at the time limit, its child with it; it saw no AWS keys."""
    monkeypatch.setattr(team_code, "RUN_TIMEOUT_SECONDS", 3)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "the facilitator's")
    seen = tmp_path / "seen.json"
    script = tmp_path / "repo" / team_code.TASK_1_SCRIPT
    script.parent.mkdir(parents=True)
    script.write_text(
        "import json, os, subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        f"open({str(seen)!r}, 'w').write(json.dumps({{'child': child.pid, 'environment': sorted(os.environ)}}))\n"
        "time.sleep(600)\n"
    )
    started = time.monotonic()
    assert team_code.task_1_script(tmp_path / "repo") == (NOT_DONE, "train.py did not finish in 3 s")
    assert time.monotonic() - started < 30
    written = json.loads(seen.read_text())
    assert not [name for name in written["environment"] if name.startswith(("AWS_", "MAZE_"))], written
    deadline = time.monotonic() + 5
    while is_alive(written["child"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not is_alive(written["child"]), "the script's child outlived the check"


def documented_commands() -> list[str]:
    """The lines of the code blocks of FACILITATORS.md's board section."""
    text = FACILITATORS.read_text()
    section = text.split("## The progress board\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```\n(.*?)^```$", section, re.MULTILINE | re.DOTALL)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def test_every_command_of_the_board_section_runs_as_written(remote: Remote, tmp_path: Path) -> None:
    """The documented URL is the bare remote, team7 the team that solved tasks 1-2, ../team7 a folder here."""
    commands = documented_commands()
    assert any("--all" in line for line in commands) and any("--repo" in line for line in commands)
    substitutions = {
        DOCUMENTED_URL: str(remote.path),
        f"../{DOCUMENTED_TEAM}": str(tmp_path / "clone"),
        f"teams/{DOCUMENTED_TEAM}": f"teams/{remote.solved}",
        f"--team {DOCUMENTED_TEAM}": f"--team {remote.solved}",
    }
    for line in commands:
        for documented, here in substitutions.items():
            line = line.replace(documented, here)
        assert DOCUMENTED_TEAM not in line and "<" not in line, f"a placeholder this test does not know: {line}"
        program, *args = shlex.split(line)
        if program == ".venv/bin/python":
            assert args[:3] == ["-m", "maze", "check"], line
            done = maze_cli(*args[2:])
            assert done.returncode == 1 and "Traceback" not in done.stderr, f"{line}\n{done.stderr}"
            board = table(done.stdout)[remote.solved] if "--all" in args else [s for s, _ in rows(done.stdout).values()]
            assert board[:2] == [DONE, DONE], f"{line}\n{done.stdout}"
        else:
            assert program == "git", line
            git(*args)
