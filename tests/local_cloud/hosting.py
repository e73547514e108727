"""Deploy models to the local cloud with plain boto3, as the SDK's deploy() does."""

from __future__ import annotations

import io
import json
import tarfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import joblib
import numpy as np
import psutil
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier

from testing.training_jobs import BUCKET, IMAGE, ROLE, unique, upload_source

MODEL_FN = """
import os, joblib
def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
"""
# A model that reads CSV and JSON Lines bodies of one or many rows, as batch transform sends them.
INPUT_FN = (
    "import io, os, joblib, numpy as np\n"
    "def model_fn(d):\n    return joblib.load(os.path.join(d, 'model.joblib'))\n"
    "def input_fn(body, content_type):\n"
    "    if content_type == 'application/jsonlines':\n"
    "        return np.atleast_2d([json.loads(l) for l in body.splitlines()])\n"
    "    return np.atleast_2d(np.loadtxt(io.StringIO(body), delimiter=',', dtype=np.float32))\n"
    "import json\n"
)
DIGITS = load_digits().data


def csv_rows(rows: np.ndarray) -> str:
    return "\n".join(",".join(str(v) for v in row) for row in rows)


def invoke(
    runtime: Any, endpoint: str, body: Any, content_type: str = "text/csv", accept: str | None = None
) -> tuple[str, bytes]:
    """InvokeEndpoint: the answer's content type and body."""
    extra = {"Accept": accept} if accept else {}
    answer = runtime.invoke_endpoint(EndpointName=endpoint, Body=body, ContentType=content_type, **extra)
    return answer["ContentType"], answer["Body"].read()


def serves(runtime: Any, endpoint: str) -> bool:
    """Whether the endpoint labels the first three digits right (the forest of ``upload_model`` does)."""
    _, body = invoke(runtime, endpoint, csv_rows(DIGITS[:3]))
    return json.loads(body) == [0, 1, 2]


def upload_model(s3: Any) -> str:
    """A forest trained on the digits' pixel array, as model.tar.gz."""
    x, y = load_digits(return_X_y=True)
    forest = RandomForestClassifier(n_estimators=10, random_state=0).fit(x, y)
    raw = io.BytesIO()
    joblib.dump(forest, raw)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo("model.joblib")
        info.size = raw.tell()
        raw.seek(0)
        tar.addfile(info, raw)
    key = f"models/{unique('forest')}/model.tar.gz"
    s3.put_object(Bucket=BUCKET, Key=key, Body=archive.getvalue())
    return f"s3://{BUCKET}/{key}"


def create_model(
    sm: Any,
    s3: Any,
    model_data: str,
    script: str = MODEL_FN,
    *,
    files: dict[str, str] | None = None,
    image: str = IMAGE,
    **environment: str,
) -> str:
    """A model serving ``script`` as predict.py (with ``files`` beside it in its source dir)."""
    name = unique("model")
    source = upload_source(s3, {"predict.py": script, **(files or {})}, f"{name}/sourcedir.tar.gz")
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": image,
            "ModelDataUrl": model_data,
            "Environment": {
                "SAGEMAKER_PROGRAM": "predict.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": source,
                "SAGEMAKER_REGION": "us-east-1",
                **environment,
            },
        },
    )
    return name


def create_config(sm: Any, model: str, instances: int = 1, serverless: dict[str, int] | None = None) -> str:
    name = unique("config")
    variant: dict[str, Any] = {"VariantName": "AllTraffic", "ModelName": model, "InitialVariantWeight": 1.0}
    if serverless:
        variant["ServerlessConfig"] = serverless
    else:
        variant.update(InitialInstanceCount=instances, InstanceType="ml.m5.large")
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
    return name


def deploy(sm: Any, config: str) -> str:
    name = unique("endpoint")
    sm.create_endpoint(EndpointName=name, EndpointConfigName=config)
    return name


def endpoint_processes(cloud: Any, endpoint: str) -> list[psutil.Process]:
    """The live processes of an endpoint's instances: they run in its folder under the state dir."""
    found = []
    for process in psutil.Process(cloud.pid).children(recursive=True):
        try:
            if endpoint in process.cwd() and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except psutil.Error:  # exited (or a zombie) since the listing
            continue
    return found


def gunicorn_masters(cloud: Any, endpoint: str) -> list[psutil.Process]:
    """Each instance's gunicorn master: a ``python -m gunicorn`` whose parent is not one (it is the supervisor's
    child, and the supervisor's own command line names gunicorn too, as the command it runs)."""

    def is_gunicorn(process: psutil.Process) -> bool:
        return process.cmdline()[1:3] == ["-m", "gunicorn"]

    masters = []
    for process in endpoint_processes(cloud, endpoint):
        try:
            if is_gunicorn(process) and not is_gunicorn(process.parent()):
                masters.append(process)
        except psutil.Error:  # exited since the listing
            continue
    return masters


def wait_endpoint(sm: Any, name: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        description = sm.describe_endpoint(EndpointName=name)
        if description["EndpointStatus"] not in ("Creating", "Updating"):
            return description
        time.sleep(0.1)
    raise TimeoutError(f"{name} still {description['EndpointStatus']}")


def endpoint_metric(
    cloudwatch: Any,
    endpoint: str,
    metric: str,
    until: Callable[[dict[str, float]], bool] | None = None,
    timeout: float = 10,
    namespace: str = "AWS/SageMaker",
) -> dict[str, float]:
    """An endpoint's metric (``namespace``, EndpointName and AllTraffic) over all its datapoints.

    Returns SampleCount, Sum and Maximum (0 when there is no datapoint). The runtime publishes once a
    second, so it waits (bounded) until ``until(figures)`` holds (default: a datapoint exists), then
    returns what is there.
    """
    until = until or (lambda figures: figures["SampleCount"] > 0)
    deadline = time.monotonic() + timeout
    while True:
        points = cloudwatch.get_metric_statistics(
            Namespace=namespace,
            MetricName=metric,
            Dimensions=[{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": "AllTraffic"}],
            StartTime=datetime.now(UTC) - timedelta(hours=1),
            EndTime=datetime.now(UTC) + timedelta(minutes=1),
            Period=60,
            Statistics=["SampleCount", "Sum", "Maximum"],
        )["Datapoints"]
        figures = {
            "SampleCount": sum(p["SampleCount"] for p in points),
            "Sum": sum(p["Sum"] for p in points),
            "Maximum": max((p["Maximum"] for p in points), default=0.0),
        }
        if until(figures) or time.monotonic() > deadline:
            return figures
        time.sleep(0.2)
