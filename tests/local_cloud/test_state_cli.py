"""``python -m local_sagemaker status`` says what the state holds; ``reset`` wipes it, and only when asked to."""

from __future__ import annotations

import builtins

import pytest

from local_sagemaker import cli
from local_sagemaker.kernel import launcher
from testing.training_jobs import BUCKET
from tests.local_cloud.processes import alive, cloud_of_its_own


@pytest.fixture
def own_state(tmp_path, monkeypatch):
    info, sm, s3 = cloud_of_its_own(tmp_path)
    monkeypatch.setenv("MAZE_STATE_DIR", str(tmp_path / "state"))
    yield info, s3, tmp_path / "state"
    launcher.stop(tmp_path / "state")


def test_status_counts_what_the_account_holds_and_the_disk_it_takes(own_state, capsys) -> None:
    info, s3, state = own_state
    for index, size in enumerate((10, 2 * 1024 * 1024, 5)):
        s3.put_object(Bucket=BUCKET, Key=f"status/{index}", Body=b"x" * size)
    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    assert f"running: {info.endpoint} (pid {info.pid}" in out
    assert f"state directory: {state}" in out
    buckets = len(s3.list_buckets()["Buckets"])
    assert f"S3: {buckets} bucket(s), 3 object(s), 2.0 MB" in out
    counts = "0 training jobs, 0 tuning jobs, 0 processing jobs, 0 transform jobs, 0 models, 0 endpoints"
    assert f"SageMaker: {counts}" in out, out


def test_reset_asks_first_and_deletes_nothing_without_a_yes(own_state, monkeypatch, capsys) -> None:
    info, _, state = own_state
    monkeypatch.setattr(builtins, "input", lambda prompt: "n")
    assert cli.main(["reset"]) == 1
    assert "nothing deleted" in capsys.readouterr().out
    assert launcher.find(state) is not None, "still running"


def test_reset_yes_stops_the_cloud_and_wipes_its_state(own_state, capsys) -> None:
    info, _, state = own_state
    (state / "jobs").mkdir(exist_ok=True)
    (state / "jobs" / "left-over").write_text("x")
    assert cli.main(["reset", "--yes"]) == 0
    assert f"wiped {state}" in capsys.readouterr().out
    assert alive([info.pid]) == []
    assert list(state.iterdir()) == []
    assert state.stat().st_mode & 0o777 == 0o700, "the directory itself stays, private"
