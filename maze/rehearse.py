"""``python -m maze rehearse``: a whole event played offline, and whether the board and CI tell the truth.

Every part of an event day exists on its own (the handout, the teams' branches, the handout's CI, the
board); this plays them in order as facilitators and teams do, against the local cloud, in a
temporary folder removed at the end (on failure too, with every local cloud started in it):

1. the handout generated into a clone of an empty bare Git repository (the participants' remote) and
   pushed as ``main``, as FACILITATORS.md's "Generate the handout" does;
2. teams (``TEAMS``) clone it and switch to ``teams/<team>``; all teams work at once, each task by task in
   maze order: a team writes the solution into its TODO cells (``maze.handout.fill_task``, optional parts
   left undone; a task left halfway keeps its first TODO cell as handed out), runs the task as a team does
   (its script from its folder, its notebooks top to bottom in a fresh kernel with ``MAZE_TEAM`` set and the
   clone's own ``local_sagemaker`` first on the path, as ``pip install -e .`` in the clone makes it; the
   optional cells not run), commits everything (task 2's ``src/train.py`` too) and pushes. All teams share
   one local cloud, as they share one AWS account;
3. each team's branch, checked out as CI checks it out, all branches at once as CI runners take them, is
   tested with the handout's own CI command: its Makefile's ``test`` target, run by ``make``. A CI machine
   builds a virtualenv first (minutes a branch); the rehearsal hands ``make`` the virtualenv it runs in
   (``VENV=``, and ``-o`` so that ``make`` does not rebuild it), with the checkout's ``local_sagemaker``
   first on the path as CI installs it: the command is the Makefile's, only the environment is shared. CI
   starts a local cloud of its own (the handout's ``conftest.py``, its state in the rehearsal's folder), as
   CI has no access to the event's account;
4. the board, ``python -m maze check --all --remote <the bare repository>``, reads the teams' branches
   and the cloud the teams worked in, as facilitators read the branches and the account on AWS.

It passes only when, task by task, the board and CI say what the team did (``EXPECTED``): ``done`` and
passed where it completed the task, ``not done`` and failed where it left it halfway, ``not started``
elsewhere. The framework environments are shared with the answer key's local cloud
(``MAZE_FRAMEWORKS_DIR``, by default ``.maze/frameworks``), so no cloud of the rehearsal builds them again.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from tqdm import tqdm

from local_sagemaker.cloud.compute.container_client import FOLDER_PREFIX
from local_sagemaker.cloud.compute.framework_envs import frameworks_dir
from local_sagemaker.common import state_files
from local_sagemaker.kernel import launcher
from local_sagemaker.kernel.team import MAX_LENGTH, STUDIO_METADATA, VALID
from maze import handout
from maze.branches import team_branch
from maze.check import task_label
from maze.status import DONE, NOT_DONE, NOT_STARTED, STATES
from maze.tasks import discover

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
TASKS = [str(task.relative_to(ROOT)) for task in discover(ROOT)]
PASSED, FAILED, MISSING = "passed", "failed", "missing"
COMPLETED, HALFWAY, UNTOUCHED = "completed", "halfway", "-"  # what a team did of a task
NOTEBOOK_TIMEOUT = 1800  # seconds a cell may run (the load test of chapter 2, task 2 is the longest)
CI_TIMEOUT = 90 * 60  # the handout's workflow's limit
GIT_TIMEOUT = 120
# A local cloud's instances listen on Unix sockets <TMPDIR>/lsm-<pid>-<8 random>/<16 hex>.sock
# (local_sagemaker.cloud.compute.container_client), and a socket's path holds at most 107 bytes.
SOCKET_PATH_MAX = 107
SOCKET_IN_TMPDIR = f"/{FOLDER_PREFIX}4194304-abcdefgh/{'0' * 16}.sock"  # the longest pid Linux gives
FAILURE_CHARS = 400  # of the first line of CI's message for a failed task (the error), shown with the disagreement
# One line of the handout's CI log (pytest -v): a task's test and its outcome.
TESTCASE = re.compile(r"::test_task\[[^\]]+\] (PASSED|FAILED|SKIPPED|ERROR)\b")
# A state of the board's cells ("not done" tried before "done").
STATE = "|".join(sorted(STATES, key=len, reverse=True))
BOARD_ROW = re.compile(rf"^(?P<team>[a-z0-9]+)\s+(?P<cells>(?:(?:{STATE})\s+){{{len(TASKS)}}})\d+/{len(TASKS)}$", re.M)


@dataclass(frozen=True)
class Team:
    """A team of the rehearsal: it completes its first ``tasks`` tasks in maze order and, when ``halfway``,
    starts the next one and stops with its first TODO cell as handed out (pushed, as teams push work in progress).

    The next task's first TODO cell must be its evidence for the board: chapter 1 task 2's ``%%writefile
    src/train.py`` cell, whose stub the board must not take for done.
    """

    name: str
    tasks: int
    halfway: bool = False

    def __post_init__(self) -> None:
        if len(self.name) > MAX_LENGTH or not VALID.match(self.name):
            raise ValueError(f"team {self.name!r}: a team name is 1 to {MAX_LENGTH} lowercase letters and digits")
        if not 1 <= self.tasks <= len(TASKS) - self.halfway:  # a team that did nothing pushes no branch
            raise ValueError(f"team {self.name!r}: it completes 1 to {len(TASKS)} tasks, and starts one more halfway")
        if self.halfway and not any((ROOT / TASKS[self.tasks]).glob("*.ipynb")):
            raise ValueError(f"team {self.name!r}: a task is left halfway in a notebook, {TASKS[self.tasks]} has none")

    def plan(self, task: str) -> str:
        """What the team does of ``task``: ``COMPLETED``, ``HALFWAY`` or ``UNTOUCHED``."""
        index = TASKS.index(task)
        if index < self.tasks:
            return COMPLETED
        return HALFWAY if self.halfway and index == self.tasks else UNTOUCHED


# Three teams, each stopping where the board and CI must tell two neighbouring tasks apart: after task 1.1
# with task 1.2 halfway (the stub of src/train.py pushed: the board must say not done, CI failed), after 1.3
# (a training job, none with metric definitions), and after every task, the optional parts left undone as most
# teams leave them. Each task costs minutes twice (the team's run, then CI's): no team goes further than its
# point needs.
TEAMS = (Team("ant", 1, halfway=True), Team("bee", 3), Team("cat", 7))
DID = {COMPLETED: "completed it", HALFWAY: "left it halfway", UNTOUCHED: "did not start it"}
# What the board and CI must say of a task, by what the team did of it.
EXPECTED = {
    COMPLETED: {"the board": DONE, "CI": PASSED},
    HALFWAY: {"the board": NOT_DONE, "CI": FAILED},
    UNTOUCHED: {"the board": NOT_STARTED, "CI": NOT_STARTED},
}


class RehearsalError(RuntimeError):
    """A step of the event could not be played (a team's notebook raised, CI wrote no report, ...)."""


@dataclass
class Rehearsal:
    """What every team did, what the board and CI said, task by task, and how long each step took."""

    teams: Sequence[Team]
    board: dict[str, dict[str, str]] = field(default_factory=dict)  # team -> task -> the board's state
    ci: dict[str, dict[str, str]] = field(default_factory=dict)  # team -> task -> passed / failed / not started
    ci_failures: dict[str, dict[str, str]] = field(default_factory=dict)  # team -> task -> why CI failed it
    board_output: str = ""
    seconds: dict[str, float] = field(default_factory=dict)  # step -> wall time

    def disagreements(self) -> list[str]:
        """Each task where the board or CI differs from what the team did; each team the board shows unasked."""
        found = []
        for team in self.teams:
            for task in TASKS:
                plan = team.plan(task)
                said = {"the board": self.board, "CI": self.ci}
                for who, states in said.items():
                    state = states.get(team.name, {}).get(task, MISSING)
                    if state != EXPECTED[plan][who]:
                        why = self.ci_failures.get(team.name, {}).get(task) if who == "CI" else None
                        found.append(
                            f"{team.name} {task}: {who} says {state!r}, expected {EXPECTED[plan][who]!r} (the team "
                            f"{DID[plan]})" + (f": {why}" if why else "")
                        )
        unasked = sorted(set(self.board) - {team.name for team in self.teams})
        found += [f"the board shows a team {name!r} that did not take part" for name in unasked]
        return found


def render(rehearsal: Rehearsal) -> str:
    """Teams x tasks: a row of what each team did, one of what the board says, one of what CI says."""
    width = len("not started") + 2
    name_width = max(len("team"), *(len(team.name) for team in rehearsal.teams)) + 2
    lines = [f"{'team':<{name_width}}{'':<7}" + "".join(f"{task_label(task):<{width}}" for task in TASKS)]
    for team in rehearsal.teams:
        rows = {
            "did": [team.plan(task) for task in TASKS],
            "board": [rehearsal.board.get(team.name, {}).get(task, MISSING) for task in TASKS],
            "CI": [rehearsal.ci.get(team.name, {}).get(task, MISSING) for task in TASKS],
        }
        for index, (row, cells) in enumerate(rows.items()):
            label = team.name if index == 0 else ""
            lines.append(f"{label:<{name_width}}{row:<7}" + "".join(f"{cell:<{width}}" for cell in cells))
    return "\n".join(line.rstrip() for line in lines)


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def report(rehearsal: Rehearsal) -> str:
    """The closing text: the board as it printed, the table, the wall time per step, the verdict."""
    steps = ", ".join(f"{step} {_duration(seconds)}" for step, seconds in rehearsal.seconds.items() if step != "total")
    lines = [
        "the board (python -m maze check --all --remote <participants' remote>):",
        rehearsal.board_output.rstrip(),
        "",
        f"rehearsal of {len(rehearsal.teams)} teams: what each team did, what the board and CI say",
        render(rehearsal),
        "",
        f"wall time {_duration(rehearsal.seconds.get('total', 0.0))} ({steps})",
    ]
    found = rehearsal.disagreements()
    if found:
        lines.append(f"FAILED: {len(found)} disagreement(s):")
        lines += [f"  {line}" for line in found]
    else:
        lines.append("passed: the board and CI say what every team did, task by task")
    return "\n".join(lines)


@dataclass(frozen=True)
class Event:
    """Where the rehearsal plays: its temporary folder, and the framework environments every cloud shares."""

    root: Path
    frameworks: Path

    @property
    def remote(self) -> Path:
        """The participants' repository, a bare one."""
        return self.root / "participants.git"

    @property
    def cloud(self) -> Path:
        """The state dir of the teams' local cloud: the event's one AWS account."""
        return self.root / "event-cloud"

    @property
    def git(self) -> dict[str, str]:
        """Git as in a participant's space: a global config of its own (name, e-mail), no prompts."""
        return os.environ | {
            "GIT_CONFIG_GLOBAL": str(self.root / "gitconfig"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
        }

    def ci_temporary(self, team: str) -> Path:
        """The temporary folder (TMPDIR) of CI's run on a team's branch: its local cloud's state and sockets."""
        return self.root / "tmp" / team

    def board_env(self) -> dict[str, str]:
        """The board's environment: the event's cloud, every team's."""
        env = {name: value for name, value in os.environ.items() if name != "MAZE_TEAM"}
        return env | {
            "MAZE_STATE_DIR": str(self.cloud),
            "MAZE_TARGET": "local",
            "MAZE_FRAMEWORKS_DIR": str(self.frameworks),
        }

    def team_env(self, team: str, clone: Path) -> dict[str, str]:
        """A team's kernels: its name, the event's cloud, its clone's ``local_sagemaker`` (``pip install -e .``)."""
        return self.board_env() | {"MAZE_TEAM": team, "PYTHONPATH": _first_on_path(clone)}

    def ci_env(self, temporary: Path, checkout: Path) -> dict[str, str]:
        """A CI machine's environment: none of the event's settings (no team, no state dir), the checkout's
        ``local_sagemaker`` (CI installs it), its temporary folder in the rehearsal's (the handout's conftest
        keeps its cloud's state there)."""
        env = {name: value for name, value in os.environ.items() if not name.startswith("MAZE_")}
        return env | {
            "TMPDIR": str(temporary),
            "MAZE_FRAMEWORKS_DIR": str(self.frameworks),
            "PYTHONPATH": _first_on_path(checkout),
        }


def _first_on_path(folder: Path) -> str:
    """PYTHONPATH with ``folder`` first: its packages win over the ones this virtualenv has installed."""
    return os.pathsep.join([str(folder), *filter(None, [os.environ.get("PYTHONPATH")])])


def git(event: Event, *args: str, cwd: Path) -> str:
    """Git as the rehearsal's people run it; a failure stops the rehearsal with Git's own message."""
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=event.git, capture_output=True, text=True, timeout=GIT_TIMEOUT, check=False
    )
    if done.returncode != 0:
        raise RehearsalError(f"git {' '.join(args)} (in {cwd}): {done.stderr.strip()}")
    return done.stdout


def publish_handout(event: Event) -> None:
    """The handout as ``main`` of the participants' remote, as FACILITATORS.md makes it: an empty remote cloned,
    the handout generated into the clone, committed and pushed."""
    (event.root / "gitconfig").write_text("[user]\n\tname = Rehearsal\n\temail = rehearsal@example.invalid\n")
    git(event, "init", "--quiet", "--bare", "--initial-branch=main", str(event.remote), cwd=event.root)
    clone = event.root / "participants"
    git(event, "clone", "--quiet", str(event.remote), str(clone), cwd=event.root)
    handout.prepare(clone, replace=False)
    handout.generate(ROOT, clone)
    git(event, "add", "-A", cwd=clone)
    git(event, "commit", "--quiet", "-m", "SageMaker Maze handout", cwd=clone)
    git(event, "push", "--quiet", cwd=clone)


def run_script(folder: Path, script: str) -> None:
    """A task's script as a team runs it in a terminal: from its folder."""
    done = subprocess.run(
        [sys.executable, script], cwd=folder, capture_output=True, text=True, timeout=NOTEBOOK_TIMEOUT, check=False
    )
    if done.returncode != 0:
        raise RehearsalError(f"python {script} exits with {done.returncode}: {done.stderr.strip()[-2000:]}")


def run_notebook(notebook: Path, env: dict[str, str]) -> str | None:
    """The notebook top to bottom in a fresh kernel in its folder, without its optional cells (left undone);
    the error of the cell that raised (``Name: message``), or None.

    Nothing is written back: a team commits its notebooks without outputs (its git filter strips them).
    """
    nb = nbformat.read(notebook, as_version=4)
    nb.cells = [cell for cell in nb.cells if handout.OPTIONAL_TAG not in cell.metadata.get("tags", [])]
    client = NotebookClient(
        nb, timeout=NOTEBOOK_TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(notebook.parent)}}
    )
    try:
        client.execute(env=env)
    except CellExecutionError as error:
        return f"{error.ename}: {error.evalue}"
    return None


