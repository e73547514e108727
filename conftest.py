"""The test session: its tiers (markers), its local cloud, started lazily in a temporary state dir and stopped
at the end, and notebook cells under nbval that fail when they raise, whatever the SDK does to IPython.

The notebooks under nbval find the cloud through MAZE_STATE_DIR, which their kernels inherit (it is set when
the session starts, the cloud itself is started before a notebook's first cell), exactly as a participant's
notebooks find the cloud their first cell started.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from nbval.plugin import IPyNbCell, NbCellError
from xdist.scheduler import LoadFileScheduling

from local_sagemaker.cloud.platform.quotas import USAGES, setting
from tests.session_cloud import SESSION_CLOUD, SessionCloud

# The tiers: a test is ``unit`` when it is none of these (``make test-fast`` runs the unit tier).
NOT_UNIT = ("cloud", "notebooks", "slow", "network")
# The local cloud's own tests: each talks to the session's cloud or starts one of its own.
CLOUD_TESTS = Path(__file__).resolve().parent / "tests" / "local_cloud"
# The longest units of work, longest first (measured: --durations=0), run before the rest: `make test` hands whole
# modules to its pytest-xdist workers in collection order, so a long one starts at once instead of becoming the
# session's tail. The notebooks are one unit: chapter 2 reads what chapter 1 left in the cloud.
NOTEBOOKS = "notebooks"
LONGEST_FIRST = (
    "test_rehearsal.py",
    "test_install.py",
    "test_framework_envs.py",
    NOTEBOOKS,
    "test_connect.py",
    "test_batch.py",
    "test_endpoints.py",
)


class NotebooksInOneWorker(LoadFileScheduling):
    """``--dist loadfile``, but every notebook in one worker, in order, against one cloud, as a participant runs
    them (a chapter 2 notebook starts from the model chapter 1 trained)."""

    def _split_scope(self, nodeid: str) -> str:
        return NOTEBOOKS if nodeid.startswith("chapter_") else super()._split_scope(nodeid)


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: a run with -p no:xdist has no such hook
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> LoadFileScheduling | None:
    return NotebooksInOneWorker(config, log) if config.getoption("dist") == "loadfile" else None


def pytest_sessionstart(session: pytest.Session) -> None:
    state = Path(tempfile.mkdtemp(prefix="maze-state-"))
    os.environ["MAZE_STATE_DIR"] = str(state)
    os.environ.pop("MAZE_TARGET", None)
    # Serverless endpoints give their instance back after 3 s idle, so a test sees a cold start.
    os.environ["MAZE_SERVERLESS_IDLE_SECONDS"] = "3"
    # A worker's tests share its cloud, and module fixtures keep endpoints up across tests: room past the
    # participant's default of 4 instances per type and usage (tests/local_cloud/test_quotas.py tests the limit).
    for usage in USAGES:
        os.environ.setdefault(setting(usage), "32")
    # Every cloud of the session (and of later sessions on this machine) shares one build per framework version.
    os.environ.setdefault("MAZE_FRAMEWORKS_DIR", str(Path.home() / ".cache" / "sagemaker-maze" / "frameworks"))
    session.config.stash[SESSION_CLOUD] = SessionCloud(state)


def pytest_sessionfinish(session: pytest.Session) -> None:
    cloud = session.config.stash.get(SESSION_CLOUD, None)
    if cloud is not None:
        cloud.stop()
        shutil.rmtree(cloud.state, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its tier, and put the longest modules first.

    A notebook cell is ``notebooks``, ``slow`` and ``cloud``. A test is ``cloud`` when it uses the ``cloud``
    fixture (directly, through another fixture or ``usefixtures``) or lives under tests/local_cloud/. ``slow``
    and ``network`` are marked by hand on the tests they fit. A test that is none of these is ``unit``.
    """
    for item in items:
        if isinstance(item, IPyNbCell):
            for name in ("notebooks", "slow", "cloud"):
                item.add_marker(name)
        elif "cloud" in getattr(item, "fixturenames", ()) or item.path.is_relative_to(CLOUD_TESTS):
            item.add_marker("cloud")
        if not any(item.get_closest_marker(name) for name in NOT_UNIT):
            item.add_marker("unit")
    first = {name: rank for rank, name in enumerate(LONGEST_FIRST)}

    def unit_of_work(item: pytest.Item) -> str:
        return NOTEBOOKS if isinstance(item, IPyNbCell) else item.path.name

    items.sort(key=lambda item: first.get(unit_of_work(item), len(first)))  # stable: each module's order stays


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A notebook's cells talk to the session's cloud (their kernel's ``connect()`` finds it): start it first."""
    if isinstance(item, IPyNbCell):
        item.config.stash[SESSION_CLOUD].get()


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
