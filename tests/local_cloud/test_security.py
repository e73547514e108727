"""Nobody but the cloud's own user gets in, and one state dir has one cloud (issue 11, items 1 and 5)."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local_sagemaker import cli
from local_sagemaker.cloud import server as cloud_module
from local_sagemaker.common import state_files
from local_sagemaker.common.pids import is_alive
from local_sagemaker.kernel import launcher
from local_sagemaker.kernel.connect import _write_sdk_config
from testing.training_jobs import BUCKET
from tests.local_cloud.raw_calls import request
from tests.local_cloud.signing import signed_at

SIGNED_FOR_S3 = "AWS4-HMAC-SHA256 Credential=local/20261127/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0"


# --- moto's admin API ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/moto-api/data.json", "/moto-api/reset", "/moto-api/", "/latest/meta-data/"])
def test_motos_own_paths_are_refused_and_change_nothing(cloud, s3, path) -> None:
    s3.put_object(Bucket=BUCKET, Key="security/kept", Body=b"still here")
    status, body = request(cloud, "POST", path, headers={"Authorization": SIGNED_FOR_S3})
    assert status == 403
    assert json.loads(body)["__type"] == "AccessDenied"  # signed for SageMaker: SageMaker's JSON
    assert BUCKET.encode() not in body
    assert s3.get_object(Bucket=BUCKET, Key="security/kept")["Body"].read() == b"still here"


# --- Host header (DNS rebinding) -----------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:{port}", "127.0.0.1:1", ""])
def test_a_host_other_than_the_clouds_own_address_is_refused(cloud, host) -> None:
    port = urlsplit(cloud.endpoint).port
    status, body = request(cloud, "GET", "/_local_sagemaker/health", headers={"Host": host.format(port=port)})
    assert status == 403
    assert b"AccessDenied" in body and b'"pid"' not in body


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "LOCALHOST"])
def test_the_clouds_own_addresses_are_answered(cloud, name) -> None:
    port = urlsplit(cloud.endpoint).port
    status, body = request(cloud, "GET", "/_local_sagemaker/health", headers={"Host": f"{name}:{port}"})
    assert status == 200
    assert json.loads(body)["pid"] == cloud.pid


# --- file modes ----------------------------------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_running_clouds_files_are_its_users_alone(cloud) -> None:
    assert mode(cloud.state_dir) == 0o700
    for name in ("cloud.json", "cloud.log", "start.lock"):
        assert mode(cloud.state_dir / name) == 0o600, name


def test_what_the_cloud_keeps_is_its_users_alone(cloud, s3) -> None:
    """S3's store (index and data files), the records and the CloudWatch journal: owner-only, like the rest."""
    s3.put_object(Bucket=BUCKET, Key="private/large", Body=b"x" * (512 * 1024))  # a data file, not an index row
    kept = [p for p in (cloud.state_dir / "s3").rglob("*") if p.is_file()] + list(cloud.state_dir.glob("*.sqlite*"))
    assert any(p.parent.name == "data" for p in kept) and any(p.name == "records.sqlite" for p in kept)
    assert [p for p in kept if mode(p) & 0o077] == [], "readable or writable by others"


def test_a_new_state_dir_is_private_even_where_it_existed_open(tmp_path, monkeypatch) -> None:
    fresh, existing = tmp_path / "fresh" / "state", tmp_path / "existing"
    existing.mkdir(mode=0o755)
    existing.chmod(0o755)
    for path in (fresh, existing):
        monkeypatch.setenv("MAZE_STATE_DIR", str(path))
        assert state_files.state_dir() == path
        assert mode(path) == 0o700


def test_the_sdk_config_is_written_private(tmp_path) -> None:
    (tmp_path / "sagemaker-config.yaml").write_text("old")
    (tmp_path / "sagemaker-config.yaml").chmod(0o644)
    path = _write_sdk_config(tmp_path, "eu-west-1")
    assert mode(path) == 0o600
    assert "DefaultS3Bucket: sagemaker-eu-west-1-123456789012" in path.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["sagemaker-config.yaml"]


