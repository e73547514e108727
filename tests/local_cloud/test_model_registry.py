"""The Model Registry: groups and numbered versions as AWS answers them, approval, deploying an approved version
(through the SDK's register() and ModelPackage.deploy()), listings, refusals, and the records across a restart."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError, WaiterError

from local_sagemaker.kernel import launcher
from testing.training_jobs import BUCKET, IMAGE, ROLE, unique
from tests.local_cloud.hosting import DIGITS, csv_rows, upload_model
from tests.local_cloud.processes import cloud_of_its_own
from tests.local_cloud.registry import register_and_deploy_with_the_sdk, specification, versions

ACCOUNT_ARN = "arn:aws:sagemaker:us-east-1:123456789012"


@pytest.fixture(scope="module")
def model_data(s3) -> str:
    return upload_model(s3)


@pytest.fixture(scope="module")
def deployed(sm, model_data) -> dict:
    """A group of two versions registered through the SDK, the second approved and serving an endpoint."""
    group, endpoint = unique("forests"), unique("registry-endpoint")
    arns = register_and_deploy_with_the_sdk(model_data, group, endpoint)
    yield {"group": group, "arns": arns, "endpoint": endpoint}
    sm.delete_endpoint(EndpointName=endpoint)


def test_versions_are_numbered_from_one_with_the_approval_aws_returns(sm, deployed, model_data) -> None:
    group = deployed["group"]
    first, second = (sm.describe_model_package(ModelPackageName=arn) for arn in deployed["arns"])
    assert [first["ModelPackageArn"], second["ModelPackageArn"]] == [
        f"{ACCOUNT_ARN}:model-package/{group}/1",
        f"{ACCOUNT_ARN}:model-package/{group}/2",
    ]
    assert (first["ModelPackageVersion"], second["ModelPackageVersion"]) == (1, 2)
    assert first["ModelPackageName"] == second["ModelPackageName"] == group  # a version is named after its group
    assert first["ModelPackageGroupName"] == group
    assert first["ModelApprovalStatus"] == "PendingManualApproval"  # register()'s default, AWS's default
    assert (second["ModelApprovalStatus"], second["ApprovalDescription"]) == ("Approved", "the better f1")
    assert "LastModifiedTime" in second and "LastModifiedTime" not in first
    assert first["ModelPackageStatus"] == "Completed"
    container = first["InferenceSpecification"]["Containers"][0]
    assert (container["Image"], container["ModelDataUrl"]) == (IMAGE, model_data)
    assert first["InferenceSpecification"]["SupportedContentTypes"] == ["text/csv"]
    described = sm.describe_model_package_group(ModelPackageGroupName=group)  # the SDK created it
    assert (described["ModelPackageGroupStatus"], described["ModelPackageGroupArn"]) == (
        "Completed",
        f"{ACCOUNT_ARN}:model-package-group/{group}",
    )
    # A version is found by ARN and by <group>/<version>, as DescribeModelPackage's pattern allows.
    assert sm.describe_model_package(ModelPackageName=f"{group}/2")["ModelPackageArn"] == second["ModelPackageArn"]


def test_the_approved_version_deployed_through_the_sdk_answers(sm, cloud, deployed) -> None:
    runtime = cloud.client("sagemaker-runtime")
    answer = runtime.invoke_endpoint(
        EndpointName=deployed["endpoint"], Body=csv_rows(DIGITS[:3]), ContentType="text/csv"
    )
    assert json.loads(answer["Body"].read()) == [0, 1, 2]
    endpoint = sm.describe_endpoint(EndpointName=deployed["endpoint"])
    assert endpoint["ProductionVariants"][0]["DeployedImages"][0]["SpecifiedImage"] == IMAGE  # the package's image
    config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    model = sm.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    assert model["PrimaryContainer"] == {"ModelPackageName": deployed["arns"][1]}  # as created, not resolved


def test_batch_transform_runs_a_model_of_a_package(sm, s3, deployed) -> None:
    model = unique("package-model")
    sm.create_model(ModelName=model, ExecutionRoleArn=ROLE, Containers=[{"ModelPackageName": deployed["arns"][1]}])
    prefix = f"{unique('registry-batch')}/digits.csv"
    s3.put_object(Bucket=BUCKET, Key=prefix, Body=csv_rows(DIGITS[:3]).encode())
    job = unique("package-transform")
    sm.create_transform_job(
        TransformJobName=job,
        ModelName=model,
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/{prefix}"}},
            "ContentType": "text/csv",
        },
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/out/{job}"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    with contextlib.suppress(WaiterError):  # it raises on Failed; the description says why
        sm.get_waiter("transform_job_completed_or_stopped").wait(
            TransformJobName=job, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
    described = sm.describe_transform_job(TransformJobName=job)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    body = s3.get_object(Bucket=BUCKET, Key=f"out/{job}/digits.csv.out")["Body"].read()
    assert json.loads(body) == [0, 1, 2]


def test_a_version_pending_approval_cannot_be_deployed(sm, deployed) -> None:
    with pytest.raises(ClientError, match="must be Approved") as raised:
        sm.create_model(
            ModelName=unique("pending"), ExecutionRoleArn=ROLE, Containers=[{"ModelPackageName": deployed["arns"][0]}]
        )
    assert raised.value.response["Error"]["Code"] == "ValidationException"


@pytest.fixture(scope="module")
def listed(sm, s3, model_data) -> dict:
    """Two groups of the same stem; three versions in the first, one unversioned package of the stem."""
    stem = unique("listed")
    first, second = f"{stem}-a", f"{stem}-b"
    before = datetime.now(UTC) - timedelta(seconds=1)
    for group in (first, second):
        sm.create_model_package_group(ModelPackageGroupName=group, ModelPackageGroupDescription=f"group {group}")
    spec = specification(s3, model_data)
    arns = versions(sm, first, spec, ["Approved", "PendingManualApproval", "Rejected"])
    unversioned = sm.create_model_package(ModelPackageName=f"{stem}-single", InferenceSpecification=spec)
    return {"stem": stem, "groups": [first, second], "arns": arns, "unversioned": unversioned, "before": before}


def test_model_packages_list_with_awss_filters_sort_and_pages(sm, listed) -> None:
    group, arns = listed["groups"][0], listed["arns"]

    def listing(**request) -> list[str]:
        return [p["ModelPackageArn"] for p in sm.list_model_packages(**request)["ModelPackageSummaryList"]]

    assert listing(ModelPackageGroupName=group) == arns  # a group's versions, oldest first by default
    group_arn = f"{ACCOUNT_ARN}:model-package-group/{group}"
    assert listing(ModelPackageGroupName=group_arn, SortOrder="Descending") == arns[::-1]
    assert listing(ModelPackageGroupName=group, ModelApprovalStatus="Approved") == arns[:1]
    assert listing(ModelPackageGroupName=group, CreationTimeAfter=datetime.now(UTC) + timedelta(seconds=5)) == []
    first_page = sm.list_model_packages(ModelPackageGroupName=group, MaxResults=2)
    assert [p["ModelPackageVersion"] for p in first_page["ModelPackageSummaryList"]] == [1, 2]
    rest = sm.list_model_packages(ModelPackageGroupName=group, MaxResults=2, NextToken=first_page["NextToken"])
    assert [p["ModelPackageVersion"] for p in rest["ModelPackageSummaryList"]] == [3]
    assert "NextToken" not in rest
    # Without a group, ModelPackageType defaults to Unversioned (AWS's documented default).
    stem = listed["stem"]
    assert listing(NameContains=stem) == [listed["unversioned"]["ModelPackageArn"]]
    assert len(listing(NameContains=stem, ModelPackageType="Both")) == 4
    assert listing(NameContains=stem, ModelPackageType="Versioned", SortBy="Name") == arns


def test_model_package_groups_list_with_awss_filters_sort_and_pages(sm, listed) -> None:
    stem, groups = listed["stem"], listed["groups"]
    answer = sm.list_model_package_groups(NameContains=stem, SortBy="Name", SortOrder="Descending", MaxResults=1)
    assert [g["ModelPackageGroupName"] for g in answer["ModelPackageGroupSummaryList"]] == [groups[1]]
    rest = sm.list_model_package_groups(
        NameContains=stem, SortBy="Name", SortOrder="Descending", MaxResults=1, NextToken=answer["NextToken"]
    )
    assert [g["ModelPackageGroupName"] for g in rest["ModelPackageGroupSummaryList"]] == [groups[0]]
    assert rest["ModelPackageGroupSummaryList"][0]["ModelPackageGroupDescription"] == f"group {groups[0]}"
    after = sm.list_model_package_groups(NameContains=stem, CreationTimeAfter=listed["before"])
    assert len(after["ModelPackageGroupSummaryList"]) == 2
    shared = sm.list_model_package_groups(NameContains=stem, CrossAccountFilterOption="CrossAccount")
    assert shared["ModelPackageGroupSummaryList"] == []  # nothing is shared from another account here


def test_an_unversioned_package_has_no_version_and_deploys_without_approval(sm, listed) -> None:
    described = sm.describe_model_package(ModelPackageName=f"{listed['stem']}-single")
    assert "ModelPackageVersion" not in described and "ModelApprovalStatus" not in described
    arn = listed["unversioned"]["ModelPackageArn"]
    assert arn == f"{ACCOUNT_ARN}:model-package/{listed['stem']}-single"
    sm.create_model(ModelName=unique("single"), ExecutionRoleArn=ROLE, Containers=[{"ModelPackageName": arn}])


@pytest.mark.parametrize(
    ("call", "request_", "code", "message"),
    [
        ("create_model_package", {"ModelPackageGroupName": "no-such-group"}, "ValidationException", "does not exist"),
        ("describe_model_package", {"ModelPackageName": "no-such-group/1"}, "ValidationException", "does not exist"),
        ("describe_model_package_group", {"ModelPackageGroupName": "nope"}, "ValidationException", "does not exist"),
        (
            "update_model_package",
            {"ModelPackageArn": f"{ACCOUNT_ARN}:model-package/GROUP/1", "ModelApprovalStatus": "Approve"},
            "ValidationException",
            "Approve",
        ),
        (
            "delete_model_package_group",
            {"ModelPackageGroupName": "GROUP"},
            "ConflictException",
            r"versions \[1, 2, 3\]",
        ),
        (
            "create_model_package",
            {"ModelPackageGroupName": "GROUP", "ModelPackageName": "both"},
            "ValidationException",
            "Both ModelPackageName and ModelPackageGroupName",
        ),
        (
            "create_model_package",
            {"ModelPackageGroupName": "GROUP", "Tags": [{"Key": "k", "Value": "v"}]},
            "ValidationException",
            "tags of its model package group",
        ),
        (
            "create_model",
            {
                "ModelName": "m",
                "ExecutionRoleArn": ROLE,
                "Containers": [{"ModelPackageName": "GROUP/3", "Image": IMAGE}],
            },
            "ValidationException",
            "leave out Image",
        ),
    ],
    ids=[
        "unknown-group",
        "unknown-version",
        "unknown-group-described",
        "bad-status",
        "group-with-versions",
        "both-names",
        "tags-on-a-version",
        "image-beside-a-package",
    ],
)
def test_what_aws_refuses_is_refused(sm, listed, no_traceback_in_the_log, call, request_, code, message) -> None:
    request_ = json.loads(json.dumps(request_).replace("GROUP", listed["groups"][0]))
    with pytest.raises(ClientError, match=message) as raised:
        getattr(sm, call)(**request_)
    assert raised.value.response["Error"]["Code"] == code


def test_a_group_goes_once_its_versions_are_deleted(sm, s3, model_data) -> None:
    group = unique("short-lived")
    sm.create_model_package_group(ModelPackageGroupName=group)
    (arn,) = versions(sm, group, specification(s3, model_data), ["Approved"])
    sm.delete_model_package(ModelPackageName=arn)
    sm.delete_model_package_group(ModelPackageGroupName=group)
    with pytest.raises(ClientError, match="does not exist"):
        sm.describe_model_package_group(ModelPackageGroupName=group)


def test_groups_versions_and_package_models_are_kept_across_a_restart(tmp_path) -> None:
    info, sm, s3 = cloud_of_its_own(tmp_path)
    try:
        sm.create_model_package_group(ModelPackageGroupName="kept", Tags=[{"Key": "maze-team", "Value": "solo"}])
        spec = specification(s3, f"s3://{BUCKET}/any/model.tar.gz")
        first, second = versions(sm, "kept", spec, ["PendingManualApproval", "PendingManualApproval"])
        sm.update_model_package(ModelPackageArn=first, ModelApprovalStatus="Approved", ApprovalDescription="ok")
        sm.create_model(ModelName="from-kept", ExecutionRoleArn=ROLE, Containers=[{"ModelPackageName": first}])
        sm.delete_model_package(ModelPackageName=second)
        before = [sm.describe_model_package(ModelPackageName=first), sm.describe_model(ModelName="from-kept")]
        assert launcher.stop(info.state_dir) is not None
        info, started = launcher.find_or_start(info.state_dir, idle_seconds=None)
        assert started
        sm = info.client("sagemaker")
        after = [sm.describe_model_package(ModelPackageName=first), sm.describe_model(ModelName="from-kept")]
        assert [_without_metadata(a) for a in after] == [_without_metadata(b) for b in before]
        # Version numbers are never reused: the deleted 2 stays taken.
        (third,) = versions(sm, "kept", spec, ["Rejected"])
        assert third.endswith("/kept/3")
        tags = sm.list_tags(ResourceArn=third)["Tags"]
        assert tags == [{"Key": "maze-team", "Value": "solo"}]  # a version carries its group's tags
    finally:
        launcher.stop(info.state_dir)


def _without_metadata(answer: dict) -> dict:
    return {key: value for key, value in answer.items() if key != "ResponseMetadata"}
