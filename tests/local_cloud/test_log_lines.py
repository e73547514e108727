"""One line a container writes, one CloudWatch Logs event: training jobs, endpoint instances and batch instances.

Several processes of one container write to the same pipe at once (gunicorn's workers, a script's
subprocesses), on stdout and stderr, as fast as they can. Read back with boto3 as a participant reads
them, every line is one event, whole, exactly once. Before the containers' Python wrote whole lines
(``local_sagemaker/container/line_writes``), ``print`` wrote the text and its newline apart, and two
workers' ``model loaded in ... s`` lines arrived as one event.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from maze import evidence
from testing.training_jobs import BUCKET, log_lines, submit, unique, wait
from tests.local_cloud.hosting import create_config, create_model, deploy, upload_model, wait_endpoint

LINES = 300  # per writer
CHILDREN = 3  # writers each container process starts beside itself
# A writer prints LINES lines "<tag> <i> <i % 50 characters>", odd ones to stdout, even ones to stderr.
WRITER = (
    "import sys\n"
    "def write(tag, mark):\n"
    "    for i in range(LINES):\n"
    "        print(f'{tag} {i} ' + mark * (i % 50), file=sys.stdout if i % 2 else sys.stderr)\n"
)
# The container's process (a gunicorn worker's model_fn, a training script): CHILDREN Python processes and
# itself write at once, then the line chapter 2 task 1 reads.
CONCURRENT = f"""
import itertools, os, subprocess, sys, time
CALLS = itertools.count()  # a gevent worker may load the model twice, for two requests that came at once
LINES = {LINES}
{WRITER}
def write_concurrently():
    tag = f"p{{os.getpid()}}n{{next(CALLS)}}"
    code = {WRITER!r} + f"LINES = {{LINES}}\\nwrite(sys.argv[1], 'x')\\n"
    children = [subprocess.Popen([sys.executable, "-c", code, f"{{tag}}c{{k}}"]) for k in range({CHILDREN})]
    started = time.perf_counter()
    write(tag, "y")
    for child in children:
        child.wait()
    print(f"model loaded in {{time.perf_counter() - started:.3f}} s", flush=True)
"""
LINE = re.compile(r"^(p\d+n\d+(?:c\d)?) (\d+) ([xy]*)$")
MARK = re.compile(r"p\d+n\d+(?:c\d)? \d+ |model loaded in")


def check_lines(messages: list[str]) -> int:
    """Every written line is one event, whole, exactly once; how many processes wrote. Fails naming a bad event."""
    ours = [m for m in messages if MARK.search(m)]
    bad = [
        m
        for m in ours
        if len(MARK.findall(m)) != 1 or not (LINE.match(m) or re.fullmatch(r"model loaded in [\d.]+ s", m))
    ]
    assert not bad, f"{len(bad)} events that are not one whole line, e.g. {bad[:3]}"
    for message in ours:
        if hit := LINE.match(message):
            expected = ("x" if "c" in hit[1] else "y") * (int(hit[2]) % 50)
            assert hit[3] == expected, f"a line cut or joined: {message!r}"
    per_writer = Counter(LINE.match(m)[1] for m in ours if LINE.match(m))
    assert per_writer and set(per_writer.values()) == {LINES}, f"lines lost or doubled: {per_writer}"
    parents = {tag for tag in per_writer if "c" not in tag}
    assert set(per_writer) == {f"{p}c{k}" for p in parents for k in range(CHILDREN)} | parents, per_writer
    assert sum(1 for m in ours if m.startswith("model loaded in")) == len(parents)
    return len(per_writer)


def until_written(read: Any, timeout: float = 30) -> list[str]:
    """The messages ``read()`` returns once every writer's last line has arrived (the log is shipped in batches)."""
    deadline = time.monotonic() + timeout
    while True:
        messages = read()
        loaded = sum(1 for m in messages if m.startswith("model loaded in"))
        done = Counter(m.split()[0] for m in messages if LINE.match(m) and LINE.match(m)[2] == str(LINES - 1))
        if (loaded and len(done) >= loaded * (CHILDREN + 1)) or time.monotonic() > deadline:
            return messages
        time.sleep(0.2)


def test_a_training_jobs_concurrent_writers_give_one_event_per_line(sm, s3, logs) -> None:
    script = CONCURRENT + "\nwrite_concurrently()\n"
    name = submit(sm, s3, script)
    assert wait(sm, name)["TrainingJobStatus"] == "Completed"
    assert check_lines(until_written(lambda: log_lines(logs, name))) == CHILDREN + 1


MODEL_FN = (
    CONCURRENT
    + """
import io, joblib, numpy as np
def model_fn(model_dir):
    write_concurrently()
    return joblib.load(os.path.join(model_dir, "model.joblib"))
def input_fn(body, content_type):
    return np.atleast_2d(np.loadtxt(io.StringIO(body), delimiter=","))
"""
)


@pytest.fixture(scope="module")
def model(sm, s3) -> str:
    """Four gunicorn workers per instance, each writing with its children when it loads the model."""
    return create_model(sm, s3, upload_model(s3), MODEL_FN, SAGEMAKER_MODEL_SERVER_WORKERS="4")


def test_an_endpoints_workers_writing_at_once_give_one_event_per_line(sm, cloud, logs, model) -> None:
    endpoint = deploy(sm, create_config(sm, model))
    try:
        assert wait_endpoint(sm, endpoint)["EndpointStatus"] == "InService"
        runtime = cloud.client("sagemaker-runtime")
        body = ",".join(["0"] * 64)
        with ThreadPoolExecutor(max_workers=16) as pool:  # every worker loads the model, several at once
            list(
                pool.map(
                    lambda _: runtime.invoke_endpoint(EndpointName=endpoint, Body=body, ContentType="text/csv"),
                    range(32),
                )
            )
        group = evidence.endpoint_log_group(endpoint)
        (stream,) = evidence.container_streams(logs, group)
        writers = check_lines(until_written(lambda: evidence.stream_messages(logs, group, stream)))
        assert writers >= 2 * (CHILDREN + 1), "at least two workers loaded the model"
    finally:
        sm.delete_endpoint(EndpointName=endpoint)


def test_a_batch_instances_workers_writing_at_once_give_one_event_per_line(sm, s3, logs, model) -> None:
    prefix = unique("lines")
    for part in range(4):
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}/part-{part}.csv", Body="\n".join([",".join(["0"] * 64)] * 50))
    name = unique("transform")
    sm.create_transform_job(
        TransformJobName=name,
        ModelName=model,
        MaxConcurrentTransforms=4,
        BatchStrategy="SingleRecord",
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/{prefix}"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/out/{name}", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    sm.get_waiter("transform_job_completed_or_stopped").wait(
        TransformJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 180}
    )
    assert sm.describe_transform_job(TransformJobName=name)["TransformJobStatus"] == "Completed"
    group = "/aws/sagemaker/TransformJobs"
    (stream,) = evidence.container_streams(logs, group, f"{name}/")
    assert check_lines(until_written(lambda: evidence.stream_messages(logs, group, stream))) >= CHILDREN + 1
