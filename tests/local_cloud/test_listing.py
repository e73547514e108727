"""Every List* operation of the local cloud pages, filters and sorts as AWS's API reference says.

Each operation gets twelve resources of its own (names ``<prefix>-a-00`` .. ``-a-05`` and ``<prefix>-b-06`` ..
``-b-11``), the cheapest that exist: models and endpoint configs are free; endpoints, training, processing and
transform jobs are made to fail at once (a deleted model, an empty channel or input, a missing model archive), so
none runs.
What a listing must return is computed from each resource's Describe, never assumed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from testing.training_jobs import BUCKET, IMAGE, ROLE, channel, submit, unique

COUNT = 12
MISSING_ARCHIVE = f"s3://{BUCKET}/listing/no-such-model.tar.gz"


def model(sm: Any, name: str) -> str:
    """A model whose archive does not exist: it lists and describes, and any instance of it fails at once."""
    sm.create_model(
        ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE, "ModelDataUrl": MISSING_ARCHIVE}
    )
    return name


def config(sm: Any, name: str, model_name: str) -> str:
    variant = {"VariantName": "AllTraffic", "ModelName": model_name, "InstanceType": "ml.m5.large"}
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{**variant, "InitialInstanceCount": 1}])
    return name


def make_models(sm: Any, s3: Any, names: list[str]) -> None:
    for name in names:
        model(sm, name)


def make_configs(sm: Any, s3: Any, names: list[str]) -> None:
    served = model(sm, unique("lst-model"))
    for name in names:
        config(sm, name, served)


def make_endpoints(sm: Any, s3: Any, names: list[str]) -> None:
    """Endpoints of a config whose model was deleted: each fails as it comes up, starting nothing."""
    served = model(sm, unique("lst-model"))
    deployed = config(sm, unique("lst-config"), served)
    sm.delete_model(ModelName=served)
    for name in names:
        sm.create_endpoint(EndpointName=name, EndpointConfigName=deployed)
    settle(lambda: [sm.describe_endpoint(EndpointName=n)["EndpointStatus"] for n in names], ("Creating",))


def make_training_jobs(sm: Any, s3: Any, names: list[str]) -> None:
    """Jobs whose only channel is empty: each fails before its script runs."""
    empty = [channel("train", f"s3://{BUCKET}/listing/{unique('empty')}/")]
    for name in names:
        submit(sm, s3, "print('never runs')", name=name, channels=empty)
    settle(lambda: [sm.describe_training_job(TrainingJobName=n)["TrainingJobStatus"] for n in names], ("InProgress",))


def make_processing_jobs(sm: Any, s3: Any, names: list[str]) -> None:
    """Jobs whose only input is empty: each fails before its container starts."""
    empty = f"s3://{BUCKET}/listing/{unique('empty')}/"
    for name in names:
        sm.create_processing_job(
            ProcessingJobName=name,
            ProcessingInputs=[{"InputName": "data", "S3Input": {
                "S3Uri": empty, "LocalPath": "/opt/ml/processing/input/data", "S3DataType": "S3Prefix"}}],
            ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                                                   "VolumeSizeInGB": 30}},
            AppSpecification={"ImageUri": IMAGE, "ContainerEntrypoint": ["python3", "-c", "print('never runs')"]},
            RoleArn=ROLE,
        )  # fmt: skip
    settle(
        lambda: [sm.describe_processing_job(ProcessingJobName=n)["ProcessingJobStatus"] for n in names], ("InProgress",)
    )


def make_transform_jobs(sm: Any, s3: Any, names: list[str]) -> None:
    """Jobs of a model whose archive is missing: each fails as its instance starts."""
    served = model(sm, unique("lst-model"))
    for name in names:
        sm.create_transform_job(
            TransformJobName=name,
            ModelName=served,
            TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/x/"}}},
            TransformOutput={"S3OutputPath": f"s3://{BUCKET}/listing/out"},
            TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        )
    settle(
        lambda: [sm.describe_transform_job(TransformJobName=n)["TransformJobStatus"] for n in names], ("InProgress",)
    )


def settle(statuses: Callable[[], list[str]], passing: tuple[str, ...], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while set(statuses()) & set(passing):
        assert time.monotonic() < deadline, f"still {statuses()}"
        time.sleep(0.2)


@dataclass(frozen=True)
class Operation:
    """A List* operation as botocore's model and AWS's reference describe it, and how to make its resources."""

    method: str
    key: str
    name: str  # the summary's name member
    describe: str
    status: str | None  # Describe's status member; None: the operation has no StatusEquals
    settled_never: str | None  # a status of the enum none of the settled resources has
    sort_by: tuple[str, ...]
    default_order: str
    last_modified: bool  # LastModifiedTime filters
    make: Callable[[Any, Any, list[str]], None]

    def facts(self, sm: Any, name: str) -> dict[str, Any]:
        """What the listing sorts and filters on, from the resource's Describe (DescribeTransformJob has no
        LastModifiedTime: its summary's, then)."""
        described = getattr(sm, self.describe)(**{self.name: name})
        if self.last_modified and "LastModifiedTime" not in described:
            (summary,) = getattr(sm, self.method)(NameContains=name)[self.key]
            described["LastModifiedTime"] = summary["LastModifiedTime"]
        return {
            "Name": name,
            "CreationTime": described["CreationTime"],
            "LastModifiedTime": described.get("LastModifiedTime"),
            "Status": described.get(self.status) if self.status else None,
        }


