"""The notebook switch: the local cloud by default, AWS untouched when asked for, a clear error when gone."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from local_sagemaker.kernel import launcher
from local_sagemaker.kernel.connect import STS_MODULES
from tests.notebooks import SDK_NOISE, first_cells_program


def run_python(program: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(program)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def after_connect(stdout: str) -> list[str]:
    """The lines from connect()'s own on (an ``import sagemaker`` before it prints the SDK's config lines)."""
    lines = stdout.strip().splitlines()
    return lines[next(i for i, line in enumerate(lines) if line.startswith("SageMaker Maze: ")) :]


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
        print(type(sagemaker.session.time).__name__)
        """
    done = run_python(textwrap.dedent(program).replace("IMPORTS", imports), {**os.environ})
    assert done.returncode == 0, done.stderr[-2000:]
    lines = after_connect(done.stdout)
    where = f"the local cloud at {cloud.endpoint} (offline, us-east-1)"
    assert lines[0] == f"SageMaker Maze: this notebook talks to {where}, as team 'solo'."
    assert lines[1].startswith("Kernel: SageMaker Python SDK 2.")
    assert lines[2:] == [
        "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-maze",
        "sagemaker-us-east-1-123456789012",
        "arn:aws:sts::123456789012:assumed-role/AmazonSageMaker-ExecutionRole-maze/maze-participant",
        "ScaledClock",
    ]


@pytest.mark.parametrize("sdk_first", [True, False], ids=["sdk-imported-first", "sdk-imported-after"])
def test_offline_every_sdk_path_to_sts_reaches_the_local_cloud(cloud, sdk_first) -> None:
    """Every SDK module with an ``sts_regional_endpoint`` (the SDK's, sagemaker_core's) answers the local cloud."""
    imports = "import sagemaker, sagemaker_core.helper.session_helper" if sdk_first else ""
    program = f"""
        {imports}
        import sys, local_sagemaker
        local_sagemaker.connect()
        import sagemaker, sagemaker.utils, sagemaker_core.helper.session_helper
        for name, module in sorted(sys.modules.items()):
            if name.startswith("sagemaker") and hasattr(module, "sts_regional_endpoint"):
                print(name, module.sts_regional_endpoint("eu-west-1"))
        """
    done = run_python(program, {**os.environ})
    assert done.returncode == 0, done.stderr[-2000:]
    answers = dict(line.split() for line in after_connect(done.stdout)[2:])
    assert set(STS_MODULES) <= set(answers), answers
    assert set(answers.values()) == {cloud.endpoint}, answers


def test_offline_the_sdk_prints_no_v2_warning_and_no_config_info(cloud) -> None:
    done = run_python(first_cells_program(), {**os.environ})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("SageMaker Maze: this notebook talks to the local cloud")
    assert not [noise for noise in SDK_NOISE if noise in done.stdout + done.stderr], done.stdout + done.stderr


def test_with_maze_target_aws_only_the_sdk_is_quietened() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SAGEMAKER_"))}
    done = run_python(
        """
        import os, local_sagemaker
        local_sagemaker.connect()
        print(sorted(k for k in os.environ if k.startswith(("AWS_", "SAGEMAKER_"))))
        """,
        {**env, "MAZE_TARGET": "aws"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0] == "SageMaker Maze: this notebook talks to AWS, as team 'solo'."
    assert lines[2] == "['SAGEMAKER_SUPPRESS_V2_WARNING']"


def test_an_unknown_target_is_refused_with_the_choices() -> None:
    done = run_python("import local_sagemaker; local_sagemaker.connect()", {**os.environ, "MAZE_TARGET": "azure"})
    assert done.returncode != 0
    assert "use 'aws' (real SageMaker) or 'local'" in done.stderr


def test_a_call_after_the_cloud_stopped_says_how_to_start_it(tmp_path: Path) -> None:
    state = tmp_path / "state"
    done = run_python(
        """
        import boto3, local_sagemaker
        from local_sagemaker.common import state_files
        from local_sagemaker.kernel import launcher
        local_sagemaker.connect()
        launcher.stop(state_files.state_dir())
        try:
            boto3.client("sagemaker").list_training_jobs()
        except launcher.LocalCloudNotRunning as error:
            print("REFUSED", error)
        """,
        {**os.environ, "MAZE_STATE_DIR": str(state)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "REFUSED The local cloud at http://127.0.0.1:" in done.stdout
    assert "python -m local_sagemaker up" in done.stdout
    assert launcher.find(state) is None


@pytest.mark.parametrize("command", ["status"])
def test_cli_status_reports_the_running_cloud(cloud, command) -> None:
    done = subprocess.run([sys.executable, "-m", "local_sagemaker", command], capture_output=True, text=True)
    assert done.returncode == 0
    assert f"running: {cloud.endpoint} (pid {cloud.pid}" in done.stdout
