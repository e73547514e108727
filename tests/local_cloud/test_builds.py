"""Builds leave nothing: a cloud killed during a framework environment's first build leaves no uv running, and the
next cloud removes the half-built folder.

The environments are built into a folder of the test's own (``MAZE_FRAMEWORKS_DIR``), cold, so the shared
cache of built environments is never touched; uv's package cache keeps the build to seconds.
"""

from __future__ import annotations

import fcntl
import os
import signal
import time

import psutil

from local_sagemaker.cloud.compute.framework_envs import FrameworkEnvs, env_dir
from local_sagemaker.kernel import launcher
from testing.training_jobs import submit
from tests.local_cloud.processes import alive, cloud_of_its_own

BUILD_STARTS_SECONDS = 120


def installing(pid: int) -> list[psutil.Process]:
    """The descendants of ``pid`` once one of them is ``uv pip install``; [] if none is yet."""
    try:
        descendants = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    for process in descendants:
        try:
            command = process.cmdline()
        except psutil.Error:
            continue
        if command[:1] and os.path.basename(command[0]) == "uv" and command[1:3] == ["pip", "install"]:
            return descendants
    return []


def test_a_cloud_killed_mid_build_leaves_no_uv_running_and_its_folder_goes_at_the_next_start(
    tmp_path, monkeypatch
) -> None:
    frameworks = tmp_path / "frameworks"
    monkeypatch.setenv("MAZE_FRAMEWORKS_DIR", str(frameworks))
    info, sm, s3 = cloud_of_its_own(tmp_path)
    try:
        submit(sm, s3, "print('never runs')")  # the first job of its version builds the environment
        deadline = time.monotonic() + BUILD_STARTS_SECONDS
        while not (build := installing(info.pid)) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert build, "uv pip install started"
    finally:
        os.kill(info.pid, signal.SIGKILL)
    assert alive([process.pid for process in build]) == [], "uv, its supervisor and what uv started are gone"
    assert list(frameworks.glob(".*.building-*")), "the build was cut short"

    _, started = launcher.find_or_start(info.state_dir, idle_seconds=None)
    try:
        assert started
        assert list(frameworks.glob(".*.building-*")) == []
    finally:
        launcher.stop(info.state_dir)


def test_a_folder_whose_build_still_runs_is_kept(tmp_path) -> None:
    """Clouds may share the frameworks folder: a build in progress holds its environment's lock."""
    name = env_dir(tmp_path, "1.4-2").name
    building = tmp_path / f".{name}.building-abc"
    building.mkdir()
    with open(tmp_path / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        FrameworkEnvs(tmp_path)
        assert building.is_dir()
    FrameworkEnvs(tmp_path)
    assert not building.exists()
