"""Bad input gives a clear error and loses nothing: failed jobs keep their reason and their logs."""

from __future__ import annotations

import time

import psutil
import pytest
from botocore.exceptions import ClientError

from testing.training_jobs import BUCKET, ROLE, channel, log_lines, submit, unique, wait

RAISES = """
import pandas
print("loading the pixels")
raise ValueError("pixel columns are missing: expected 64, got 12")
"""
SLEEPS = """
import time
print("started", flush=True)
time.sleep(120)
"""


def test_a_script_that_raises_fails_the_job_and_keeps_its_log(sm, s3, logs) -> None:
    job = wait(sm, submit(sm, s3, RAISES))
    assert job["TrainingJobStatus"] == "Failed"
    assert job["SecondaryStatus"] == "Failed"
    # The scikit-learn container runs the script without capturing its stderr, so on AWS the
    # reason names the failing command and exit code and the traceback is in the log only.
    reason = job["FailureReason"]
    assert reason.startswith("AlgorithmError: ExecuteUserScriptError:\nExitCode 1\n")
    assert "train.py" in reason
    lines = log_lines(logs, job["TrainingJobName"])
    assert "loading the pixels" in lines
    assert "ValueError: pixel columns are missing: expected 64, got 12" in lines
    assert any("Traceback" in line for line in lines), "the full log stays readable"
    # Required in the output shape: it names where the model would be, whatever became of the job.
    assert job["ModelArtifacts"]["S3ModelArtifacts"].endswith(f"/{job['TrainingJobName']}/output/model.tar.gz")


def test_an_input_prefix_that_does_not_exist_fails_at_download(sm, s3) -> None:
    uri = f"s3://{BUCKET}/no/such/prefix"
    job = wait(sm, submit(sm, s3, "print('never runs')", channels=[channel("train", uri)]))
    assert job["TrainingJobStatus"] == "Failed"
    assert [t["Status"] for t in job["SecondaryStatusTransitions"]][-2:] == ["Downloading", "Failed"]
    assert f'No S3 objects found under S3 URL "{uri}"' in job["FailureReason"]


def test_an_entry_point_missing_from_the_source_dir_fails_clearly(sm, s3) -> None:
    job = wait(sm, submit(sm, s3, "print('hi')", program="missing.py"))
    assert job["TrainingJobStatus"] == "Failed"
    assert "missing.py" in job["FailureReason"]


def test_a_malformed_hyperparameter_fails_with_argparses_message_in_the_log(sm, s3, logs) -> None:
    script = (
        "import argparse\np = argparse.ArgumentParser()\np.add_argument('--n_estimators', type=int)\np.parse_args()"
    )
    job = wait(sm, submit(sm, s3, script, hyperparameters={"n_estimators": "many"}))
    assert job["TrainingJobStatus"] == "Failed"
    assert "ExitCode 2" in job["FailureReason"]
    assert "--n_estimators many" in job["FailureReason"]
    assert any("invalid int value: 'many'" in line for line in log_lines(logs, job["TrainingJobName"]))


def test_a_metric_regex_that_never_matches_gives_no_metric_and_no_failure(sm, s3) -> None:
    never = [{"Name": "f1", "Regex": r"F1 score is ([0-9.]+)"}]
    job = wait(sm, submit(sm, s3, "print('f1: 0.97')", metric_definitions=never))
    assert job["TrainingJobStatus"] == "Completed"
    assert job["FinalMetricDataList"] == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"metric_definitions": [{"Name": "f1", "Regex": "f1: ([0-9.]+"}]}, "invalid regular expression"),
        ({"name": "bad_name!"}, "failed to satisfy constraint"),
    ],
)
def test_invalid_requests_are_refused_at_create(sm, s3, change, message) -> None:
    with pytest.raises(ClientError) as error:
        submit(sm, s3, "print(1)", **change)
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert message in error.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (
            "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.3-cpu-py311",
            "scikit-learn framework",
        ),
        (
            "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.0-1-cpu-py3",
            "framework_version '1.0-1' cannot run on this machine",
        ),
    ],
)
def test_an_image_the_local_cloud_cannot_run_is_refused_by_name(sm, image, message) -> None:
    with pytest.raises(ClientError) as error:
        sm.create_training_job(
            TrainingJobName=unique("image"),
            AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
            RoleArn=ROLE,
            OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/output"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
            StoppingCondition={"MaxRuntimeInSeconds": 60},
        )
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert message in error.value.response["Error"]["Message"]


def test_a_duplicate_job_name_is_resource_in_use(sm, s3) -> None:
    name = submit(sm, s3, "print(1)")
    with pytest.raises(ClientError) as error:
        submit(sm, s3, "print(1)", name=name)
    assert error.value.response["Error"]["Code"] == "ResourceInUse"
    wait(sm, name)


def test_an_api_the_local_cloud_does_not_execute_is_refused_by_name(sm) -> None:
    with pytest.raises(ClientError) as error:
        sm.describe_auto_ml_job_v2(AutoMLJobName="anything")
    assert error.value.response["Error"]["Code"] == "UnsupportedOperation"
    assert "DescribeAutoMLJobV2" in error.value.response["Error"]["Message"]


def _job_processes(name: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline", "environ"]):
        try:
            if (process.info["environ"] or {}).get("TRAINING_JOB_NAME") == name:
                found.append(process)
        except psutil.Error:
            continue
    return found


def test_stop_training_job_stops_its_processes(sm, s3) -> None:
    name = submit(sm, s3, SLEEPS)
    wait(sm, name, until=("Training",))
    deadline = time.monotonic() + 60
    while not _job_processes(name) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _job_processes(name), "the job's processes run"
    sm.stop_training_job(TrainingJobName=name)
    job = wait(sm, name, timeout=60)
    assert job["TrainingJobStatus"] == "Stopped"
    assert "Stopping" in [t["Status"] for t in job["SecondaryStatusTransitions"]]
    assert _job_processes(name) == []
    with pytest.raises(ClientError, match="in status Stopped"):
        sm.stop_training_job(TrainingJobName=name)


def test_max_runtime_stops_the_job(sm, s3) -> None:
    job = wait(sm, submit(sm, s3, SLEEPS, max_runtime=3), timeout=60)
    assert job["TrainingJobStatus"] == "Stopped"
    assert job["SecondaryStatus"] == "MaxRuntimeExceeded"
    assert _job_processes(job["TrainingJobName"]) == []