# --- the cloud's control route -------------------------------------------------------------------------------


def register(cloud: launcher.CloudInfo, pid: Any) -> tuple[int, dict[str, Any]]:
    status, body = request(cloud, "POST", "/_local_sagemaker/clients", json.dumps({"pid": pid}).encode())
    return status, json.loads(body)


def a_dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.parametrize(
    "pid", ["1234", None, 3.5, True, -5, 0, 1, "self", "dead"], ids=lambda pid: repr(pid).strip("'")
)
def test_registering_anything_but_a_live_process_of_the_user_is_a_400(cloud, pid) -> None:
    pid = {"self": cloud.pid, "dead": a_dead_pid()}.get(pid, pid) if isinstance(pid, str) else pid
    status, error = register(cloud, pid)
    assert status == 400
    assert error["__type"] == "ValidationException"
    assert repr(pid) in error["message"]
    assert pid not in request_health(cloud)["clients"]


def request_health(cloud: launcher.CloudInfo) -> dict[str, Any]:
    return json.loads(request(cloud, "GET", "/_local_sagemaker/health")[1])


def test_a_live_process_of_the_user_registers(cloud) -> None:
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as kernel:
        try:
            status, answer = register(cloud, kernel.pid)
            assert status == 200 and kernel.pid in answer["clients"]
        finally:
            kernel.kill()
    assert kernel.pid not in request_health(cloud)["clients"]


# --- races: the set of kernels -------------------------------------------------------------------------------


def test_a_kernel_registering_while_the_watcher_prunes_is_kept(monkeypatch) -> None:
    """A request thread adds a kernel in the middle of the watcher's pass: no error, and it survives the pass."""
    clients = cloud_module.KernelClients()
    for pid in (101, 102, 103):
        clients.add(pid)

    def alive(pid: int) -> bool:
        clients.add(pid + 1000)  # what a concurrent /clients request does
        return pid != 102

    monkeypatch.setattr(cloud_module, "is_alive", alive)
    assert clients.live() == [101, 103, 1101, 1102, 1103]
    assert clients.ever_connected


# --- one cloud per state dir ---------------------------------------------------------------------------------


@pytest.fixture
def own_cloud(tmp_path: Path) -> Iterator[launcher.CloudInfo]:
    """A cloud of its own, in a state dir of its own: these tests stop, freeze and kill it."""
    info, started = launcher.find_or_start(tmp_path, idle_seconds=None)
    assert started
    yield info
    if is_alive(info.pid):
        os.kill(info.pid, signal.SIGCONT)
        launcher.stop(tmp_path, grace_seconds=5)


def serving_clouds(state: Path) -> list[int]:
    """Processes serving ``state``, as the process table shows them."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                args = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"serve" in args and os.fsencode(str(state)) in args and is_alive(int(entry.name)):
                found.append(int(entry.name))
    return found


def test_a_cloud_slow_to_answer_is_waited_for_not_doubled(own_cloud) -> None:
    """Frozen for longer than a health check's timeout, it is still the cloud: nobody starts a second one."""
    os.kill(own_cloud.pid, signal.SIGSTOP)
    assert launcher.find(own_cloud.state_dir) is None  # a health check alone cannot tell
    thaw = threading.Timer(4.0, os.kill, (own_cloud.pid, signal.SIGCONT))
    thaw.start()
    try:
        info, started = launcher.find_or_start(own_cloud.state_dir, idle_seconds=None)
    finally:
        thaw.join()
    assert (info, started) == (own_cloud, False)
    assert serving_clouds(own_cloud.state_dir) == [own_cloud.pid]


def test_a_dead_clouds_record_does_not_stop_a_new_one(own_cloud) -> None:
    os.kill(own_cloud.pid, signal.SIGKILL)
    assert launcher._exited(own_cloud.pid, 10.0)
    info, started = launcher.find_or_start(own_cloud.state_dir, idle_seconds=None)
    try:
        assert started and info.pid != own_cloud.pid
    finally:
        launcher.stop(own_cloud.state_dir, grace_seconds=5)


