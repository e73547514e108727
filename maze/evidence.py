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
HEALTHY_PING = re.compile(r'"GET /ping HTTP/1\.[01]" 2\d\d ')
TRANSFORM_GROUP = "/aws/sagemaker/TransformJobs"
ENDPOINT_GROUP = "/aws/sagemaker/Endpoints"
DATA_LOG = "/data-log"


def stream_events(logs: Any, group: str, stream: str) -> list[dict[str, Any]]:
    """Every event of one stream, first to last, across GetLogEvents pages."""
    events: list[dict[str, Any]] = []
    token = None
    while True:
        kwargs = {"nextToken": token} if token else {}
        page = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True, **kwargs)
        events += page["events"]
        if not page["events"] or page.get("nextForwardToken") == token:
            return events
        token = page["nextForwardToken"]


def stream_messages(logs: Any, group: str, stream: str) -> list[str]:
    """Every message of one stream, first to last."""
    return [event["message"] for event in stream_events(logs, group, stream)]


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


def healthy_time(logs: Any, group: str) -> datetime | None:
    """When an endpoint first passed its health check: its first ``GET /ping`` answered 2xx.

    SageMaker marks an endpoint InService once the container answers /ping, and the container's
    access line for that ping is in the log group, which outlives the deleted endpoint. Without
    such a line (a container that logs no access lines), the group's first event stands in; None
    when nothing reached the group.
    """
    first: int | None = None
    for stream in container_streams(logs, group):
        for event in stream_events(logs, group, stream):
            first = event["timestamp"] if first is None else min(first, event["timestamp"])
            if HEALTHY_PING.search(event["message"]):
                return datetime.fromtimestamp(event["timestamp"] / 1000, UTC)
    return datetime.fromtimestamp(first / 1000, UTC) if first is not None else None
