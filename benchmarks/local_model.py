"""What the benchmarks share: a fitted forest registered as a SageMaker model in a local cloud."""

from __future__ import annotations

import io
import tarfile
from typing import Any

import joblib

from testing.training_jobs import IMAGE, ROLE

PREDICT = b"import os, joblib\ndef model_fn(d):\n    return joblib.load(os.path.join(d, 'model.joblib'))\n"


def tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def register_model(cloud: Any, model: Any, name: str = "bench") -> None:
    """Upload ``model`` and a ``model_fn`` script to bucket 'bench' and create the SageMaker model ``name``."""
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket="bench")
    raw = io.BytesIO()
    joblib.dump(model, raw)
    s3.put_object(Bucket="bench", Key="model.tar.gz", Body=tarball({"model.joblib": raw.getvalue()}))
    s3.put_object(Bucket="bench", Key="code.tar.gz", Body=tarball({"predict.py": PREDICT}))
    cloud.client("sagemaker").create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": IMAGE,
            "ModelDataUrl": "s3://bench/model.tar.gz",
            "Environment": {"SAGEMAKER_PROGRAM": "predict.py", "SAGEMAKER_SUBMIT_DIRECTORY": "s3://bench/code.tar.gz"},
        },
    )
