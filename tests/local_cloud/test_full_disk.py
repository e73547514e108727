"""No phantoms: a resource exists only once its record is on disk (issue 19).

The cloud's state directory is a tmpfs of its own, filled to its last block by a file: a real full disk, as a
participant's laptop has one, with SQLite meeting ENOSPC where it would. Mounting needs root, which CI and
this project's machines run tests as.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local_sagemaker.common.account import ACCOUNT_ID
from local_sagemaker.kernel import launcher
from testing.training_jobs import IMAGE, ROLE

ATTEMPTS = 200  # SQLite fills the free pages of its files first; a full disk stops it within a few writes


@pytest.fixture
def small_state(tmp_path: Path) -> Iterator[Path]:
    """A state directory on an 64 MB tmpfs, unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.fail("this test mounts a tmpfs: run it as root (CI does)")
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m,mode=0700", "tmpfs", str(state)], check=True)
    try:
        yield state
    finally:
        launcher.stop(state)
        subprocess.run(["umount", "--lazy", str(state)], check=True)


def fill(folder: Path) -> Path:
    """A file taking every free block of ``folder``'s file system."""
    filler = folder / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 4096, 1):
            try:
                while True:
                    os.write(descriptor, b"\0" * size)
            except OSError as error:
                assert error.errno == errno.ENOSPC
    finally:
        os.close(descriptor)
    return filler


def create(sm: Any, name: str) -> None:
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://maze-tests/model.tar.gz"},
        Tags=[{"Key": "maze-team", "Value": "full"}],
    )


def test_a_create_that_could_not_be_written_created_nothing(small_state: Path) -> None:
    info, _ = launcher.find_or_start(small_state, idle_seconds=None)
    sm = info.client("sagemaker", config=Config(retries={"total_max_attempts": 1}))
    filler = fill(small_state)
    created: list[str] = []
    for attempt in range(ATTEMPTS):
        name = f"full-{attempt}"
        try:
            create(sm, name)
        except ClientError as error:
            refused = error.response
            break
        created.append(name)
    else:
        pytest.fail(f"{ATTEMPTS} models were written to a full disk")

    assert (refused["Error"]["Code"], refused["ResponseMetadata"]["HTTPStatusCode"]) == ("InternalFailure", 500)
    assert "could not write its records" in refused["Error"]["Message"]
    assert "Free disk space" in refused["Error"]["Message"]
    with pytest.raises(ClientError, match="Could not find model"):
        sm.describe_model(ModelName=name)
    assert name not in [m["ModelName"] for m in sm.list_models(NameContains=name)["Models"]]
    with pytest.raises(ClientError, match="does not exist"):  # nor its tags
        sm.list_tags(ResourceArn=f"arn:aws:sagemaker:us-east-1:{ACCOUNT_ID}:model/{name}")
    with pytest.raises(ClientError, match="could not write its records"):
        create(sm, name)  # the SDK's retry meets the same full disk, not "already existing"

    filler.unlink()
    create(sm, name)
    assert sm.describe_model(ModelName=name)["ModelName"] == name

    launcher.stop(small_state)
    info, started = launcher.find_or_start(small_state, idle_seconds=None)
    assert started
    sm = info.client("sagemaker")
    listed = [m["ModelName"] for m in sm.get_paginator("list_models").paginate().search("Models[]")]
    assert sorted(listed) == sorted([*created, name]), "after a restart: every model acknowledged, no other"
