"""EnableNetworkIsolation as SageMaker does it: code from the ``code`` channel, no network for the job's processes.

The jobs are submitted by the SageMaker SDK (``SKLearn(..., enable_network_isolation=True)``) in a
subprocess that connects as a notebook does; their scripts try a TCP connection to the local cloud's
own endpoint and to a server they start on their own loopback, and print the outcome.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import urlparse

import pytest

from local_sagemaker.cloud.compute import network_isolation as isolation
from local_sagemaker.cloud.resources.training.workspace import Workspace
from testing.training_jobs import log_lines, wait

SCRIPT = r"""
import argparse, os, socket

parser = argparse.ArgumentParser()
parser.add_argument("--target")
args = parser.parse_args()


def attempt(address):
    try:
        socket.create_connection(address, timeout=10).close()
        return "connected"
    except OSError as error:
        return f"failed ({type(error).__name__})"


host, port = args.target.rsplit(":", 1)
print(f"channels {os.environ['SM_CHANNELS']}")
print(f"module dir {os.environ['SM_MODULE_DIR']}")
print(f"cloud endpoint: {attempt((host, int(port)))}")
server = socket.create_server(("127.0.0.1", 0))
print(f"own loopback: {attempt(server.getsockname())}")
"""

SUBMIT = """
import sys
import local_sagemaker
cloud = local_sagemaker.connect()
import sagemaker
from sagemaker.sklearn import SKLearn
for isolated in (True, False):
    estimator = SKLearn(
        entry_point="train.py",
        source_dir=sys.argv[1],
        framework_version="1.4-2",
        py_version="py3",
        instance_type="ml.m5.large",
        instance_count=1,
        role=sagemaker.get_execution_role(),
        base_job_name=f"maze-{cloud.team}-{'isolated' if isolated else 'open'}",
        hyperparameters={"target": sys.argv[2]},
        enable_network_isolation=isolated,
    )
    estimator.fit(wait=False)
    print(estimator.latest_training_job.name)
"""


@pytest.fixture(scope="module")
def jobs(cloud, sm, tmp_path_factory) -> dict[str, dict]:
    """The isolated and the open job, each run to its end; keyed 'isolated' and 'open'."""
    source = tmp_path_factory.mktemp("source")
    (source / "train.py").write_text(SCRIPT)
    endpoint = urlparse(cloud.endpoint)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SUBMIT), str(source), f"{endpoint.hostname}:{endpoint.port}"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    isolated, open_ = done.stdout.strip().splitlines()[-2:]
    return {"isolated": wait(sm, isolated), "open": wait(sm, open_)}


def script_output(logs, job: dict) -> dict[str, str]:
    """The script's ``name: outcome`` lines, from the job's CloudWatch log."""
    lines = log_lines(logs, job["TrainingJobName"])
    return dict(line.split(": ", 1) for line in lines if line.startswith(("cloud endpoint: ", "own loopback: ")))


def enforced_here() -> None:
    note = isolation.network_isolation({"EnableNetworkIsolation": True}).note
    if note:
        pytest.skip(note)


def test_the_isolated_job_completes_with_its_code_from_the_code_channel(jobs, logs) -> None:
    job = jobs["isolated"]
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["EnableNetworkIsolation"] is True
    channels = {channel["ChannelName"]: channel for channel in job["InputDataConfig"]}
    assert list(channels) == ["code"]
    assert channels["code"]["DataSource"]["S3DataSource"]["S3Uri"].endswith("/source/sourcedir.tar.gz")
    # The SDK names the code by its path in the container, as DescribeTrainingJob shows it.
    assert job["HyperParameters"]["sagemaker_submit_directory"] == '"/opt/ml/input/data/code/sourcedir.tar.gz"'
    lines = log_lines(logs, job["TrainingJobName"])
    assert 'channels ["code"]' in lines
    module_dir = next(line.split(" ", 2)[2] for line in lines if line.startswith("module dir "))
    assert module_dir.endswith("/input/data/code/sourcedir.tar.gz"), module_dir
    assert not module_dir.startswith("s3://")


def test_the_isolated_job_cannot_reach_the_local_cloud(jobs, logs) -> None:
    enforced_here()
    assert script_output(logs, jobs["isolated"])["cloud endpoint"] == "failed (ConnectionRefusedError)"


def test_the_isolated_job_keeps_its_own_loopback(jobs, logs) -> None:
    assert script_output(logs, jobs["isolated"])["own loopback"] == "connected"


def test_the_open_job_reaches_the_local_cloud(jobs, logs) -> None:
    job = jobs["open"]
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["EnableNetworkIsolation"] is False
    assert job["HyperParameters"]["sagemaker_submit_directory"].startswith('"s3://')
    assert script_output(logs, job) == {"cloud endpoint": "connected", "own loopback": "connected"}


def test_an_open_job_runs_as_it_is() -> None:
    assert isolation.network_isolation({}) == isolation.Isolation()
    assert isolation.network_isolation({"EnableNetworkIsolation": False}) == isolation.Isolation()


def test_without_unshare_an_isolated_job_still_runs_and_says_why(monkeypatch) -> None:
    monkeypatch.setattr(isolation.shutil, "which", lambda name: None)
    outcome = isolation.network_isolation({"EnableNetworkIsolation": True})
    assert outcome.prefix == ()
    assert "not isolated" in outcome.note
    assert "unshare" in outcome.note


def test_where_namespaces_are_refused_an_isolated_job_still_runs_and_says_why(monkeypatch, tmp_path: Path) -> None:
    refusing = tmp_path / "unshare"
    refusing.write_text("#!/bin/sh\necho 'unshare: unshare failed: Operation not permitted' >&2\nexit 1\n")
    refusing.chmod(0o755)
    monkeypatch.setattr(isolation.shutil, "which", lambda name: str(refusing))
    outcome = isolation.network_isolation({"EnableNetworkIsolation": True})
    assert outcome.prefix == ()
    assert "not isolated" in outcome.note
    assert "unshare failed: Operation not permitted" in outcome.note


def test_hyperparameters_naming_opt_ml_name_the_relocated_tree(tmp_path: Path) -> None:
    """The toolkit opens a path hyperparameter as given; /opt/ml is this job's base dir here."""
    workspace = Workspace(tmp_path / "job")
    sent = {
        "sagemaker_submit_directory": '"/opt/ml/input/data/code/sourcedir.tar.gz"',
        "plain": "/opt/ml/model",
        "root": '"/opt/ml"',
        "elsewhere": '"/opt/mlflow/x"',
        "s3": '"s3://bucket/opt/ml/sourcedir.tar.gz"',
        "number": "3",
    }
    workspace.write_config({"HyperParameters": sent})
    written = json.loads((workspace.root / "input" / "config" / "hyperparameters.json").read_text())
    assert written == {
        **sent,
        "sagemaker_submit_directory": json.dumps(f"{workspace.root}/input/data/code/sourcedir.tar.gz"),
        "plain": f"{workspace.root}/model",
        "root": json.dumps(str(workspace.root)),
    }
