"""One local cloud for the whole test session, in a temporary state dir, stopped at the end; and
notebook cells under nbval that fail when they raise, whatever the SDK does to IPython.

The notebooks under nbval find the cloud through MAZE_STATE_DIR, which their kernels inherit,
exactly as a participant's notebooks find the cloud their first cell started.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from nbval.plugin import IPyNbCell, NbCellError

from local_sagemaker.kernel import launcher


def pytest_sessionstart(session: pytest.Session) -> None:
    state = Path(tempfile.mkdtemp(prefix="maze-state-"))
    os.environ["MAZE_STATE_DIR"] = str(state)
    os.environ.pop("MAZE_TARGET", None)
    # Serverless endpoints give their instance back after 3 s idle, so a test sees a cold start.
    os.environ["MAZE_SERVERLESS_IDLE_SECONDS"] = "3"
    # Every cloud of the session (and of later sessions on this machine) shares one build per framework version.
    os.environ.setdefault("MAZE_FRAMEWORKS_DIR", str(Path.home() / ".cache" / "sagemaker-maze" / "frameworks"))
    session.config.stash[STATE] = state
    launcher.find_or_start(state, idle_seconds=None)


def pytest_sessionfinish(session: pytest.Session) -> None:
    state = session.config.stash.get(STATE, None)
    if state is not None:
        launcher.stop(state)
        shutil.rmtree(state, ignore_errors=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> object:
    """Fail a notebook cell whose execution the kernel reports as an error.

    nbval judges a cell by an ``error`` message on IOPub. After ``import sagemaker``, sagemaker_core
    installs rich's traceback handler in IPython: a raising cell then shows its traceback as display
    data and sends no ``error`` message, so nbval (``--nbval-lax``) would pass it. The kernel's
    ``execute_reply`` still says ``status: error``, whatever renders the traceback; this reads it, as
    nbclient does. Cells tagged ``raises-exception`` (nbval's own tag) may still raise.
    """
    if not isinstance(item, IPyNbCell):
        return (yield)
    kernel = item.parent.kernel
    replies: list[dict] = []
    read = kernel.get_message

    def get_message(stream: str, timeout: float | None = None) -> dict:
        message = read(stream, timeout)
        if stream == "shell" and message["msg_type"] == "execute_reply":
            replies.append(message["content"])
        return message

    kernel.get_message = get_message
    try:
        result = yield
    finally:
        del kernel.get_message
    failed = next((reply for reply in replies if reply["status"] == "error"), None)
    if failed is not None and not item.options["check_exception"]:
        shown = "\n".join(
            output.get("text") or output.get("data", {}).get("text/plain", "") for output in item.test_outputs or []
        )
        raise NbCellError(
            item.cell_num,
            f"Cell execution caused an exception: {failed['ename']}: {failed['evalue']}",
            item.cell.source,
            shown,
        )
    return result


STATE = pytest.StashKey[Path]()
