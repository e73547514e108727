"""Instance quotas as AWS enforces them, through boto3 against a cloud of its own with low quotas (the session's
cloud keeps the suite's: see conftest)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from local_sagemaker.kernel import launcher
from testing.training_jobs import BUCKET, IMAGE, ROLE, unique
from tests.local_cloud.hosting import create_config, create_model, deploy, upload_model, wait_endpoint
from tests.local_cloud.processes import cloud_of_its_own


@pytest.fixture
def low_quotas(tmp_path, monkeypatch) -> tuple[Any, Any]:
    """A cloud with room for 2 endpoint instances and none for training or batch, per instance type."""
    monkeypatch.setenv("MAZE_ENDPOINT_INSTANCE_QUOTA", "2")
    monkeypatch.setenv("MAZE_TRAINING_INSTANCE_QUOTA", "0")
    monkeypatch.setenv("MAZE_TRANSFORM_INSTANCE_QUOTA", "0")
    info, sm, s3 = cloud_of_its_own(tmp_path)
    yield sm, s3
    launcher.stop(info.state_dir)


def refusal(call, **request: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as refused:
        call(**request)
    return refused.value.response


def test_an_endpoint_past_the_quota_is_refused_and_deleting_one_makes_room(low_quotas) -> None:
    sm, s3 = low_quotas
    model = create_model(sm, s3, upload_model(s3))
    one = create_config(sm, model)
    first, second = deploy(sm, one), deploy(sm, one)  # Creating already holds its instances
    answer = refusal(sm.create_endpoint, EndpointName=unique("endpoint"), EndpointConfigName=one)
    assert answer["Error"]["Code"] == "ResourceLimitExceeded"
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert answer["Error"]["Message"].startswith(
        "The account-level service limit 'ml.m5.large for endpoint usage' is 2 Instances, with current "
        "utilization of 2 Instances and a request delta of 1 Instances."
    )
    assert "MAZE_ENDPOINT_INSTANCE_QUOTA" in answer["Error"]["Message"]
    # A serverless endpoint has no instance type: no instance quota counts it.
    serverless = create_config(sm, model, serverless={"MemorySizeInMB": 1024, "MaxConcurrency": 1})
    sm.create_endpoint(EndpointName=unique("endpoint"), EndpointConfigName=serverless)
    # An update brings the new instances up beside the old ones (blue/green): they need room too.
    assert wait_endpoint(sm, first)["EndpointStatus"] == "InService"
    answer = refusal(sm.update_endpoint, EndpointName=first, EndpointConfigName=one)
    assert answer["Error"]["Code"] == "ResourceLimitExceeded"
    assert sm.describe_endpoint(EndpointName=first)["EndpointStatus"] == "InService", "a refused update changes nothing"

    sm.delete_endpoint(EndpointName=second)
    third = deploy(sm, one)
    assert sm.describe_endpoint(EndpointName=third)["EndpointStatus"] in ("Creating", "InService")


def test_training_and_transform_jobs_past_their_quotas_are_refused(low_quotas) -> None:
    sm, s3 = low_quotas
    name = unique("job")
    answer = refusal(
        sm.create_training_job,
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/output"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
    )
    assert answer["Error"]["Code"] == "ResourceLimitExceeded"
    assert "'ml.m5.xlarge for training job usage' is 0 Instances" in answer["Error"]["Message"]
    assert name not in {j["TrainingJobName"] for j in sm.list_training_jobs()["TrainingJobSummaries"]}

    model = create_model(sm, s3, upload_model(s3))
    answer = refusal(
        sm.create_transform_job,
        TransformJobName=unique("transform"),
        ModelName=model,
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/in"}}},
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/out"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 2},
    )
    assert answer["Error"]["Code"] == "ResourceLimitExceeded"
    assert "'ml.m5.large for transform job usage' is 0 Instances" in answer["Error"]["Message"]
    assert "request delta of 2 Instances" in answer["Error"]["Message"]
