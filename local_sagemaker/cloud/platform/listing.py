"""The filters of SageMaker's List* calls, over any record with a name, status and times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def matches(job: Any, request: dict[str, Any]) -> bool:
    """The List* filters SageMaker applies: NameContains, StatusEquals and the time windows."""

    def stamp(key: str) -> datetime | None:
        value = request.get(key)
        return datetime.fromtimestamp(float(value), UTC) if value is not None else None

    checks = [
        request.get("NameContains") is None or request["NameContains"] in job.name,
        request.get("StatusEquals") is None or request["StatusEquals"] == job.status,
        stamp("CreationTimeAfter") is None or job.creation_time > stamp("CreationTimeAfter"),
        stamp("CreationTimeBefore") is None or job.creation_time < stamp("CreationTimeBefore"),
        stamp("LastModifiedTimeAfter") is None or job.last_modified_time > stamp("LastModifiedTimeAfter"),
        stamp("LastModifiedTimeBefore") is None or job.last_modified_time < stamp("LastModifiedTimeBefore"),
    ]
    return all(checks)
