"""The state directory's private files, which the launcher (kernel side) and the cloud process both use.

The connection file (``cloud.json``: the cloud's pid, endpoint and key) is written by the cloud and read by
the launcher; both take the start lock, so that two kernels connecting at once start one cloud.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def state_dir() -> Path:
    """One place per checkout, so every notebook of the maze finds the same cloud.

    ``MAZE_STATE_DIR`` wins; otherwise ``.maze`` at the repository root (git-ignored), or a
    folder in the user's state directory when the package is installed outside the repo.
    """
    if os.environ.get("MAZE_STATE_DIR"):
        path = Path(os.environ["MAZE_STATE_DIR"])
    else:
        repo = Path(__file__).resolve().parents[2]
        path = repo / ".maze" if (repo / "pyproject.toml").exists() else Path.home() / ".local/state/sagemaker-maze"
    return private_dir(path)


def private_dir(path: Path) -> Path:
    """The state dir, its owner's alone (0700): it holds the connection file, jobs' scripts, data and logs."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def open_private(path: Path, flags: int) -> int:
    """A file descriptor on ``path``, a file its owner alone may read (0600), whatever mode it had."""
    descriptor = os.open(path, flags | os.O_CREAT, 0o600)
    os.fchmod(descriptor, 0o600)
    return descriptor


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically with ``text``, readable by its owner alone (0600)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with os.fdopen(open_private(temporary, os.O_WRONLY | os.O_TRUNC), "w") as handle:
        handle.write(text)
    temporary.replace(path)


def recorded_connection(state: Path) -> dict[str, Any] | None:
    """What the connection file says: the pid and endpoint of the cloud that wrote it (None if it says nothing)."""
    try:
        recorded = json.loads((state / "cloud.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if not isinstance(recorded, dict) or type(recorded.get("pid")) is not int:
        return None
    complete = isinstance(recorded.get("endpoint"), str) and isinstance(recorded.get("credentials"), dict)
    return recorded if complete else None


@contextmanager
def start_lock(state: Path) -> Iterator[None]:
    """Two kernels connecting at once must not start two clouds."""
    with os.fdopen(open_private(state / "start.lock", os.O_RDWR)) as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def forget(state: Path, pid: int) -> None:
    """Remove the connection file if it still names ``pid``: a later cloud of this state dir keeps its own."""
    with contextlib.suppress(FileNotFoundError), start_lock(state):  # a state dir already removed has no record
        recorded = recorded_connection(state)
        if recorded is not None and recorded.get("pid") == pid:
            (state / "cloud.json").unlink(missing_ok=True)
