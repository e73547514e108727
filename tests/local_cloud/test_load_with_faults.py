"""A bounded load with faults (issue 11, item 6): nothing well-formed is lost, nothing is left running.

Four client processes keep 200 invocations in flight on a 2-instance endpoint while two clients run 20
training jobs side by side; once the load is on, one instance's gunicorn master is killed (``kill -9``)
and a stream of malformed requests runs until the load ends. Every well-formed invocation must get the
local model's prediction or an error AWS asks to retry (after botocore's standard retries); each
malformed request its AWS error; every job must complete; and once the endpoint is deleted, none of the
processes the test made the cloud start may be left. ``pytest -s`` shows the figures.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import joblib
import psutil
from botocore.exceptions import ClientError
from sklearn.datasets import load_digits

from local_sagemaker.cloud.resources.hosting.runtime import REAL_TIME_PAYLOAD_LIMIT
from local_sagemaker.kernel import launcher
from testing.training_jobs import BUCKET, submit, unique, wait
from tests.local_cloud.hosting import (
    create_config,
    create_model,
    deploy,
    endpoint_processes,
    gunicorn_masters,
    upload_model,
    wait_endpoint,
)
from tests.local_cloud.raw_calls import NO_CLIENT_CHECKS, request

PROCESSES, THREADS, PER_THREAD = 4, 50, 4  # 200 invocations in flight, 800 in all
JOB_CLIENTS, JOBS_EACH = 2, 10
REPO = Path(__file__).resolve().parents[2]
TRAIN = """
import argparse, os, time
parser = argparse.ArgumentParser()
parser.add_argument("--seconds", type=float)
seconds = parser.parse_args().seconds
time.sleep(seconds)
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w") as f:
    f.write(f"slept {seconds} s")
"""


def local_labels(s3: Any, model_data: str) -> list[int]:
    """The prediction, for every digit, of the model the endpoint serves, read back from its archive."""
    key = model_data.removeprefix(f"s3://{BUCKET}/")
    archive = io.BytesIO(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    with tarfile.open(fileobj=archive) as tar:
        forest = joblib.load(io.BytesIO(tar.extractfile("model.joblib").read()))
    return [int(label) for label in forest.predict(load_digits().data)]


def cloud_processes(cloud: launcher.CloudInfo) -> dict[int, psutil.Process]:
    """The live processes the cloud runs: its descendants, and any process working in its state dir (what an
    instance or a job left behind would be once its supervisor died and init adopted it). Zombies run nothing."""
    under_cloud = {process.pid for process in psutil.Process(cloud.pid).children(recursive=True)}
    found = {}
    for process in psutil.process_iter():
        try:
            if process.status() == psutil.STATUS_ZOMBIE or process.pid == cloud.pid:
                continue
            if process.pid in under_cloud or Path(process.cwd()).is_relative_to(cloud.state_dir):
                found[process.pid] = process
        except psutil.Error:  # exited since the listing, or another user's
            continue
    return found


def left_running(cloud: launcher.CloudInfo, before: set[int], timeout: float = 30) -> list[str]:
    """The cloud's processes that were not there before the test, once they had ``timeout`` seconds to go."""
    deadline = time.monotonic() + timeout
    while True:
        new = {pid: process for pid, process in cloud_processes(cloud).items() if pid not in before}
        if not new or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    shown = []
    for pid, process in new.items():
        try:
            shown.append(f"{pid}: {' '.join(process.cmdline())} (in {process.cwd()})")
        except psutil.Error:
            continue
    return shown


def train_batch(cloud: launcher.CloudInfo, client: int) -> list[dict[str, Any]]:
    """One client's jobs: all submitted first, so the 20 run side by side; their final descriptions."""
    sm, s3 = cloud.client("sagemaker"), cloud.client("s3")
    names = [
        submit(sm, s3, TRAIN, hyperparameters={"seconds": 1 + job % 3}, name=unique(f"load-{client}"))
        for job in range(JOBS_EACH)
    ]
    return [wait(sm, name, timeout=600) for name in names]


