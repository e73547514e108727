"""ListTrainingJobs as AWS orders and filters it, and attach() to a finished job from a new session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from testing.training_jobs import submit, unique, wait


@pytest.fixture(scope="module")
def three_jobs(sm, s3) -> list[str]:
    prefix = unique("order")
    names = [submit(sm, s3, "print('f1: 0.9')", name=f"{prefix}-{i}") for i in range(3)]
    for name in names:
        wait(sm, name)
    return names


def test_list_orders_by_creation_time_both_ways(sm, three_jobs) -> None:
    prefix = three_jobs[0].rsplit("-", 1)[0]
    newest_first = sm.list_training_jobs(NameContains=prefix, SortBy="CreationTime", SortOrder="Descending")
    assert [j["TrainingJobName"] for j in newest_first["TrainingJobSummaries"]] == three_jobs[::-1]
    oldest_first = sm.list_training_jobs(NameContains=prefix)
    assert [j["TrainingJobName"] for j in oldest_first["TrainingJobSummaries"]] == three_jobs


def test_list_filters_by_status_and_pages(sm, three_jobs) -> None:
    prefix = three_jobs[0].rsplit("-", 1)[0]
    first = sm.list_training_jobs(NameContains=prefix, StatusEquals="Completed", MaxResults=2)
    assert len(first["TrainingJobSummaries"]) == 2
    rest = sm.list_training_jobs(
        NameContains=prefix, StatusEquals="Completed", MaxResults=2, NextToken=first["NextToken"]
    )
    assert [j["TrainingJobName"] for j in rest["TrainingJobSummaries"]] == three_jobs[2:]
    assert "NextToken" not in rest
    assert sm.list_training_jobs(NameContains=prefix, StatusEquals="Failed")["TrainingJobSummaries"] == []


def test_attach_from_a_new_session_restores_the_estimator(sm, s3, three_jobs) -> None:
    name = three_jobs[-1]
    program = textwrap.dedent(
        f"""
        import json, local_sagemaker
        local_sagemaker.connect()
        from sagemaker.sklearn.estimator import SKLearn
        estimator = SKLearn.attach({name!r})
        print(json.dumps({{"model_data": estimator.model_data, "framework": estimator.framework_version,
                          "job": estimator.latest_training_job.name}}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120, env={**os.environ}
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    attached = json.loads(done.stdout.strip().splitlines()[-1])
    described = sm.describe_training_job(TrainingJobName=name)
    assert attached == {
        "model_data": described["ModelArtifacts"]["S3ModelArtifacts"],
        "framework": "1.4-2",
        "job": name,
    }
