"""One local cloud for the whole test session, in a temporary state dir, stopped at the end.

The notebooks under nbval find it through MAZE_STATE_DIR, which their kernels inherit,
exactly as a participant's notebooks find the cloud their first cell started.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from local_sagemaker import daemon


def pytest_sessionstart(session: pytest.Session) -> None:
    state = Path(tempfile.mkdtemp(prefix="maze-state-"))
    os.environ["MAZE_STATE_DIR"] = str(state)
    os.environ.pop("MAZE_TARGET", None)
    # Serverless endpoints give their instance back after 3 s idle, so a test sees a cold start.
    os.environ["MAZE_SERVERLESS_IDLE_SECONDS"] = "3"
    session.config.stash[STATE] = state
    daemon.find_or_start(state, idle_seconds=None)


def pytest_sessionfinish(session: pytest.Session) -> None:
    state = session.config.stash.get(STATE, None)
    if state is not None:
        daemon.stop(state)
        shutil.rmtree(state, ignore_errors=True)


STATE = pytest.StashKey[Path]()
