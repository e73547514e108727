"""What users and their code throw at the local cloud stays inside the job, and every job or endpoint ends in a state.

Paths from users never leave the job's folder, a broken model archive fails its endpoint (an update to
one rolls back), output that is not UTF-8 does not stop a log, nothing a job starts outlives it, and
batch passes objects to the container as bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import psutil
import pytest
from botocore.exceptions import ClientError

from testing.training_jobs import BUCKET, channel, log_lines, submit, unique, wait
from tests.local_cloud.hosting import create_config, create_model, deploy, upload_model, wait_endpoint
from tests.local_cloud.processes import alive, cloud_of_its_own

TWO_ROWS = ("0," * 63 + "0\n") * 2  # two digits' pixel rows, all blank


def eventually(probe: Callable[[], object], timeout: float = 30) -> object:
    """``probe()`` once it is truthy (logs reach CloudWatch in batches); its last value at the deadline."""
    deadline = time.monotonic() + timeout
    while not (value := probe()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return value


# paths from users ---------------------------------------------------------------------------


def test_a_key_climbing_out_of_its_channel_fails_the_job_and_writes_nothing_outside(sm, s3, cloud) -> None:
    prefix = unique("climb")
    marker = unique("escaped")
    # train/data/../ x7 climbs from <job>/input/data/train/data to the state dir itself.
    key = f"{prefix}/data/{'../' * 7}{marker}"
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/data/ok.csv", Body=b"1,2\n")
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"written outside the job\n")
    job = wait(sm, submit(sm, s3, "print('never runs')", channels=[channel("train", f"s3://{BUCKET}/{prefix}")]))
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("ClientError:")
    assert key in job["FailureReason"]
    assert not (cloud.state_dir / marker).exists()
    assert not list(cloud.state_dir.parent.rglob(marker)), "the object was written nowhere"


def test_a_channel_name_with_a_slash_is_refused_at_the_front(sm, s3) -> None:
    s3.put_object(Bucket=BUCKET, Key="slash/x.csv", Body=b"1\n")
    with pytest.raises(ClientError) as raised:
        submit(sm, s3, "print('never runs')", channels=[channel("../../y", f"s3://{BUCKET}/slash")])
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "channelName" in raised.value.response["Error"]["Message"] or "ChannelName" in str(raised.value)


def test_a_channel_named_dot_dot_fails_the_job(sm, s3) -> None:
    """'..' matches ChannelName's pattern, so the front lets it through: the job refuses it."""
    prefix = unique("dots")
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/x.csv", Body=b"1\n")
    job = wait(sm, submit(sm, s3, "print('never runs')", channels=[channel("..", f"s3://{BUCKET}/{prefix}")]))
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith('ClientError: Channel name ".."')


def test_a_key_that_is_both_an_object_and_a_folder_is_the_users_error(sm, s3) -> None:
    prefix = unique("both")
    for key in (f"{prefix}/a", f"{prefix}/a/b"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"1\n")
    job = wait(sm, submit(sm, s3, "print('never runs')", channels=[channel("train", f"s3://{BUCKET}/{prefix}")]))
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith(f'ClientError: S3 object key "{prefix}/a/b"')


# model archives -----------------------------------------------------------------------------


def upload_bytes(s3, body: bytes) -> str:
    key = f"models/{unique('broken')}/model.tar.gz"
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return f"s3://{BUCKET}/{key}"


def climbing_archive() -> bytes:
    """A tar.gz whose member climbs out of the model folder: tarfile's "data" filter refuses it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("../../climbed.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"out"))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def model_data(s3) -> str:
    return upload_model(s3)


@pytest.mark.parametrize("archive", [b"this is not a tar archive", climbing_archive()], ids=["not-tar", "climbing"])
def test_a_model_archive_that_cannot_be_extracted_fails_the_endpoint_and_cleans_its_folder(
    sm, s3, cloud, archive
) -> None:
    url = upload_bytes(s3, archive)
    name = deploy(sm, create_config(sm, create_model(sm, s3, url)))
    description = wait_endpoint(sm, name)
    assert description["EndpointStatus"] == "Failed"
    assert description["FailureReason"].startswith(
        f'Failed to extract model data archive for container "container_1" from URL "{url}". Please ensure that '
        "the object located at the URL is a valid tar.gz archive."
    )
    assert not (cloud.state_dir / "endpoints" / name).exists()
    assert not list((cloud.state_dir / "endpoints").rglob("climbed.txt"))
    sm.delete_endpoint(EndpointName=name)


def test_an_update_to_a_broken_model_rolls_back_and_a_second_update_is_accepted(sm, s3, cloud, model_data) -> None:
    runtime = cloud.client("sagemaker-runtime")
    name = deploy(sm, create_config(sm, create_model(sm, s3, model_data)))
    assert wait_endpoint(sm, name)["EndpointStatus"] == "InService"
    good_config = sm.describe_endpoint(EndpointName=name)["EndpointConfigName"]
    url = upload_bytes(s3, b"not a tar archive either")
    sm.update_endpoint(EndpointName=name, EndpointConfigName=create_config(sm, create_model(sm, s3, url)))
    description = wait_endpoint(sm, name)
    assert description["EndpointStatus"] == "InService"
    assert description["EndpointConfigName"] == good_config, "the old configuration still serves"
    assert "Failed to extract model data archive" in description["FailureReason"]
    answer = runtime.invoke_endpoint(EndpointName=name, Body=TWO_ROWS, ContentType="text/csv")
    assert len(json.loads(answer["Body"].read())) == 2
    second = create_config(sm, create_model(sm, s3, model_data))
    sm.update_endpoint(EndpointName=name, EndpointConfigName=second)
    description = wait_endpoint(sm, name)
    assert (description["EndpointStatus"], description["EndpointConfigName"]) == ("InService", second)
    sm.delete_endpoint(EndpointName=name)


# output that is not UTF-8 -------------------------------------------------------------------

BAD_BYTE_THEN_MORE_THAN_A_PIPE = """
import sys
sys.stdout.buffer.write(b"bad \\xff byte\\n")
sys.stdout.flush()
for n in range(3000):  # 300 KB: more than a pipe holds, so a dead reader would block the script
    print(f"line {n:04d} " + "x" * 90)
