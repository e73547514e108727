"""Per-instance work as AWS itself records it: the serving container's access lines in CloudWatch Logs.

The scikit-learn container's web server logs one line per request (``"POST /invocations HTTP/1.1"
200 ...``) into the instance's log stream, on AWS and on the local cloud alike, so counting those
lines is evidence that holds on both clouds. Streams are named as AWS names them: a transform
job's ``<job>/<instance-id>-<epoch>`` (its ``.../data-log`` streams hold platform lines, not the
container's), an endpoint's ``<variant>/<instance-id>``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

INVOCATION = re.compile(r'"POST /invocations HTTP/1\.[01]" (\d{3}) ')
TRANSFORM_GROUP = "/aws/sagemaker/TransformJobs"
ENDPOINT_GROUP = "/aws/sagemaker/Endpoints"
DATA_LOG = "/data-log"


def stream_messages(logs: Any, group: str, stream: str) -> list[str]:
    """Every message of one stream, first to last, across GetLogEvents pages."""
    messages: list[str] = []
    token = None
    while True:
        kwargs = {"nextToken": token} if token else {}
        page = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True, **kwargs)
        messages += [event["message"] for event in page["events"]]
        if not page["events"] or page.get("nextForwardToken") == token:
            return messages
        token = page["nextForwardToken"]


def answered_invocations(messages: list[str]) -> int:
    """How many requests the container answered with a 2xx, from its access lines."""
    return sum(1 for m in messages for hit in INVOCATION.finditer(m) if hit[1].startswith("2"))


def container_streams(logs: Any, group: str, prefix: str = "") -> list[str]:
    """The container streams of a log group (platform ``data-log`` streams left out); [] if it has none."""
    names: list[str] = []
    kwargs: dict[str, Any] = {"logGroupName": group}
    if prefix:
        kwargs["logStreamNamePrefix"] = prefix
    try:
        for page in logs.get_paginator("describe_log_streams").paginate(**kwargs):
            names += [s["logStreamName"] for s in page["logStreams"]]
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [name for name in names if not name.endswith(DATA_LOG)]


def invocations_per_instance(logs: Any, group: str, prefix: str = "") -> dict[str, int]:
    """Answered requests per instance stream of ``group`` (e.g. a transform job's ``<job>/``)."""
    return {
        stream: answered_invocations(stream_messages(logs, group, stream))
        for stream in container_streams(logs, group, prefix)
    }


def transform_invocations(logs: Any, job_name: str) -> dict[str, int]:
    """Answered requests per instance of one transform job."""
    return invocations_per_instance(logs, TRANSFORM_GROUP, f"{job_name}/")


def transform_instance_invocations(logs: Any, job_name: str) -> dict[str, int]:
    """Answered requests per instance id of one transform job (its streams: ``<job>/<instance-id>-<epoch>``)."""
    per_instance: dict[str, int] = {}
    for stream, count in transform_invocations(logs, job_name).items():
        instance = stream.split("/", 1)[-1].rsplit("-", 1)[0]
        per_instance[instance] = per_instance.get(instance, 0) + count
    return per_instance


def endpoint_log_group(endpoint: str) -> str:
    """Where SageMaker sends an endpoint's container output; it outlives the deleted endpoint."""
    return f"{ENDPOINT_GROUP}/{endpoint}"


def endpoint_invocations(logs: Any, endpoint: str) -> int:
    """Requests an endpoint answered, over all its instances and their lifetimes."""
    return sum(invocations_per_instance(logs, endpoint_log_group(endpoint)).values())


def first_event_time(logs: Any, group: str) -> datetime | None:
    """When the first line reached ``group`` (an endpoint's first instance came up); None if nothing did."""
    try:
        pages = logs.get_paginator("describe_log_streams").paginate(logGroupName=group)
        stamps = [s["firstEventTimestamp"] for page in pages for s in page["logStreams"] if "firstEventTimestamp" in s]
    except logs.exceptions.ResourceNotFoundException:
        return None
    return datetime.fromtimestamp(min(stamps) / 1000, UTC) if stamps else None
