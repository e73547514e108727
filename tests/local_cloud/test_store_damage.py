"""A local cloud whose S3 store lost data on disk starts with everything else and says what it lost, everywhere.

A cloud of its own is stopped, a data file of its store truncated and another deleted, and the cloud started
again: it serves every undamaged object, answers 405 for the damaged ones (as S3 does for an object it
lost), names them in cloud.log and in ``status``, and a training job reading one fails with a ClientError.
An index with a garbage header stops the start with the records' "reset" advice, not a raw SQLite error.
"""

from __future__ import annotations

import os
import sqlite3

import pytest
from botocore.exceptions import ClientError

from local_sagemaker import cli
from local_sagemaker.kernel import launcher
from testing.training_jobs import BUCKET, channel, submit, unique, wait
from tests.local_cloud.processes import cloud_of_its_own

BIG = 300 * 1024  # over the size kept in the index: a data file of its own


def test_a_cloud_starts_with_every_undamaged_object_and_reports_the_damaged_ones(tmp_path, monkeypatch, capsys) -> None:
    info, sm, s3 = cloud_of_its_own(tmp_path)
    state = info.state_dir
    prefix = unique("damage")
    bodies = {f"{prefix}/{name}": os.urandom(BIG) for name in ("truncated", "missing", "intact")}
    try:
        for key, body in bodies.items():
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        assert launcher.stop(state) is not None
        with sqlite3.connect(state / "s3" / "index.sqlite") as db:
            files = dict(db.execute("SELECT key, file FROM objects WHERE file IS NOT NULL"))
        with open(state / "s3" / "data" / files[f"{prefix}/truncated"], "r+b") as out:
            out.truncate(BIG // 2)
        (state / "s3" / "data" / files[f"{prefix}/missing"]).unlink()

        info, started = launcher.find_or_start(state, idle_seconds=None)
        assert started
        sm, s3 = info.client("sagemaker"), info.client("s3")

        assert s3.get_object(Bucket=BUCKET, Key=f"{prefix}/intact")["Body"].read() == bodies[f"{prefix}/intact"]
        for name, damage in (("truncated", f"holds {BIG // 2} bytes, not the {BIG} written"), ("missing", "missing")):
            with pytest.raises(ClientError) as refused:
                s3.get_object(Bucket=BUCKET, Key=f"{prefix}/{name}")
            error = refused.value.response["Error"]
            assert (error["Code"], refused.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (
                "MethodNotAllowed", 405,
            )  # fmt: skip
            assert f"s3://{BUCKET}/{prefix}/{name}: " in error["Message"] and damage in error["Message"]
        log = (state / "cloud.log").read_text()
        assert "2 of 3 objects are damaged on disk" in log
        assert f"s3://{BUCKET}/{prefix}/truncated: " in log and "Traceback" not in log

        monkeypatch.setenv("MAZE_STATE_DIR", str(state))
        assert cli.main(["status"]) == 0
        out = capsys.readouterr().out
        assert "S3 objects damaged on disk: 2" in out
        assert f"s3://{BUCKET}/{prefix}/missing: its data file" in out

        job = wait(sm, submit(sm, s3, "print('never runs')", channels=[channel("train", f"s3://{BUCKET}/{prefix}")]))
        assert job["TrainingJobStatus"] == "Failed"
        assert job["FailureReason"].startswith("ClientError: Data download failed: ")
        assert "(405)" in job["FailureReason"], "the object the store lost"
    finally:
        launcher.stop(state)


def test_an_s3_index_with_a_garbage_header_stops_the_start_with_how_to_reset(tmp_path) -> None:
    info, _, _ = cloud_of_its_own(tmp_path)
    state = info.state_dir
    assert launcher.stop(state) is not None
    index = state / "s3" / "index.sqlite"
    with open(index, "r+b") as out:
        out.write(b"garbage header" * 8)
    with pytest.raises(RuntimeError) as refused:
        launcher.find_or_start(state, idle_seconds=None)
    last = str(refused.value).strip().splitlines()[-1]
    assert last.startswith("local_sagemaker.cloud.platform.records.IncompatibleState: The local cloud cannot read")
    assert "python -m local_sagemaker reset" in last
    assert launcher.find(state) is None