print("the last line")
"""


def test_an_invalid_utf8_byte_does_not_stop_the_training_log(sm, s3, logs) -> None:
    job = wait(sm, submit(sm, s3, BAD_BYTE_THEN_MORE_THAN_A_PIPE, max_runtime=120), timeout=150)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    lines = log_lines(logs, job["TrainingJobName"])
    assert "bad \ufffd byte" in lines
    assert "the last line" in lines


BAD_BYTE_MODEL_FN = """
import os, sys, joblib
def model_fn(model_dir):
    sys.stdout.buffer.write(b"loading \\xff the forest\\n")
    sys.stdout.flush()
    return joblib.load(os.path.join(model_dir, "model.joblib"))
"""


def test_an_invalid_utf8_byte_does_not_stop_the_model_servers_log(sm, s3, logs, cloud, model_data) -> None:
    name = deploy(sm, create_config(sm, create_model(sm, s3, model_data, BAD_BYTE_MODEL_FN)))
    assert wait_endpoint(sm, name)["EndpointStatus"] == "InService"
    runtime = cloud.client("sagemaker-runtime")
    runtime.invoke_endpoint(EndpointName=name, Body=TWO_ROWS, ContentType="text/csv")

    def messages() -> list[str]:
        events = logs.filter_log_events(logGroupName=f"/aws/sagemaker/Endpoints/{name}")["events"]
        found = [event["message"] for event in events]
        return found if any('"POST /invocations' in m for m in found) else []

    lines = eventually(messages)
    assert any("loading \ufffd the forest" in line for line in lines)
    assert any('"POST /invocations' in line for line in lines), "the log goes on after the bad byte"
    sm.delete_endpoint(EndpointName=name)


# what a job leaves running ------------------------------------------------------------------


def leaving(pid_file: Path, then: str) -> str:
    """A script that starts three sleepers the ways a job can leave them behind, records their pids, then ``then``."""
    return f"""