def test_a_cloud_leaves_another_clouds_connection_file_alone(own_cloud) -> None:
    connection = own_cloud.state_dir / "cloud.json"
    other = json.dumps({"pid": os.getpid(), "endpoint": "http://127.0.0.1:1", "started": 0, "idle_seconds": None})
    connection.write_text(other)
    os.kill(own_cloud.pid, signal.SIGTERM)
    assert launcher._exited(own_cloud.pid, 40.0)
    assert connection.read_text() == other


def test_down_stops_a_wedged_cloud(own_cloud, monkeypatch, capsys) -> None:
    """A cloud that answers nothing, not even SIGTERM, is killed after the grace period, and its record goes."""
    os.kill(own_cloud.pid, signal.SIGSTOP)
    monkeypatch.setenv("MAZE_STATE_DIR", str(own_cloud.state_dir))
    assert cli.main(["status"]) == 1
    assert f"running but not answering: pid {own_cloud.pid}" in capsys.readouterr().out
    assert launcher.stop(own_cloud.state_dir, grace_seconds=1) == own_cloud
    assert not is_alive(own_cloud.pid)
    assert not (own_cloud.state_dir / "cloud.json").exists()
    assert launcher.find(own_cloud.state_dir) is None


# --- authentication ------------------------------------------------------------------------------------------

MADE_UP = "AWS4-HMAC-SHA256 Credential=local/20261127/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0"
TRAINING_JOB = {
    "TrainingJobName": "unsigned-job",
    "AlgorithmSpecification": {"TrainingImage": "sklearn", "TrainingInputMode": "File"},
    "RoleArn": "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-maze",
    "HyperParameters": {"sagemaker_program": '"train.py"', "sagemaker_submit_directory": '"s3://maze-tests/x.tar.gz"'},
    "OutputDataConfig": {"S3OutputPath": "s3://maze-tests/out"},
    "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
    "StoppingCondition": {"MaxRuntimeInSeconds": 60},
}


def test_the_unauthenticated_curl_that_would_run_a_script_does_nothing(cloud, s3, sm) -> None:
    status, body = request(
        cloud,
        "PUT",
        f"/{BUCKET}/unsigned/x.tar.gz",
        b"import os",
        {"Authorization": MADE_UP.format(service="s3")},
        False,
    )
    assert (status, b"<Code>InvalidAccessKeyId</Code>" in body) == (403, True)
    headers = {
        "Authorization": MADE_UP.format(service="sagemaker"),
        "X-Amz-Target": "SageMaker.CreateTrainingJob",
        "Content-Type": "application/x-amz-json-1.1",
    }
    status, body = request(cloud, "POST", "/", json.dumps(TRAINING_JOB).encode(), headers, signed=False)
    assert status == 400 and json.loads(body)["__type"] == "UnrecognizedClientException"
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="unsigned/")["KeyCount"] == 0
    assert sm.list_training_jobs(NameContains="unsigned-job")["TrainingJobSummaries"] == []


def refused(client: Any, call: str, **request: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as raised:
        getattr(client, call)(**request)
    error = raised.value.response
    return error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]


@pytest.mark.parametrize(
    ("service", "call", "unknown", "mismatch"),
    [
        ("sagemaker", "list_training_jobs", ("UnrecognizedClientException", 400), ("InvalidSignatureException", 400)),
        ("logs", "describe_log_groups", ("UnrecognizedClientException", 400), ("InvalidSignatureException", 400)),
        ("sts", "get_caller_identity", ("InvalidClientTokenId", 403), ("SignatureDoesNotMatch", 403)),
        ("s3", "list_buckets", ("InvalidAccessKeyId", 403), ("SignatureDoesNotMatch", 403)),
    ],
)
def test_an_unknown_key_or_a_wrong_secret_gets_the_services_own_error(cloud, service, call, unknown, mismatch) -> None:
    region = {"region_name": "us-east-1", "endpoint_url": cloud.endpoint}
    stranger = boto3.client(service, aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="x", **region)
    assert refused(stranger, call) == unknown
    forger = boto3.client(service, aws_access_key_id=cloud.access_key_id, aws_secret_access_key="guess", **region)
    assert refused(forger, call) == mismatch


