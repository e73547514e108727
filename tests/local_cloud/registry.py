"""The Model Registry as tests use it: a model package group registered through the SDK, and versions made with
plain boto3 (an inference specification of one scikit-learn container)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

from testing.training_jobs import IMAGE, unique, upload_source
from tests.local_cloud.hosting import MODEL_FN

# Through the SDK as a notebook would, after connect(): two versions of an SKLearnModel registered in a new group
# (the SDK creates the group), the second approved, then that version deployed with ModelPackage(...).deploy().
SDK_PROGRAM = """
    import json, pathlib, sys, tempfile, local_sagemaker
    local_sagemaker.connect()
    import sagemaker
    from sagemaker import ModelPackage
    from sagemaker.sklearn import SKLearnModel

    model_data, group, endpoint = sys.argv[1:4]
    role = sagemaker.get_execution_role()
    folder = pathlib.Path(tempfile.mkdtemp())
    (folder / "predict.py").write_text(MODEL_FN)
    model = SKLearnModel(model_data=model_data, role=role, entry_point=str(folder / "predict.py"),
                         framework_version="1.4-2")
    versions = [
        model.register(content_types=["text/csv"], response_types=["application/json"],
                       inference_instances=["ml.m5.large"], transform_instances=["ml.m5.large"],
                       model_package_group_name=group, description=f"forest {n}").model_package_arn
        for n in (1, 2)
    ]
    ModelPackage(role, model_package_arn=versions[1]).update_approval_status("Approved", "the better f1")
    ModelPackage(role, model_package_arn=versions[1]).deploy(
        initial_instance_count=1, instance_type="ml.m5.large", endpoint_name=endpoint)
    print("REGISTERED", json.dumps(versions))
"""


def register_and_deploy_with_the_sdk(model_data: str, group: str, endpoint: str) -> list[str]:
    """The two versions' ARNs, once the second serves ``endpoint`` (the program talks to the session's cloud)."""
    program = textwrap.dedent(SDK_PROGRAM).replace("MODEL_FN", repr(MODEL_FN))
    done = subprocess.run(
        [sys.executable, "-c", program, model_data, group, endpoint],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ},
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    # deploy() ends its line of progress dots with "!", without a newline
    return json.loads(done.stdout.split("REGISTERED ", 1)[1].splitlines()[0])


def specification(s3: Any, model_data: str) -> dict[str, Any]:
    """An InferenceSpecification serving ``model_data`` with MODEL_FN, as the SDK's register() sends it."""
    code = upload_source(s3, {"predict.py": MODEL_FN}, f"{unique('registry')}/sourcedir.tar.gz")
    container = {
        "Image": IMAGE,
        "ModelDataUrl": model_data,
        "Environment": {"SAGEMAKER_PROGRAM": "predict.py", "SAGEMAKER_SUBMIT_DIRECTORY": code},
        "Framework": "SKLEARN",
    }
    return {
        "Containers": [container],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["application/json"],
        "SupportedRealtimeInferenceInstanceTypes": ["ml.m5.large"],
        "SupportedTransformInstanceTypes": ["ml.m5.large"],
    }


def versions(sm: Any, group: str, spec: dict[str, Any], statuses: list[str]) -> list[str]:
    """One version of ``group`` per approval status (in that order); their ARNs."""
    return [
        sm.create_model_package(ModelPackageGroupName=group, InferenceSpecification=spec, ModelApprovalStatus=status)[
            "ModelPackageArn"
        ]
        for status in statuses
    ]
