"""The notebook switch: the local cloud by default, AWS untouched when asked for, a clear error when gone."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from local_sagemaker import daemon


def run_python(program: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(program)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


@pytest.mark.parametrize("sdk_first", [True, False], ids=["sdk-imported-first", "sdk-imported-after"])
def test_offline_the_unchanged_sdk_calls_work(cloud, sdk_first) -> None:
    imports = "import boto3, sagemaker, local_sagemaker" if sdk_first else "import boto3, local_sagemaker"
    program = """
        IMPORTS
        local_sagemaker.connect()
        import sagemaker
        print(sagemaker.get_execution_role())
        print(sagemaker.Session().default_bucket())
        print(boto3.client("sts").get_caller_identity()["Arn"])
        print(type(sagemaker.session.time).__name__, sagemaker.session.sts_regional_endpoint("us-east-1"))
        """
    done = run_python(textwrap.dedent(program).replace("IMPORTS", imports), {**os.environ})
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stdout.strip().splitlines() if not line.startswith("sagemaker.config")]
    assert (
        lines[0] == f"SageMaker Maze: this notebook talks to the local cloud at {cloud.endpoint} (offline, us-east-1)."
    )
    assert lines[-4:] == [
        "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-maze",
        "sagemaker-us-east-1-123456789012",
        "arn:aws:sts::123456789012:assumed-role/AmazonSageMaker-ExecutionRole-maze/maze-participant",
        f"ScaledClock {cloud.endpoint}",
    ]


def test_with_maze_target_aws_nothing_is_touched() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = run_python(
        """
        import os, local_sagemaker
        local_sagemaker.connect()
        print(sorted(k for k in os.environ if k.startswith(("AWS_", "SAGEMAKER_"))))
        """,
        {**env, "MAZE_TARGET": "aws"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == ["SageMaker Maze: this notebook talks to AWS.", "[]"]


def test_an_unknown_target_is_refused_with_the_choices() -> None:
    done = run_python("import local_sagemaker; local_sagemaker.connect()", {**os.environ, "MAZE_TARGET": "azure"})
    assert done.returncode != 0
    assert "use 'aws' (real SageMaker) or 'local'" in done.stderr


def test_a_call_after_the_cloud_stopped_says_how_to_start_it(tmp_path: Path) -> None:
    state = tmp_path / "state"
    done = run_python(
        """
        import boto3, local_sagemaker
        from local_sagemaker import daemon
        local_sagemaker.connect()
        daemon.stop(daemon.state_dir())
        try:
            boto3.client("sagemaker").list_training_jobs()
        except daemon.LocalCloudNotRunning as error:
            print("REFUSED", error)
        """,
        {**os.environ, "MAZE_STATE_DIR": str(state)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "REFUSED The local cloud at http://127.0.0.1:" in done.stdout
    assert "python -m local_sagemaker up" in done.stdout
    assert daemon.find(state) is None


@pytest.mark.parametrize("command", ["status"])
def test_cli_status_reports_the_running_cloud(cloud, command) -> None:
    done = subprocess.run([sys.executable, "-m", "local_sagemaker", command], capture_output=True, text=True)
    assert done.returncode == 0
    assert f"running: {cloud.endpoint} (pid {cloud.pid}" in done.stdout
