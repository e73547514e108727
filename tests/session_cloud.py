"""The test session's local cloud: started on first use, by the first test that needs it, and stopped at the
session's end by the root conftest. A session of unit tests starts none; under pytest-xdist each worker
process is a session of its own, with its own state dir and so its own cloud."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from local_sagemaker.kernel import launcher
from testing.training_jobs import BUCKET


class SessionCloud:
    """The cloud of one state dir, started at most once (``idle_seconds=None``: it waits for the session)."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.info: launcher.CloudInfo | None = None

    def get(self) -> launcher.CloudInfo:
        if self.info is None:
            self.info, _ = launcher.find_or_start(self.state, idle_seconds=None)
        return self.info

    def stop(self) -> None:
        """Stop whatever cloud serves the state dir: this one, or one a notebook's ``connect()`` or a program a
        test ran started there (any kernel of the session finds the state dir through ``MAZE_STATE_DIR``)."""
        launcher.stop(self.state)
        self.info = None


SESSION_CLOUD = pytest.StashKey[SessionCloud]()


def s3_with_bucket(cloud: launcher.CloudInfo) -> Any:
    """An S3 client of the cloud, with the tests' bucket created (creating it again is harmless)."""
    client = cloud.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client