def test_a_missing_or_malformed_signature_is_refused(cloud) -> None:
    status, body = request(
        cloud,
        "POST",
        "/",
        b"{}",
        {"X-Amz-Target": "SageMaker.ListTrainingJobs", "Content-Type": "application/x-amz-json-1.1"},
        signed=False,
    )
    assert status == 403 and json.loads(body)["__type"] == "MissingAuthenticationTokenException"
    status, body = request(
        cloud,
        "POST",
        "/",
        b"Action=GetCallerIdentity&Version=2011-06-15",
        {"Authorization": "AWS4-HMAC-SHA256 Credential=x", "Content-Type": "application/x-www-form-urlencoded"},
        signed=False,
    )
    assert status == 400 and b"<Code>IncompleteSignature</Code>" in body
    status, _ = request(cloud, "GET", "/_local_sagemaker/health", signed=False)
    assert status == 403


def test_assumed_role_credentials_sign_and_a_wrong_session_token_is_refused(cloud) -> None:
    sts = cloud.client("sts")
    role = sts.assume_role(RoleArn=TRAINING_JOB["RoleArn"], RoleSessionName="security")["Credentials"]
    keys = {"aws_access_key_id": role["AccessKeyId"], "aws_secret_access_key": role["SecretAccessKey"]}
    region = {"region_name": "us-east-1", "endpoint_url": cloud.endpoint}
    session_sts = boto3.client("sts", aws_session_token=role["SessionToken"], **keys, **region)
    assert ":assumed-role/" in session_sts.get_caller_identity()["Arn"]
    wrong = boto3.client("sts", aws_session_token="forged", **keys, **region)
    assert refused(wrong, "get_caller_identity") == ("InvalidClientTokenId", 403)


def test_a_cloud_whose_state_dir_was_removed_still_shuts_down_cleanly(tmp_path) -> None:
    """Its exit forgets its record first: a state dir someone already removed must not stop the rest of the exit."""
    state_files.forget(tmp_path / "removed", os.getpid())
    assert not (tmp_path / "removed").exists()


@pytest.mark.parametrize("signature_version", ["s3v4", "s3"])
def test_presigned_urls_work_and_a_tampered_or_expired_one_does_not(cloud, s3, signature_version, monkeypatch) -> None:
    v2 = signature_version == "s3"
    s3.put_object(Bucket=BUCKET, Key="security/shared", Body=b"for whoever holds the link")
    signer = cloud.client("s3", config=Config(signature_version=signature_version))
    url = signer.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "security/shared"})
    with urllib.request.urlopen(url, timeout=30) as answer:
        assert answer.read() == b"for whoever holds the link"
    for forged in (url.replace("security/shared", "security/kept"), url.replace("Expires=", "Expires=9")):
        with pytest.raises(urllib.error.HTTPError) as refused_:
            urllib.request.urlopen(forged, timeout=30)
        assert refused_.value.code == 403
    # SigV2 states the instant it expires (here: 10 s ago); SigV4 when it was signed and for how long (AWS refuses a
    # negative X-Amz-Expires with a 400), so that one is signed 2 minutes ago for 60 seconds.
    with signed_at(monkeypatch, -120):
        expired = signer.generate_presigned_url(
            "get_object", Params={"Bucket": BUCKET, "Key": "security/shared"}, ExpiresIn=-10 if v2 else 60
        )
    with pytest.raises(urllib.error.HTTPError) as refused_:
        urllib.request.urlopen(expired, timeout=30)
    assert refused_.value.code == 403 and b"expired" in refused_.value.read()
