"""The instance quotas' rule and message, as AWS words them (no cloud needed: the services' wiring is tested
against a cloud in tests/local_cloud/test_quotas.py)."""

from __future__ import annotations

import pytest

from local_sagemaker.cloud.platform.quotas import (
    DEFAULT_INSTANCES,
    Quotas,
    ResourceLimitExceeded,
    configured,
    job_instances,
)


def test_a_request_within_the_quota_passes_and_one_past_it_names_the_quota() -> None:
    quotas = Quotas({"training": 2, "endpoint": 3, "transform": 2, "processing": 2})
    running = [("ml.m5.large", 2), ("ml.c5.xlarge", 1)]
    quotas.count_with("endpoint", lambda: running)
    quotas.check("endpoint", "ml.m5.large", 1)
    quotas.check("endpoint", "ml.c5.xlarge", 2)
    with pytest.raises(ResourceLimitExceeded) as refused:
        quotas.check("endpoint", "ml.m5.large", 2)
    assert refused.value.code == "ResourceLimitExceeded" and refused.value.status == 400
    assert refused.value.message.startswith(
        "The account-level service limit 'ml.m5.large for endpoint usage' is 3 Instances, with current utilization "
        "of 2 Instances and a request delta of 2 Instances."
    )
    assert "MAZE_ENDPOINT_INSTANCE_QUOTA" in refused.value.message


def test_usages_count_apart() -> None:
    quotas = Quotas({"training": 1, "endpoint": 1, "transform": 1, "processing": 1})
    quotas.count_with("training", lambda: [("ml.m5.large", 1)])
    quotas.check("transform", "ml.m5.large", 1)
    with pytest.raises(ResourceLimitExceeded, match="for training job usage"):
        quotas.check("training", "ml.m5.large", 1)


def test_settings_raise_a_quota_and_a_bad_one_names_its_variable() -> None:
    limits = configured({"MAZE_ENDPOINT_INSTANCE_QUOTA": "8"})
    assert limits == {
        "training": DEFAULT_INSTANCES,
        "endpoint": 8,
        "transform": DEFAULT_INSTANCES,
        "processing": DEFAULT_INSTANCES,
    }
    with pytest.raises(ValueError, match="MAZE_TRAINING_INSTANCE_QUOTA='many' is not a whole number"):
        configured({"MAZE_TRAINING_INSTANCE_QUOTA": "many"})
    with pytest.raises(ValueError, match="negative"):
        configured({"MAZE_PROCESSING_INSTANCE_QUOTA": "-1"})


def test_an_admission_sums_its_types_and_holds_the_others_until_its_resource_counts() -> None:
    quotas = Quotas({"training": 2, "endpoint": 3, "transform": 2, "processing": 2})
    created: list[tuple[str, int]] = []
    quotas.count_with("endpoint", lambda: created)
    with quotas.admitting("endpoint", [("ml.m5.large", 1), ("ml.m5.large", 1)]):
        created += [("ml.m5.large", 2)]
    wanted = [("ml.m5.large", 1), ("ml.c5.large", 1), ("ml.m5.large", 1)]
    with (
        pytest.raises(ResourceLimitExceeded, match="request delta of 2 Instances"),
        quotas.admitting("endpoint", wanted),
    ):
        created += [("never", 1)]
    assert created == [("ml.m5.large", 2)], "a refused admission runs nothing"


def test_a_job_asks_for_its_instance_type_and_count() -> None:
    assert job_instances({"InstanceType": "ml.m5.large", "InstanceCount": 3}) == [("ml.m5.large", 3)]
    assert job_instances({"InstanceType": "ml.m5.large"}) == [("ml.m5.large", 1)]
    assert job_instances({"InstanceGroups": []}) == [], "instance groups name no single type"
