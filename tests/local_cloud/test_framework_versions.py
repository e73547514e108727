"""Each framework version in its own environment, for training and serving; a model's requirements.txt in its own.

The scikit-learn version a job or an endpoint runs is read from what the user's own code prints or
answers, never from the cloud's description of itself. Which versions run depends on the Python: the
oldest that runs here (1.2-1 on 3.11, 1.4-2 on 3.12) is the one these tests use, the newest refused
(1.0-1 on 3.11, 1.2-1 on 3.12) is the one they are refused.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from local_sagemaker.cloud.compute.framework_envs import CONTAINERS, PYTHON, runnable_versions, sdk_framework_versions
from testing.training_jobs import log_lines, submit, unique, wait
from tests.local_cloud.hosting import create_config, create_model, deploy, upload_model, wait_endpoint

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:{}-cpu-py3"
# What runs on each supported Python (the package index's answer, checked in test_framework_envs.py).
RUNS = {"3.11": ["1.2-1", "1.4-2"], "3.12": ["1.4-2"]}[PYTHON]
OLDEST, REFUSED = RUNS[0], [v for v in sdk_framework_versions() if v not in RUNS][-1]
PINS = CONTAINERS[OLDEST].packages
TWO_ROWS = "\n".join([",".join(["0"] * 64)] * 2)
VERSIONS_FN = """
import json, flask, sklearn, numpy
def model_fn(model_dir):
    return None
def transform_fn(model, body, content_type, accept):
    import tabulate  # from the model's requirements.txt
    return json.dumps({"sklearn": sklearn.__version__, "numpy": numpy.__version__, "tabulate": tabulate.__version__,
                       "flask": flask.__version__}), "application/json"
"""

# The model's answer says which scikit-learn ran it (a default output_fn would not).
SERVED_BY_FN = """
import json, os, joblib, sklearn
def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
def output_fn(prediction, accept):
    return json.dumps({"sklearn": sklearn.__version__, "predictions": prediction.tolist()}), "application/json"
"""


def test_a_training_job_runs_in_its_framework_versions_environment(sm, s3, logs) -> None:
    script = (
        "import sklearn, numpy, pandas\nprint('versions', sklearn.__version__, numpy.__version__, pandas.__version__)\n"
    )
    name = submit(sm, s3, script, image=IMAGE.format(OLDEST))
    assert wait(sm, name, timeout=600)["TrainingJobStatus"] == "Completed"
    lines = log_lines(logs, name)
    printed = next(line for line in lines if line.startswith("versions "))
    sklearn, numpy, pandas = printed.split()[1:]
    assert sklearn == PINS["scikit-learn"], "the container's scikit-learn, exactly"
    assert numpy.split(".")[:2] == PINS["numpy"].split(".")[:2], "the image's numpy line, not the project's"
    assert pandas.split(".")[0] == PINS["pandas"].split(".")[0], "the image's pandas major, not the project's 3.x"
    if PYTHON == "3.12":  # the job's log names each pin replaced on this Python, with why
        assert any(
            line.startswith("six 1.16.0 instead of the container's 1.15.0: six 1.15.0's six.moves does not import")
            for line in lines
        )


def test_a_version_without_a_build_for_this_python_is_refused_with_the_ones_that_run(sm, s3) -> None:
    assert runnable_versions() == RUNS
    with pytest.raises(ClientError) as error:
        submit(sm, s3, "print(1)", image=IMAGE.format(REFUSED))
    assert error.value.response["Error"]["Code"] == "ValidationException"
    listed = "Framework versions that run here: " + ", ".join(f"'{v}'" for v in RUNS)
    assert listed in error.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as error:
        create_model(sm, s3, "s3://maze-tests/none.tar.gz", image=IMAGE.format(REFUSED))
    message = error.value.response["Error"]["Message"]
    assert f"framework_version '{REFUSED}' cannot run on this machine: scikit-learn " in message
    assert f"has no wheel for Python {PYTHON}" in message


def test_an_endpoint_serves_from_its_version_with_the_models_requirements(sm, s3, cloud, logs) -> None:
    model = create_model(
        sm,
        s3,
        upload_model(s3),
        VERSIONS_FN,
        files={"requirements.txt": "tabulate==0.9.0\n"},
        image=IMAGE.format(OLDEST),
    )
    name = deploy(sm, create_config(sm, model))
    try:
        assert wait_endpoint(sm, name, timeout=300)["EndpointStatus"] == "InService"
        runtime = cloud.client("sagemaker-runtime")
        answer = runtime.invoke_endpoint(EndpointName=name, Body=TWO_ROWS, ContentType="text/csv")
        versions = json.loads(answer["Body"].read())
        assert (versions["sklearn"], versions["tabulate"]) == (PINS["scikit-learn"], "0.9.0")
        assert versions["flask"].startswith("1."), "the image's Flask 1.x, not the project's"
        group = f"/aws/sagemaker/Endpoints/{name}"
        stream = logs.describe_log_streams(logGroupName=group)["logStreams"][0]["logStreamName"]
        lines = [e["message"] for e in logs.get_log_events(logGroupName=group, logStreamName=stream)["events"]]
        assert any("Installing module with the following command:" in line for line in lines)
        assert any(line.startswith("Successfully installed") and "tabulate" in line for line in lines)
    finally:
        sm.delete_endpoint(EndpointName=name)
    with pytest.raises(ImportError):
        import tabulate  # noqa: F401 - the project's venv never gets a model's requirements


def test_a_requirement_that_cannot_install_fails_the_endpoint_with_the_reason(sm, s3) -> None:
    missing = f"maze-no-such-package-{unique('x')}"
    model = create_model(sm, s3, upload_model(s3), files={"requirements.txt": f"{missing}\n"})
    name = deploy(sm, create_config(sm, model))
    description = wait_endpoint(sm, name, timeout=300)
    assert description["EndpointStatus"] == "Failed"
    reason = description["FailureReason"]
    assert "did not pass the ping health check" in reason
    assert missing in reason, "pip's own error names the package"
    sm.delete_endpoint(EndpointName=name)


def test_a_model_trained_in_a_version_is_served_by_that_version(sm, s3, cloud) -> None:
    """The SDK's contract: the model's framework version serves the model its training produced."""
    script = (
        "import os, joblib\nfrom sklearn.datasets import load_digits\nfrom sklearn.tree import DecisionTreeClassifier\n"
        "x, y = load_digits(return_X_y=True)\n"
        "joblib.dump(DecisionTreeClassifier(random_state=0).fit(x, y), os.path.join(os.environ['SM_MODEL_DIR'], "
        "'model.joblib'))\n"
    )
    job = wait(sm, submit(sm, s3, script, image=IMAGE.format(OLDEST)), timeout=600)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    model = create_model(sm, s3, job["ModelArtifacts"]["S3ModelArtifacts"], SERVED_BY_FN, image=IMAGE.format(OLDEST))
    name = deploy(sm, create_config(sm, model))
    try:
        assert wait_endpoint(sm, name, timeout=300)["EndpointStatus"] == "InService"
        answer = cloud.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=name, Body=TWO_ROWS, ContentType="text/csv"
        )
        served = json.loads(answer["Body"].read())
        assert served["sklearn"] == PINS["scikit-learn"], "the model's own framework version loads and runs it"
        assert len(served["predictions"]) == 2, "one prediction per row"
    finally:
        sm.delete_endpoint(EndpointName=name)