JOB_SORTS = ("Name", "CreationTime", "Status")
OPERATIONS = [
    Operation("list_models", "Models", "ModelName", "describe_model", status=None, settled_never=None,
              sort_by=("Name", "CreationTime"), default_order="Descending", last_modified=False, make=make_models),
    Operation("list_endpoint_configs", "EndpointConfigs", "EndpointConfigName", "describe_endpoint_config",
              status=None, settled_never=None, sort_by=("Name", "CreationTime"), default_order="Descending",
              last_modified=False, make=make_configs),
    Operation("list_endpoints", "Endpoints", "EndpointName", "describe_endpoint", status="EndpointStatus",
              settled_never="InService", sort_by=JOB_SORTS, default_order="Descending", last_modified=True,
              make=make_endpoints),
    Operation("list_training_jobs", "TrainingJobSummaries", "TrainingJobName", "describe_training_job",
              status="TrainingJobStatus", settled_never="InProgress", sort_by=JOB_SORTS, default_order="Ascending",
              last_modified=True, make=make_training_jobs),
    Operation("list_processing_jobs", "ProcessingJobSummaries", "ProcessingJobName", "describe_processing_job",
              status="ProcessingJobStatus", settled_never="InProgress", sort_by=JOB_SORTS, default_order="Ascending",
              last_modified=True, make=make_processing_jobs),
    Operation("list_transform_jobs", "TransformJobSummaries", "TransformJobName", "describe_transform_job",
              status="TransformJobStatus", settled_never="InProgress", sort_by=JOB_SORTS,
              default_order="Descending", last_modified=True, make=make_transform_jobs),
]  # fmt: skip


@dataclass
class Made:
    operation: Operation
    prefix: str
    facts: list[dict[str, Any]]  # in creation order


@pytest.fixture(scope="module", params=OPERATIONS, ids=lambda operation: operation.method)
def made(request: Any, sm: Any, s3: Any) -> Made:
    operation: Operation = request.param
    prefix = unique("lst")
    names = [f"{prefix}-{'a' if i < COUNT // 2 else 'b'}-{i:02d}" for i in range(COUNT)]
    operation.make(sm, s3, names)
    return Made(operation, prefix, [operation.facts(sm, name) for name in names])


def pages(sm: Any, operation: Operation, **request: Any) -> list[list[str]]:
    """Every page's names, following NextToken by hand."""
    found: list[list[str]] = []
    while True:
        answer = getattr(sm, operation.method)(**request)
        found.append([summary[operation.name] for summary in answer[operation.key]])
        if "NextToken" not in answer:
            return found
        assert len(found) <= COUNT + 1, "NextToken never ends"
        request["NextToken"] = answer["NextToken"]


def listed(sm: Any, operation: Operation, **request: Any) -> list[str]:
    names = [name for page in pages(sm, operation, **request) for name in page]
    assert len(names) == len(set(names)), f"a name came twice: {names}"
    return names


def between(earlier: datetime, later: datetime) -> datetime:
    return earlier + (later - earlier) / 2


def test_pages_of_max_results_hold_every_resource_once_in_the_default_order(sm: Any, made: Made) -> None:
    found = pages(sm, made.operation, NameContains=made.prefix, MaxResults=5)
    assert [len(page) for page in found] == [5, 5, 2]
    names = [name for page in found for name in page]
    created = [fact["Name"] for fact in made.facts]
    expected = created if made.operation.default_order == "Ascending" else created[::-1]
    assert names == expected, "CreationTime, in the operation's default order"


def test_without_max_results_a_page_holds_ten(sm: Any, made: Made) -> None:
    found = pages(sm, made.operation, NameContains=made.prefix)
    assert [len(page) for page in found] == [10, 2]


@pytest.mark.parametrize("order", ["Ascending", "Descending"])
def test_every_sort_key_both_ways(sm: Any, made: Made, order: str) -> None:
    for sort_by in made.operation.sort_by:
        names = listed(sm, made.operation, NameContains=made.prefix, SortBy=sort_by, SortOrder=order, MaxResults=4)
        facts = {fact["Name"]: fact for fact in made.facts}
        assert sorted(names) == sorted(facts)
        keys = [facts[name][sort_by] for name in names]
        assert keys == sorted(keys, reverse=order == "Descending"), f"{sort_by} {order}: {names}"


