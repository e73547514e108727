"""A participant closes chapter 1's notebook for lunch, the local cloud stops once idle, and chapter 2 still works.

Chapter 2 attaches to the team's newest completed training job and deploys its model.tar.gz from S3: both
must outlive the cloud that trained it, as they outlive a notebook on AWS.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid

import pytest

from local_sagemaker.common.pids import is_alive
from local_sagemaker.kernel import launcher
from maze.tasks import run_notebook
from tests.notebooks import ROOT

pytestmark = [pytest.mark.cloud, pytest.mark.slow]


def test_chapter_2_finds_chapter_1s_model_after_the_idle_cloud_stopped(tmp_path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    team = f"t{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "MAZE_STATE_DIR": str(state), "MAZE_IDLE_SECONDS": "2", "MAZE_TEAM": team}
    try:
        for task in ("chapter_1/task_4/training.ipynb", "chapter_2/task_1/inference.ipynb"):
            folder = tmp_path / task.split("/")[0]
            folder.mkdir()
            shutil.copy(ROOT / task, folder)
            notebook = folder / task.rsplit("/", 1)[1]
            _, error = run_notebook(notebook, folder / "executed.ipynb", env)
            assert error == "", f"{task}: {error}"
            cloud = launcher.find(state)
            if task.startswith("chapter_1"):  # its kernel has exited: the cloud stops by itself 2 s later
                deadline = time.monotonic() + 60
                while cloud is not None and is_alive(cloud.pid) and time.monotonic() < deadline:
                    time.sleep(0.2)
                assert cloud is None or not is_alive(cloud.pid), "the idle cloud stopped"
    finally:
        launcher.stop(state)
