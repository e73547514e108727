"""Read-only List calls the SageMaker SDK makes on the side, answered as an account that has none.

The SDK's clean-up paths ask before they delete: ``Predictor.list_monitors()`` (called by the SDK's
own ``timeout_and_delete_endpoint_by_name`` before ``delete_endpoint``) lists monitoring
schedules, ``Predictor.list_related_models()`` lists inference components, and a monitor lists
its executions. The local cloud cannot create any of these, so "none" is the true answer, and a
refusal would make such code skip the deletion that follows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from local_sagemaker.cloud.gateway.validation import operation_model

EMPTY_LISTINGS = ("ListMonitoringSchedules", "ListMonitoringExecutions", "ListInferenceComponents")


def actions() -> dict[str, Callable[[dict[str, Any], str], dict[str, Any]]]:
    """SageMaker actions answering each of EMPTY_LISTINGS with its required lists empty."""
    return {operation: _empty_listing(operation) for operation in EMPTY_LISTINGS}


def _empty_listing(operation: str) -> Callable[[dict[str, Any], str], dict[str, Any]]:
    model = operation_model("sagemaker", operation)
    assert model is not None and model.output_shape is not None, f"botocore has no SageMaker {operation}"
    required = model.output_shape.metadata.get("required", [])
    answer = {member: [] for member in required if model.output_shape.members[member].type_name == "list"}
    return lambda request, region: dict(answer)