def test_name_contains(sm: Any, made: Made) -> None:
    names = listed(sm, made.operation, NameContains=f"{made.prefix}-b-", MaxResults=4)
    assert sorted(names) == [fact["Name"] for fact in made.facts[COUNT // 2 :]]
    assert listed(sm, made.operation, NameContains=f"{made.prefix}-c-") == []


def test_time_windows(sm: Any, made: Made) -> None:
    """After and Before are strict; together they make a window. LastModifiedTime where the operation has it."""
    fields = ["CreationTime", "LastModifiedTime"] if made.operation.last_modified else ["CreationTime"]
    for field in fields:
        ordered = sorted(made.facts, key=lambda fact: fact[field])
        assert ordered[4][field] < ordered[5][field], "the resources were stamped apart"
        cut = between(ordered[4][field], ordered[5][field])
        after = listed(sm, made.operation, NameContains=made.prefix, MaxResults=3, **{f"{field}After": cut})
        before = listed(sm, made.operation, NameContains=made.prefix, MaxResults=3, **{f"{field}Before": cut})
        assert sorted(after) == sorted(fact["Name"] for fact in ordered[5:]), field
        assert sorted(before) == sorted(fact["Name"] for fact in ordered[:5]), field
        window = {f"{field}After": between(ordered[1][field], ordered[2][field]), f"{field}Before": cut}
        inside = listed(sm, made.operation, NameContains=made.prefix, **window)
        assert sorted(inside) == sorted(fact["Name"] for fact in ordered[2:5]), field


def test_status_equals(sm: Any, made: Made) -> None:
    """Each status the resources have, and one they do not; an operation without StatusEquals has no such filter."""
    if made.operation.status is None:
        with pytest.raises(ParamValidationError, match="StatusEquals"):
            getattr(sm, made.operation.method)(StatusEquals="InService")
        return
    statuses = {fact["Status"] for fact in made.facts}
    for status in (*statuses, made.operation.settled_never):
        names = listed(sm, made.operation, NameContains=made.prefix, StatusEquals=status, MaxResults=5)
        assert sorted(names) == sorted(fact["Name"] for fact in made.facts if fact["Status"] == status), status


def test_a_token_of_another_listing_or_sort_is_refused(sm: Any, made: Made) -> None:
    first = getattr(sm, made.operation.method)(NameContains=made.prefix, MaxResults=2)
    flipped = "Descending" if made.operation.default_order == "Ascending" else "Ascending"
    with pytest.raises(ClientError, match="Invalid pagination token"):
        getattr(sm, made.operation.method)(NameContains=made.prefix, SortOrder=flipped, NextToken=first["NextToken"])
    other = "list_models" if made.operation.method != "list_models" else "list_endpoint_configs"
    with pytest.raises(ClientError, match="Invalid pagination token"):
        getattr(sm, other)(NextToken=first["NextToken"])


def test_a_resource_created_between_pages_shifts_nothing(sm: Any, s3: Any) -> None:
    """The token names where a page ended: a newer resource does not push an old one onto the next page twice."""
    operation = OPERATIONS[0]
    prefix = unique("lst")
    names = [f"{prefix}-{i:02d}" for i in range(6)]
    make_models(sm, s3, names)
    first = sm.list_models(NameContains=prefix, MaxResults=3)
    make_models(sm, s3, [f"{prefix}-99"])
    rest = listed(sm, operation, NameContains=prefix, MaxResults=3, NextToken=first["NextToken"])
    assert [m["ModelName"] for m in first["Models"]] + rest == names[::-1]


def test_list_training_jobs_filters_status_within_each_page(sm: Any, s3: Any) -> None:
    """AWS's reference: with StatusEquals and MaxResults, MaxResults jobs are taken first, then filtered."""
    prefix = unique("lst")
    make_training_jobs(sm, s3, [f"{prefix}-{i}" for i in range(2)])
    completed = submit(sm, s3, "print('done')", name=f"{prefix}-9")
    settle(lambda: [sm.describe_training_job(TrainingJobName=completed)["TrainingJobStatus"]], ("InProgress",))
    first = sm.list_training_jobs(NameContains=prefix, StatusEquals="Completed", MaxResults=2)
    assert first["TrainingJobSummaries"] == [] and "NextToken" in first
    rest = sm.list_training_jobs(
        NameContains=prefix, StatusEquals="Completed", MaxResults=2, NextToken=first["NextToken"]
    )
    assert [job["TrainingJobName"] for job in rest["TrainingJobSummaries"]] == [completed]
