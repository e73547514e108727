"""README's run command end to end: every task ok, the board all done, at most two provisioning waits in a row.

It runs the whole maze (about three minutes on two cores), which nbval already executes notebook
by notebook, so it runs only when asked: ``MAZE_FULL_RUN=1 .venv/bin/pytest tests/test_maze_run.py``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.notebooks import ROOT

pytestmark = [pytest.mark.usefixtures("cloud"), pytest.mark.slow]

WAITS = re.compile(r"^(chapter_\d/task_\d)\s.*\bwaits=(\d+)", re.MULTILINE)


@pytest.mark.skipif(os.environ.get("MAZE_FULL_RUN") != "1", reason="the whole maze: set MAZE_FULL_RUN=1")
def test_the_run_command_ends_with_every_task_done() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "maze"], cwd=ROOT, capture_output=True, text=True, timeout=900, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr[-2000:]
    assert "7 of 7 tasks done" in run.stdout
    waits = dict(WAITS.findall(run.stdout))
    assert set(waits) == {f"chapter_{c}/task_{t}" for c, t in ((1, 3), (1, 4), (2, 1), (2, 2), (2, 3))}, run.stdout
    assert all(int(count) <= 2 for count in waits.values()), waits
