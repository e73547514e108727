"""SageMaker Search over training jobs and model packages: filters, And/Or, nested filters, sort, pages, refusals,
and the SDK's ``estimator.register(...)``, which finds its training job with Search.

Three training jobs are made to fail at once (an empty channel: none runs), which is enough to search them: each
has its own ModelArtifacts.S3ModelArtifacts (where its model would be), tags and hyperparameters. The SDK's
register() needs a completed job (``attach`` waits for it): one job runs a script that does nothing.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

import boto3
import pytest
import sagemaker
from botocore.exceptions import ClientError
from sagemaker.estimator import Estimator, _TrainingJob

from testing.training_jobs import BUCKET, IMAGE, ROLE, channel, submit, unique, wait

TEAMS = ("red", "blue", "red")


@pytest.fixture(scope="module")
def jobs(sm: Any, s3: Any) -> list[dict[str, Any]]:
    """Three failed jobs (their descriptions), tagged team red, blue, red, with hyperparameter depth 1, 2, 3."""
    empty = [channel("train", f"s3://{BUCKET}/search/{unique('empty')}/")]
    prefix = unique("search")
    names = []
    for number, team in enumerate(TEAMS, start=1):
        name = submit(sm, s3, "print('never runs')", name=f"{prefix}-{number}", channels=empty,
                      hyperparameters={"depth": number})  # fmt: skip
        sm.add_tags(ResourceArn=sm.describe_training_job(TrainingJobName=name)["TrainingJobArn"],
                    Tags=[{"Key": "team", "Value": team}])  # fmt: skip
        names.append(name)
    return [wait(sm, name) for name in names]


def search(sm: Any, *filters: dict[str, Any], **request: Any) -> dict[str, Any]:
    expression = request.pop("SearchExpression", {"Filters": list(filters)})
    return sm.search(Resource="TrainingJob", SearchExpression=expression, **request)


def names(answer: dict[str, Any]) -> list[str]:
    return [result["TrainingJob"]["TrainingJobName"] for result in answer["Results"]]


def among(jobs: list[dict[str, Any]]) -> dict[str, Any]:
    """A filter keeping the module's own jobs (the session's cloud holds others)."""
    return {"Name": "TrainingJobName", "Operator": "In", "Value": ",".join(j["TrainingJobName"] for j in jobs)}


def test_a_filter_on_the_model_artifacts_finds_exactly_that_job(sm: Any, jobs: list[dict[str, Any]]) -> None:
    wanted = jobs[1]
    artifacts = wanted["ModelArtifacts"]["S3ModelArtifacts"]
    answer = search(sm, {"Name": "ModelArtifacts.S3ModelArtifacts", "Operator": "Equals", "Value": artifacts})
    assert names(answer) == [wanted["TrainingJobName"]]
    assert answer["TotalHits"] == {"Value": 1, "Relation": "EqualTo"}
    record = answer["Results"][0]["TrainingJob"]
    assert record["TrainingJobArn"] == wanted["TrainingJobArn"]
    assert record["TrainingJobStatus"] == "Failed"
    assert record["Tags"] == [{"Key": "team", "Value": "blue"}]
    # A Value without an Operator is Equals (AWS's API reference).
    assert names(search(sm, {"Name": "ModelArtifacts.S3ModelArtifacts", "Value": artifacts})) == names(answer)


def test_filters_and_by_default_and_subexpressions_or(sm: Any, jobs: list[dict[str, Any]]) -> None:
    first, second, third = (j["TrainingJobName"] for j in jobs)
    red = {"Name": "Tags.team", "Operator": "Equals", "Value": "red"}
    assert sorted(names(search(sm, among(jobs), red))) == [first, third]
    either = {"Filters": [{"Name": "TrainingJobName", "Value": first}, {"Name": "TrainingJobName", "Value": third}]}
    assert sorted(names(search(sm, SearchExpression={**either, "Operator": "Or"}))) == [first, third]
    assert names(search(sm, SearchExpression=either)) == []  # And: no job has both names
    first_or_blue = {"Filters": [{"Name": "TrainingJobName", "Value": first}, {"Name": "Tags.team", "Value": "blue"}],
                     "Operator": "Or"}  # fmt: skip
    nested = {"Filters": [among(jobs)], "SubExpressions": [first_or_blue]}
    assert sorted(names(search(sm, SearchExpression=nested))) == [first, second]
    not_red = {"Name": "Tags.team", "Operator": "NotEquals", "Value": "red"}
    assert names(search(sm, among(jobs), not_red)) == [second]


def test_comparisons_by_property_type(sm: Any, jobs: list[dict[str, Any]]) -> None:
    deeper = {"Name": "HyperParameters.depth", "Operator": "GreaterThanOrEqualTo", "Value": "2"}
    assert sorted(names(search(sm, among(jobs), deeper))) == sorted(j["TrainingJobName"] for j in jobs[1:])
    made = jobs[0]["CreationTime"].astimezone(UTC).replace(microsecond=0)
    since = {"Name": "CreationTime", "Operator": "GreaterThanOrEqualTo", "Value": made.strftime("%Y-%m-%dT%H:%M:%S")}
    assert len(names(search(sm, among(jobs), since))) == 3
    before = {"Name": "CreationTime", "Operator": "LessThan", "Value": made.isoformat()}  # with its offset
    assert names(search(sm, among(jobs), before)) == []
    failed = {"Name": "FailureReason", "Operator": "Exists"}
    assert len(names(search(sm, among(jobs), failed))) == 3
    assert names(search(sm, among(jobs), {"Name": "FailureReason", "Operator": "NotExists"})) == []
    contains = {"Name": "TrainingJobName", "Operator": "Contains", "Value": jobs[0]["TrainingJobName"][-4:]}
    assert names(search(sm, contains)) == [jobs[0]["TrainingJobName"]]


def test_nested_filters_need_one_element_to_satisfy_them_all(sm: Any, jobs: list[dict[str, Any]]) -> None:
    uri = jobs[0]["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"]
    nested = {
        "NestedPropertyName": "InputDataConfig",
        "Filters": [
            {"Name": "InputDataConfig.ChannelName", "Operator": "Equals", "Value": "train"},
            {"Name": "InputDataConfig.DataSource.S3DataSource.S3Uri", "Operator": "Equals", "Value": uri},
        ],
    }
    assert len(names(search(sm, SearchExpression={"Filters": [among(jobs)], "NestedFilters": [nested]}))) == 3
    other = {**nested, "Filters": [{**nested["Filters"][0], "Value": "test"}, nested["Filters"][1]]}
    assert names(search(sm, SearchExpression={"Filters": [among(jobs)], "NestedFilters": [other]})) == []


def test_sort_orders_and_sealed_pages(sm: Any, jobs: list[dict[str, Any]]) -> None:
    expected = sorted(j["TrainingJobName"] for j in jobs)
    first = search(sm, among(jobs), SortBy="TrainingJobName", SortOrder="Ascending", MaxResults=2)
    assert names(first) == expected[:2] and first["TotalHits"]["Value"] == 3
    rest = search(sm, among(jobs), SortBy="TrainingJobName", SortOrder="Ascending", MaxResults=2,
                  NextToken=first["NextToken"])  # fmt: skip
    assert names(rest) == expected[2:] and "NextToken" not in rest
    assert names(search(sm, among(jobs), SortBy="HyperParameters.depth", SortOrder="Descending")) == expected[::-1]
    # Default: LastModifiedTime, Descending (AWS's API reference).
    by_change = sorted(jobs, key=lambda j: j["LastModifiedTime"], reverse=True)
    assert names(search(sm, among(jobs))) == [j["TrainingJobName"] for j in by_change]
    for token, order in ((first["NextToken"], "Descending"), ("zzz", "Ascending")):
        with pytest.raises(ClientError, match="Invalid pagination token"):
            search(sm, among(jobs), SortBy="TrainingJobName", SortOrder=order, NextToken=token)


@pytest.mark.usefixtures("no_traceback_in_the_log")
@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"Resource": "Endpoint"}, "searches ModelPackage, ModelPackageGroup, TrainingJob resources, not Endpoint"),
        ({"SearchExpression": {"Filters": [{"Name": "NoSuchThing", "Value": "x"}]}}, "Unknown property name: NoSuch"),
        ({"SortBy": "ModelArtifacts.NoSuchThing"}, "Unknown property name: ModelArtifacts.NoSuchThing"),
        (
            {"SearchExpression": {"Filters": [{"Name": "TrainingJobName", "Operator": "GreaterThan", "Value": "a"}]}},
            "not supported for text properties",
        ),
        (
            {"SearchExpression": {"Filters": [{"Name": "CreationTime", "Operator": "LessThan", "Value": "yesterday"}]}},
            "ISO 8601",
        ),
        (
            {"SearchExpression": {"Filters": [{"Name": "TrainingJobName", "Operator": "Contains", "Value": "a"}] * 2}},
            "'CONTAINS' operator usage limit of 1 exceeded",
        ),
        ({"SearchExpression": {"Operator": "And"}}, "at least one subexpression, filter, or nested filter"),
    ],
)
def test_refusals_name_the_problem(sm: Any, request_: dict[str, Any], message: str) -> None:
    with pytest.raises(ClientError, match=message) as raised:
        sm.search(**{"Resource": "TrainingJob", **request_})
    assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_model_packages_are_searched_by_group_and_approval(sm: Any, s3: Any) -> None:
    group = unique("search-group")
    sm.create_model_package_group(ModelPackageGroupName=group)
    arns = [sm.create_model_package(ModelPackageGroupName=group, ModelApprovalStatus=status)["ModelPackageArn"]
            for status in ("Rejected", "Approved")]  # fmt: skip
    answer = sm.search(
        Resource="ModelPackage",
        SearchExpression={"Filters": [{"Name": "ModelPackageGroupName", "Value": group},
                                      {"Name": "ModelApprovalStatus", "Value": "Approved"}]},
    )  # fmt: skip
    assert [r["ModelPackage"]["ModelPackageArn"] for r in answer["Results"]] == [arns[1]]
    assert answer["Results"][0]["ModelPackage"]["ModelPackageVersion"] == 2
    versions = sm.search(Resource="ModelPackage", SearchExpression={"Filters": [{"Name": "ModelPackageGroupName",
                         "Value": group}]}, SortBy="ModelPackageVersion", SortOrder="Ascending")  # fmt: skip
    assert [r["ModelPackage"]["ModelPackageArn"] for r in versions["Results"]] == arns
    groups = sm.search(Resource="ModelPackageGroup", SearchExpression={"Filters": [{"Name": "ModelPackageGroupName",
                       "Value": group}]})  # fmt: skip
    assert [r["ModelPackageGroup"]["ModelPackageGroupName"] for r in groups["Results"]] == [group]


@pytest.fixture(scope="module")
def sdk_session(cloud: Any, sm: Any) -> sagemaker.Session:
    boto_session = boto3.Session(
        aws_access_key_id=cloud.access_key_id, aws_secret_access_key=cloud.secret_access_key, region_name="us-east-1"
    )
    return sagemaker.Session(boto_session=boto_session, sagemaker_client=sm)


def test_the_sdks_estimator_register_finds_its_training_job(sm: Any, s3: Any, sdk_session: Any) -> None:
    """The call that stopped the example notebook: ``estimator.register()`` looks its training job up with Search
    (by ModelArtifacts.S3ModelArtifacts) to fill the model package's model card. The estimator is the one
    ``fit()`` leaves (its latest training job set), without fit's waits."""
    job = submit(sm, s3, "print('trained')")
    trained = wait(sm, job)
    assert trained["TrainingJobStatus"] == "Completed"
    estimator = Estimator(image_uri=IMAGE, role=ROLE, instance_count=1, instance_type="ml.m5.large",
                          base_job_name="search", sagemaker_session=sdk_session)  # fmt: skip
    estimator.latest_training_job = _TrainingJob(sdk_session, job)
    group = sm.create_model_package_group(ModelPackageGroupName=unique("search-sdk"))["ModelPackageGroupArn"]
    package = estimator.register(
        content_types=["text/csv"], response_types=["text/csv"], inference_instances=["ml.m5.large"],
        transform_instances=["ml.m5.large"], model_package_group_name=group, approval_status="Approved",
    )  # fmt: skip
    described = sm.describe_model_package(ModelPackageName=package.model_package_arn)
    assert described["ModelApprovalStatus"] == "Approved"
    card = json.loads(described["ModelCard"]["ModelCardContent"])
    assert card["training_details"]["training_job_details"]["training_arn"] == trained["TrainingJobArn"]