import subprocess, sys, time
sleeper = [sys.executable, "-c", "import time; time.sleep(300)"]
pids = [
    subprocess.Popen(sleeper).pid,  # keeps the job's stdout
    subprocess.Popen(sleeper, start_new_session=True).pid,  # its own session, keeps stdout
    subprocess.Popen(sleeper, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).pid,
]
open({str(pid_file)!r}, "w").write(" ".join(map(str, pids)))
print("children started", flush=True)
{then}
"""


def pids_in(pid_file: Path) -> list[int]:
    assert eventually(lambda: pid_file.exists() and pid_file.read_text(), timeout=60), "the script started"
    return [int(pid) for pid in pid_file.read_text().split()]


@pytest.mark.parametrize(("code", "status"), [(0, "Completed"), (3, "Failed")])
def test_a_job_ends_with_its_main_process_and_what_it_left_dies(sm, s3, tmp_path, code, status) -> None:
    pid_file = tmp_path / "pids"
    job = wait(sm, submit(sm, s3, leaving(pid_file, f"sys.exit({code})"), max_runtime=600), timeout=120)
    assert job["TrainingJobStatus"] == status, job.get("FailureReason")
    assert alive(pids_in(pid_file)) == []
    if code:
        assert "ExitCode 3" in job["FailureReason"]


def test_stop_wins_over_children_that_left_the_group(sm, s3, tmp_path) -> None:
    pid_file = tmp_path / "pids"
    name = submit(sm, s3, leaving(pid_file, "time.sleep(300)"), max_runtime=600)
    pids = pids_in(pid_file)
    sm.stop_training_job(TrainingJobName=name)
    job = wait(sm, name, timeout=120)
    assert job["TrainingJobStatus"] == "Stopped"
    assert alive(pids) == []


def test_max_runtime_wins_over_children_that_left_the_group(sm, s3, tmp_path) -> None:
    pid_file = tmp_path / "pids"
    name = submit(sm, s3, leaving(pid_file, "time.sleep(300)"), max_runtime=8)
    pids = pids_in(pid_file)
    job = wait(sm, name, timeout=120)
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Stopped", "MaxRuntimeExceeded")
    assert alive(pids) == []


def test_nothing_a_job_started_survives_the_cloud_killed_with_sigkill(tmp_path) -> None:
    """A cloud of its own (the session's must live on): kill -9 it while a job's children run."""
    info, sm, s3 = cloud_of_its_own(tmp_path)
    pid_file = tmp_path / "pids"
    try:
        submit(sm, s3, leaving(pid_file, "time.sleep(300)"))
        pids = pids_in(pid_file)
        job_processes = [p.pid for p in psutil.Process(info.pid).children(recursive=True)]
        assert set(pids) <= set(job_processes), "the job's children, the script, the toolkit and its supervisor"
    finally:
        os.kill(info.pid, signal.SIGKILL)
    assert alive(job_processes) == []


# batch reads bytes --------------------------------------------------------------------------

DIGEST_FN = """
import hashlib, json
def model_fn(model_dir):
    return None
def transform_fn(model, body, content_type, accept):
    body = body if isinstance(body, bytes) else body.encode()
    return json.dumps({"sha256": hashlib.sha256(body).hexdigest(), "length": len(body)}), "application/json"
"""


@pytest.fixture(scope="module")
def digest_model(sm, s3, model_data) -> str:
    return create_model(sm, s3, model_data, DIGEST_FN)


def transform(sm, model: str, prefix: str, content_type: str, split: str, output: str | None = None) -> dict:
    name = unique("transform")
    sm.create_transform_job(
        TransformJobName=name,
        ModelName=model,
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/{prefix}"}},
            "ContentType": content_type,
            "SplitType": split,
        },
        TransformOutput={
            "S3OutputPath": output or f"s3://{BUCKET}/out/{name}",
            "Accept": "application/json",
            "AssembleWith": "Line" if split == "Line" else "None",
        },
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        # One record a request, so the digests received are the records' (left out, Line split batches records).
        **({"BatchStrategy": "SingleRecord"} if split == "Line" else {}),
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        job = sm.describe_transform_job(TransformJobName=name)
        if job["TransformJobStatus"] not in ("InProgress", "Stopping"):
            return job
        time.sleep(0.5)
    raise TimeoutError(f"{name} still {job['TransformJobStatus']}")


def received(s3, job: dict, key: str) -> list[dict]:
    body = s3.get_object(Bucket=BUCKET, Key=f"out/{job['TransformJobName']}/{key}.out")["Body"].read()
    return [json.loads(line) for line in body.decode().splitlines() if line.strip()]


def digest(body: bytes) -> dict:
    return {"sha256": hashlib.sha256(body).hexdigest(), "length": len(body)}


def test_batch_passes_npy_and_latin1_objects_whole_and_unchanged(sm, s3, digest_model) -> None:
    prefix = unique("bytes")
    npy = io.BytesIO()
    np.save(npy, np.arange(12.0).reshape(3, 4))
    objects = {"a.npy": npy.getvalue(), "b.txt": "café crème\nnaïve\n".encode("latin-1")}
    for key, body in objects.items():
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}/{key}", Body=body)
    job = transform(sm, digest_model, prefix, "application/x-npy", "None")
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    for key, body in objects.items():
        assert received(s3, job, key) == [digest(body)]


def test_batch_line_split_cuts_latin1_bytes_at_newlines(sm, s3, digest_model) -> None:
    prefix = unique("lines")
    lines = ["café crème".encode("latin-1"), "naïve".encode("latin-1")]
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/x.txt", Body=b"\n".join(lines) + b"\n")
    job = transform(sm, digest_model, prefix, "text/plain", "Line")
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert received(s3, job, "x.txt") == [digest(line) for line in lines]


def test_a_missing_output_bucket_is_the_jobs_failure_reason(sm, s3, digest_model) -> None:
    prefix = unique("nobucket")
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/x.txt", Body=b"1\n")
    missing = unique("no-such-bucket")
    job = transform(sm, digest_model, prefix, "text/plain", "None", output=f"s3://{missing}/out")
    assert job["TransformJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("ClientError:")
    assert missing in job["FailureReason"] and "NoSuchBucket" in job["FailureReason"]


def test_an_input_key_climbing_out_of_the_output_path_fails_the_transform(sm, s3, digest_model) -> None:
    prefix = unique("climbing")
    key = f"{prefix}/../../x.txt"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"1\n")
    job = transform(sm, digest_model, prefix, "text/plain", "None")
    assert job["TransformJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("ClientError:")
    assert key in job["FailureReason"]
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"out/{job['TransformJobName']}")