def start_task(solution_task: Path, handout_task: Path) -> None:
    """Fill every TODO cell of the task's notebooks but each notebook's first, left as handed out."""
    for notebook in sorted(handout_task.glob("*.ipynb")):
        exercise = nbformat.read(notebook, as_version=4)
        filled = handout.fill_in(exercise, nbformat.read(solution_task / notebook.name, as_version=4), optional=False)
        first = next(index for index, cell in enumerate(exercise.cells) if handout.is_todo(cell))
        filled.cells[first] = exercise.cells[first]
        nbformat.write(filled, notebook)


def do_task(event: Event, team: Team, clone: Path, task: str) -> None:
    """One team does one task (all of it, or halfway): its code into the TODO cells, the task run as far as it
    goes, committed and pushed."""
    folder, complete = clone / task, team.plan(task) == COMPLETED
    if complete:
        handout.fill_task(ROOT / task, folder, optional=False)
        for script in handout.participant_scripts(ROOT / task):
            try:
                run_script(folder, script.name)
            except RehearsalError as error:
                raise RehearsalError(f"team {team.name}, {task}: {error}") from None
    else:
        start_task(ROOT / task, folder)
    for notebook in sorted(folder.glob("*.ipynb")):
        error = run_notebook(notebook, event.team_env(team.name, clone))
        if error and (complete or not error.startswith("NotImplementedError")):  # halfway: the stub left raises
            raise RehearsalError(f"team {team.name}, {task}: {notebook.name}: {error}")
    chapter, number = (part.split("_")[1] for part in task.split("/"))
    git(event, "add", "-A", cwd=clone)
    git(event, "commit", "--quiet", "-m", f"chapter {chapter}, task {number}", cwd=clone)
    git(event, "push", "--quiet", "-u", "origin", team_branch(team.name), cwd=clone)