def start_clients(endpoint: str, labels: list[int], folder: Path) -> list[tuple[subprocess.Popen, Path]]:
    clients = []
    for number in range(PROCESSES):
        out = folder / f"client-{number}.json"
        order = {
            "endpoint": endpoint,
            "first": number * THREADS * PER_THREAD,
            "threads": THREADS,
            "per_thread": PER_THREAD,
            "labels": labels,
            "out": str(out),
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.local_cloud.load_client"],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        process.stdin.write(json.dumps(order))
        process.stdin.close()
        clients.append((process, out))
    return clients


def error_of(call: Callable[..., Any], **arguments: Any) -> tuple[str, int]:
    """The AWS error code and HTTP status a call got (``answered``, 200 when it was not refused)."""
    try:
        call(**arguments)
    except ClientError as error:
        return error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"]
    return "answered", 200


def raw_error(cloud: launcher.CloudInfo, body: bytes, signed: bool) -> tuple[str, int]:
    """A ListTrainingJobs written by hand, so its body and signature can be anything at all."""
    headers = {"X-Amz-Target": "SageMaker.ListTrainingJobs", "Content-Type": "application/x-amz-json-1.1"}
    status, answer = request(cloud, "POST", "/", body, headers, signed)
    return json.loads(answer).get("__type", "answered"), status


def malformed_requests(
    cloud: launcher.CloudInfo, endpoint: str
) -> dict[str, tuple[Callable[[], Any], tuple[str, int]]]:
    """Each malformed request the stream sends, with the error AWS answers it with."""
    raw_sm = cloud.client("sagemaker", config=NO_CLIENT_CHECKS)
    raw_runtime = cloud.client("sagemaker-runtime", config=NO_CLIENT_CHECKS)
    region = {"region_name": "us-east-1", "endpoint_url": cloud.endpoint, "config": NO_CLIENT_CHECKS}
    forger = boto3.session.Session(aws_access_key_id=cloud.access_key_id, aws_secret_access_key="guess")
    stranger = boto3.session.Session(aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="x")
    variant = {"VariantName": "AllTraffic", "ModelName": "m", "InstanceType": "ml.m5.large"}
    return {
        "unsigned": (lambda: raw_error(cloud, b"{}", signed=False), ("MissingAuthenticationTokenException", 403)),
        "wrong secret": (
            lambda: error_of(forger.client("sagemaker", **region).list_training_jobs),
            ("InvalidSignatureException", 400),
        ),
        "unknown key": (
            lambda: error_of(stranger.client("sagemaker", **region).list_training_jobs),
            ("UnrecognizedClientException", 400),
        ),
        "wrong secret, runtime": (
            lambda: error_of(
                forger.client("sagemaker-runtime", **region).invoke_endpoint, EndpointName=endpoint, Body=b"1"
            ),
            ("InvalidSignatureException", 400),
        ),
        "missing members": (
            lambda: error_of(
                raw_sm.create_training_job,
                TrainingJobName="load-no-role",
                AlgorithmSpecification={"TrainingInputMode": "File", "TrainingImage": "x"},
                ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
                StoppingCondition={"MaxRuntimeInSeconds": 60},
            ),
            ("ValidationException", 400),
        ),
        "wrong type": (
            lambda: error_of(
                raw_sm.create_endpoint_config,
                EndpointConfigName="load-bad-variant",
                ProductionVariants=[{**variant, "InitialInstanceCount": "abc"}],
            ),
            ("ValidationException", 400),
        ),
        "malformed JSON": (lambda: raw_error(cloud, b'{"MaxResults": ', signed=True), ("ValidationException", 400)),
        "made-up NextToken": (
            lambda: error_of(raw_sm.list_training_jobs, NextToken="zzz"),
            ("ValidationException", 400),
        ),
        "oversize payload": (
            lambda: error_of(
                raw_runtime.invoke_endpoint, EndpointName=endpoint, Body=b"0" * (REAL_TIME_PAYLOAD_LIMIT + 1)
            ),
            ("ValidationError", 400),
        ),
        "unknown endpoint": (
            lambda: error_of(raw_runtime.invoke_endpoint, EndpointName="load-no-such-endpoint", Body=b"1"),
            ("ValidationError", 400),
        ),
        "invalid endpoint name": (
            lambda: error_of(raw_runtime.invoke_endpoint, EndpointName="not_a_valid_name", Body=b"1"),
            ("ValidationError", 400),
        ),
    }


def send_malformed(
    cases: dict[str, tuple[Callable[[], Any], tuple[str, int]]], until: Callable[[], bool]
) -> tuple[int, list[str]]:
    """Send every case in turn, round after round, until ``until()`` (one round at least).

    Returns how many were sent and, for each answered otherwise than AWS would, what it got.
    """
    sent, wrong = 0, []
    while True:
        for name, (send, expected) in cases.items():
            got = send()
            sent += 1
            if got != expected:
                wrong.append(f"{name}: {got}, expected {expected}")
        if until():
            return sent, wrong
        time.sleep(0.1)


def replaced(sm: Any, cloud: launcher.CloudInfo, endpoint: str, victim: int, timeout: float = 60) -> dict[str, Any]:
    """The endpoint's variant once two instances serve it again, the killed one not among them (or at timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        variant = sm.describe_endpoint(EndpointName=endpoint)["ProductionVariants"][0]
        masters = {p.pid for p in gunicorn_masters(cloud, endpoint)}
        if (variant["CurrentInstanceCount"] == 2 and len(masters) == 2 and victim not in masters) or (
            time.monotonic() > deadline
        ):
            return {**variant, "masters": masters}
        time.sleep(0.2)


def test_a_bounded_load_with_faults_loses_nothing_and_leaves_nothing_running(cloud, sm, s3, tmp_path) -> None:
    started = time.monotonic()
    before = set(cloud_processes(cloud))
    model_data = upload_model(s3)
    labels = local_labels(s3, model_data)
    endpoint = deploy(sm, create_config(sm, create_model(sm, s3, model_data), instances=2))
    assert wait_endpoint(sm, endpoint)["EndpointStatus"] == "InService"
    masters = gunicorn_masters(cloud, endpoint)
    assert len(masters) == 2
    clients: list[tuple[subprocess.Popen, Path]] = []
    with ThreadPoolExecutor(JOB_CLIENTS) as trainers:
        try:
            batches = [trainers.submit(train_batch, cloud, client) for client in range(JOB_CLIENTS)]
            clients = start_clients(endpoint, labels, tmp_path)
            for process, _ in clients:
                assert process.stdout.readline() == "running\n", "the client ended before its first request did"
            victim = masters[0]
            victim.kill()
            killed_at = time.time()
            cases = malformed_requests(cloud, endpoint)
            malformed, misanswered = send_malformed(cases, until=lambda: all(p.poll() is not None for p, _ in clients))
            exits = [process.wait(timeout=300) for process, _ in clients]
            jobs = [job for batch in batches for job in batch.result()]
        finally:
            for process, _ in clients:
                if process.poll() is None:
                    process.kill()
    records = [record for _, out in clients for record in json.loads(out.read_text())]
    variant = replaced(sm, cloud, endpoint, victim.pid)
    description = sm.describe_endpoint(EndpointName=endpoint)
    sm.delete_endpoint(EndpointName=endpoint)
    left = left_running(cloud, before)
    wall = time.monotonic() - started

    outcomes = Counter(record["outcome"] for record in records)
    lost = [record for record in records if record["outcome"] not in ("answered", "retryable")]
    completed = sum(job["TrainingJobStatus"] == "Completed" for job in jobs)
    figures = {
        "invocations": f"{len(records)} ({PROCESSES} processes x {THREADS} threads x {PER_THREAD})",
        "sent after the kill": sum(r["started"] >= killed_at for r in records),
        "in flight at the kill": sum(r["started"] < killed_at < r["ended"] for r in records),
        "answered right": outcomes["answered"],
        "retried attempts": sum(r["retries"] for r in records),
        "requests retried": sum(r["retries"] > 0 for r in records),
        "failed attempts": dict(Counter(failure for r in records for failure in r["failed_attempts"])),
        "retryable errors": outcomes["retryable"],
        "final errors": dict(Counter(r["code"] for r in records if r["code"])),
        "lost": len(lost),
        "malformed sent": malformed,
        "malformed answered as AWS": malformed - len(misanswered),
        "training jobs completed": f"{completed}/{len(jobs)}",
        "wall time": f"{wall:.1f} s",
    }
    print("\nload with faults:\n" + "\n".join(f"  {name}: {value}" for name, value in figures.items()))

    assert exits == [0] * PROCESSES
    assert len(records) == PROCESSES * THREADS * PER_THREAD
    assert figures["sent after the kill"] > 0, "the kill came while the load ran"
    assert misanswered == [], misanswered[:5]
    assert completed == JOB_CLIENTS * JOBS_EACH, [(j["TrainingJobName"], j.get("FailureReason")) for j in jobs]
    for job in jobs:
        key = job["ModelArtifacts"]["S3ModelArtifacts"].removeprefix(f"s3://{BUCKET}/")
        assert s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"] > 0
    assert description["EndpointStatus"] == "InService"
    assert (variant["CurrentInstanceCount"], len(variant["masters"])) == (2, 2)
    assert victim.pid not in variant["masters"], "the killed instance was replaced"
    assert endpoint_processes(cloud, endpoint) == []
    assert left == [], "processes the test started are left running:\n" + "\n".join(left)
    status, health = request(cloud, "GET", "/_local_sagemaker/health")
    assert (status, json.loads(health)["pid"]) == (200, cloud.pid), "the cloud still answers"
    assert lost == [], f"{len(lost)} invocations lost: {dict(Counter(r.get('message', r['code'])[:160] for r in lost))}"
