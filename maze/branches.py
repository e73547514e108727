"""The participants' remote as the board reads it: each team's work is its branch ``teams/<team>``.

The board reads a team's files from what the team pushed, never from the answer key it runs in.
Git does the reading (the facilitator's own credentials and helpers apply): ``ls-remote`` lists the
teams' branches, and a shallow clone of one branch into a temporary folder, removed afterwards,
gives the board the branch's files.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BRANCHES = "teams/"
GIT_TIMEOUT_SECONDS = 120
TEAM = re.compile(r"^[a-z0-9]+$")  # local_sagemaker.kernel.team's rule: a team name is a part of SageMaker names


class RemoteUnreadable(RuntimeError):
    """Git could not read the participants' remote (wrong URL or path, no access, a timeout)."""


def team_branch(team: str) -> str:
    """The branch a team pushes its work to."""
    return f"{BRANCHES}{team}"


def _url(remote: str) -> str:
    """A folder as a ``file://`` URL (Git ignores ``--depth`` for plain paths and copies everything)."""
    path = Path(remote).expanduser()
    return path.resolve().as_uri() if path.is_dir() else remote


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    """Git without prompts: a remote that needs a password the facilitator has not stored fails instead of waiting."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    try:
        return subprocess.run(
            ["git", *args], capture_output=True, text=True, timeout=GIT_TIMEOUT_SECONDS, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        raise RemoteUnreadable(f"git {args[0]} did not finish in {GIT_TIMEOUT_SECONDS} s") from None


def _unreadable(remote: str, done: subprocess.CompletedProcess[str]) -> RemoteUnreadable:
    last = (done.stderr.strip().splitlines() or ["no error output"])[-1]
    return RemoteUnreadable(
        f"cannot read the participants' remote {remote!r}: {last}. Give --remote the URL the teams push to "
        "(with credentials Git can use without asking) or the path of a clone."
    )


def remote_teams(remote: str) -> tuple[list[str], list[str]]:
    """The teams with a branch ``teams/<team>`` on the remote, sorted, and the branches under ``teams/``
    whose name is no valid team (uppercase, a hyphen...), which the board cannot match to the cloud."""
    done = _git("ls-remote", "--heads", _url(remote), f"refs/heads/{BRANCHES}*")
    if done.returncode != 0:
        raise _unreadable(remote, done)
    names = sorted(line.split("refs/heads/", 1)[1] for line in done.stdout.splitlines() if "refs/heads/" in line)
    teams = [name.removeprefix(BRANCHES) for name in names]
    return [team for team in teams if TEAM.match(team)], [team_branch(t) for t in teams if not TEAM.match(t)]


@contextmanager
def branch_checkout(remote: str, team: str) -> Iterator[Path]:
    """The files of the team's branch, at its last pushed commit, in a folder removed when the block ends."""
    with tempfile.TemporaryDirectory(prefix="maze-board-") as folder:
        checkout = Path(folder) / team
        branch = team_branch(team)
        done = _git(
            "clone", "--quiet", "--depth", "1", "--single-branch", "--branch", branch, _url(remote), str(checkout)
        )
        if done.returncode != 0:
            raise _unreadable(remote, done)
        yield checkout