def all_at_once(work: Callable[[T], None], items: Sequence[T]) -> None:
    """``work`` on every item at the same time, one thread each, as teams work and CI runners test side by side;
    every thread ends before this returns (nothing of a failed step outlives the rehearsal's clean-up), then the
    first error raised, if any, is raised here."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(len(items), 1)) as pool:
        futures = [pool.submit(work, item) for item in items]
    for future in futures:
        future.result()


def play_teams(event: Event, teams: Sequence[Team]) -> None:
    """Every team clones the remote onto its branch; then all teams work at once, as at the event, each doing its
    tasks in maze order, all against the one cloud of the event."""
    clones = {team.name: event.root / "teams" / team.name for team in teams}
    for team in teams:
        git(event, "clone", "--quiet", str(event.remote), str(clones[team.name]), cwd=event.root)
        git(event, "switch", "--quiet", "-c", team_branch(team.name), cwd=clones[team.name])
    work = sum(team.plan(task) != UNTOUCHED for task in TASKS for team in teams)
    with tqdm(total=work, desc="teams at work", unit="task", file=sys.stderr) as progress:

        def team_at_work(team: Team) -> None:
            for task in TASKS:
                if team.plan(task) != UNTOUCHED:
                    do_task(event, team, clones[team.name], task)
                    progress.set_postfix_str(f"{team.name} {task_label(task)}")
                    progress.update()

        all_at_once(team_at_work, teams)


def ci_command(checkout: Path) -> list[str]:
    """The handout's Makefile's ``test`` target in ``checkout``, with this process's virtualenv (not rebuilt).

    ``-o`` names the Makefile's install stamp (``.installed-py<X.Y>``) as old, so make never runs the
    install recipe, which would recreate this very virtualenv with ``venv --clear``.
    """
    venv = Path(sys.prefix)
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    return ["make", "--no-print-directory", "-C", str(checkout), "test", f"VENV={venv}", f"PYTHON={sys.executable}",
            "-o", f"{venv}/.installed-py{python}"]  # fmt: skip


def ci_states(report_file: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Task -> passed / failed / not started, from the JUnit report the handout's CI writes; and task -> the
    first line of CI's message (the notebook and the cell's error) for each failed task."""
    states, failures = {}, {}
    for case in ElementTree.parse(report_file).getroot().iter("testcase"):
        match = re.fullmatch(r"test_task\[(.+)\]", case.get("name", ""))
        if match is None:
            continue
        task, skipped = match[1], case.find("skipped")
        failed = case.find("failure") if case.find("failure") is not None else case.find("error")
        if failed is not None:
            states[task] = FAILED
            reason = (failed.get("message") or failed.text or "").strip()
            failures[task] = reason.splitlines()[0][:FAILURE_CHARS] if reason else "no message"
        elif skipped is not None:
            reason = skipped.get("message", "")
            states[task] = NOT_STARTED if reason == NOT_STARTED else f"skipped ({reason})"
        else:
            states[task] = PASSED
    return states, failures


@contextlib.contextmanager
def _process_group(args: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """A command in a process group of its own, killed with all it started if the rehearsal stops first."""
    process = subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def run_ci(event: Event, team: Team, rehearsal: Rehearsal, progress: tqdm) -> None:
    """One branch's CI: a fresh shallow checkout of ``teams/<team>``, the handout's ``make test``, its report."""
    checkout, temporary = event.root / "ci" / team.name, event.ci_temporary(team.name)
    temporary.mkdir(parents=True)
    branch = team_branch(team.name)
    shallow = ("--depth", "1", "--branch", branch)  # as CI's checkout fetches the pushed commit
    git(event, "clone", "--quiet", *shallow, event.remote.as_uri(), str(checkout), cwd=event.root)
    log: list[str] = []
    deadline = time.monotonic() + CI_TIMEOUT
    with _process_group(ci_command(checkout), event.ci_env(temporary, checkout)) as process:
        assert process.stdout is not None
        for line in process.stdout:
            log.append(line)
            if TESTCASE.search(line):
                progress.update()
            if time.monotonic() > deadline:
                raise RehearsalError(f"CI of {branch} did not end within {CI_TIMEOUT // 60} minutes")
    report_file = checkout / "reports/tasks.xml"
    if not report_file.is_file():
        tail = "".join(log[-30:])
        raise RehearsalError(f"CI of {branch} wrote no reports/tasks.xml (exit status {process.returncode}):\n{tail}")
    states, failures = ci_states(report_file)
    rehearsal.ci[team.name], rehearsal.ci_failures[team.name] = states, failures


def read_board(event: Event) -> tuple[dict[str, dict[str, str]], str]:
    """``python -m maze check --all --remote <remote>`` on the event's cloud: team -> task -> state, and its output."""
    done = subprocess.run(
        [sys.executable, "-m", "maze", "check", "--all", "--remote", str(event.remote)],
        cwd=ROOT,
        env=event.board_env(),
        capture_output=True,
        text=True,
        timeout=CI_TIMEOUT,
        check=False,
    )
    if done.returncode not in (0, 1):  # 1: not every task of every team is done, as planned
        raise RehearsalError(f"the board exits with {done.returncode}: {done.stderr.strip()}")
    rows = BOARD_ROW.finditer(done.stdout)
    board = {row["team"]: dict(zip(TASKS, re.findall(STATE, row["cells"]), strict=True)) for row in rows}
    return board, done.stdout


def stop_clouds(root: Path) -> None:
    """Stop every local cloud whose state dir lies in ``root``: the event's, and CI's should CI be cut short."""
    for connection in root.rglob("cloud.json"):
        launcher.stop(connection.parent)


def check_socket_room(event: Event, teams: Sequence[Team]) -> None:
    """CI's local clouds keep their instances' sockets in the rehearsal's folder: refuse a TMPDIR too deep for them,
    which would otherwise fail every endpoint of chapter 2 in CI."""
    deepest = max((event.ci_temporary(team.name) for team in teams), key=lambda path: len(os.fsencode(path)))
    if len(os.fsencode(f"{deepest}{SOCKET_IN_TMPDIR}")) > SOCKET_PATH_MAX:
        raise RehearsalError(
            f"the temporary folder {tempfile.gettempdir()} is too deep: CI's local cloud would put Unix sockets in "
            f"{deepest}, past their {SOCKET_PATH_MAX}-byte limit. Set TMPDIR to a short folder, e.g. TMPDIR=/tmp"
        )


def refusal() -> str | None:
    """Why the rehearsal cannot run here, or None."""
    if STUDIO_METADATA.exists():
        return (
            "this is a SageMaker Studio space: the rehearsal plays the event offline, and the handout's CI would "
            "reach AWS from here. Run it on a laptop or a CI machine."
        )
    if sys.prefix == sys.base_prefix:
        return "the handout's CI runs in this Python's virtualenv, there is none: run `make setup` and .venv/bin/python"
    if shutil.which("make") is None:
        return "the handout's CI command is its Makefile's `test` target: install make"
    return None


def rehearse(teams: Sequence[Team] = TEAMS) -> Rehearsal:
    """Play the event (see the module's docstring) in a temporary folder, removed afterwards whatever happens."""
    why = refusal()
    if why:
        raise RehearsalError(why)
    if len({team.name for team in teams}) != len(teams):
        raise RehearsalError(f"two teams share a name: {[team.name for team in teams]}")
    rehearsal = Rehearsal(teams)
    started = time.monotonic()
    event = Event(Path(tempfile.mkdtemp(prefix="maze-rehearsal-")), frameworks_dir(state_files.state_dir()))
    try:
        check_socket_room(event, teams)
        step = time.monotonic()
        publish_handout(event)
        rehearsal.seconds["handout"] = time.monotonic() - step
        step = time.monotonic()
        launcher.find_or_start(event.cloud, idle_seconds=None)
        play_teams(event, teams)
        rehearsal.seconds["teams"] = time.monotonic() - step
        step = time.monotonic()
        with tqdm(total=len(teams) * len(TASKS), desc="CI per branch", unit="task", file=sys.stderr) as progress:
            all_at_once(lambda team: run_ci(event, team, rehearsal, progress), teams)
        rehearsal.seconds["CI"] = time.monotonic() - step
        step = time.monotonic()
        rehearsal.board, rehearsal.board_output = read_board(event)
        rehearsal.seconds["board"] = time.monotonic() - step
    finally:
        stop_clouds(event.root)
        shutil.rmtree(event.root, ignore_errors=True)
    rehearsal.seconds["total"] = time.monotonic() - started
    return rehearsal


def main() -> int:
    """Rehearse; print the board, the closing table and the wall time. 0 only when nothing disagrees."""
    try:
        rehearsal = rehearse()
    except RehearsalError as error:
        print(f"rehearse: {error}", file=sys.stderr)
        return 2
    print(report(rehearsal))
    return 1 if rehearsal.disagreements() else 0
