"""A team's records in SageMaker (training jobs, transform jobs, endpoints and their configs), the teams
that have any, and the run summary's job lines.

Every resource a team creates is named ``maze-<team>-...`` (the SDK appends a timestamp), so a
team's records are the ones whose name starts with that prefix: ``NameContains`` narrows the listing
on the service, ``startswith`` makes it exact (``maze-red-`` is contained in ``maze-dark-red-``...).
What follows the prefix is the team's choice (the handout suggests names, it cannot enforce them),
so by default (``what=""``) these functions return every record of the team: the board tells them apart by
what they are, not by their names.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from maze.evidence import transform_instance_invocations

# The kinds of record whose names say which teams worked: (List operation, result key, name key).
LISTINGS = (
    ("list_training_jobs", "TrainingJobSummaries", "TrainingJobName"),
    ("list_transform_jobs", "TransformJobSummaries", "TransformJobName"),
    ("list_endpoint_configs", "EndpointConfigs", "EndpointConfigName"),
    ("list_endpoints", "Endpoints", "EndpointName"),
)
# A team name holds no hyphen (local_sagemaker.kernel.team), so the first part after "maze-" is the whole team.
TEAM_IN_NAME = re.compile(r"^maze-([a-z0-9]+)-")


def team_prefix(team: str, what: str = "") -> str:
    """The name prefix of a team's resources (of one kind with ``what``, e.g. ``maze-red-train``)."""
    return f"maze-{team}-{what}"


def _listed(sagemaker: Any, operation: str, key: str, name_key: str, prefix: str, **filters: Any) -> list[str]:
    """Names a List* call returns that start with ``prefix``, newest first (the service sorts), across pages."""
    pages = sagemaker.get_paginator(operation).paginate(
        NameContains=prefix, SortBy="CreationTime", SortOrder="Descending", **filters
    )
    return [s[name_key] for page in pages for s in page[key] if s[name_key].startswith(prefix)]


def _since(since: datetime | None) -> dict[str, Any]:
    return {"CreationTimeAfter": since} if since else {}


def team_training_jobs(
    sagemaker: Any, team: str, what: str = "", since: datetime | None = None, status: str | None = None
) -> list[dict[str, Any]]:
    """DescribeTrainingJob of each of the team's training jobs (``maze-<team>-<what>``), newest first."""
    filters = {**_since(since), **({"StatusEquals": status} if status else {})}
    names = _listed(
        sagemaker, "list_training_jobs", "TrainingJobSummaries", "TrainingJobName", team_prefix(team, what), **filters
    )
    return [sagemaker.describe_training_job(TrainingJobName=name) for name in names]


def team_transform_jobs(
    sagemaker: Any, team: str, what: str = "", since: datetime | None = None
) -> list[dict[str, Any]]:
    """DescribeTransformJob of each of the team's transform jobs (``maze-<team>-<what>``), newest first."""
    names = _listed(
        sagemaker,
        "list_transform_jobs",
        "TransformJobSummaries",
        "TransformJobName",
        team_prefix(team, what),
        **_since(since),
    )
    return [sagemaker.describe_transform_job(TransformJobName=name) for name in names]


def team_endpoint_configs(
    sagemaker: Any, team: str, what: str = "", since: datetime | None = None
) -> list[dict[str, Any]]:
    """DescribeEndpointConfig of each of the team's endpoint configs (``maze-<team>-<what>``), newest first.

    The notebooks delete endpoints but keep their configs: a config is the lasting record that an
    endpoint was deployed, and the SDK gives the endpoint the config's name.
    """
    names = _listed(
        sagemaker,
        "list_endpoint_configs",
        "EndpointConfigs",
        "EndpointConfigName",
        team_prefix(team, what),
        **_since(since),
    )
    return [sagemaker.describe_endpoint_config(EndpointConfigName=name) for name in names]


def team_endpoints(sagemaker: Any, team: str) -> list[tuple[str, dict[str, Any]]]:
    """(endpoint name, DescribeEndpointConfig of its config) for every endpoint the team deployed, newest first.

    A live endpoint names its config (DescribeEndpoint). A deleted one leaves its config, which the
    SDK's ``deploy`` names as the endpoint, and its log group ``/aws/sagemaker/Endpoints/<endpoint>``.
    """
    configs = {config["EndpointConfigName"]: config for config in team_endpoint_configs(sagemaker, team)}
    endpoints = {name: name for name in configs}
    for name in _listed(sagemaker, "list_endpoints", "Endpoints", "EndpointName", team_prefix(team)):
        try:
            endpoints[name] = config = sagemaker.describe_endpoint(EndpointName=name)["EndpointConfigName"]
            if config not in configs:  # a config named otherwise than the team's resources
                configs[config] = sagemaker.describe_endpoint_config(EndpointConfigName=config)
        except ClientError:  # deleted meanwhile, or its config was
            continue
    return [(endpoint, configs[config]) for endpoint, config in endpoints.items() if config in configs]


def cloud_teams(sagemaker: Any) -> set[str]:
    """The teams that have a training job, transform job, endpoint or endpoint config named ``maze-<team>-...``."""
    teams: set[str] = set()
    for operation, key, name_key in LISTINGS:
        for page in sagemaker.get_paginator(operation).paginate(NameContains="maze-"):
            teams |= {hit[1] for summary in page[key] if (hit := TEAM_IN_NAME.match(summary[name_key]))}
    return teams


def training_lines(jobs: list[dict[str, Any]]) -> list[str]:
    """One line per training job, oldest first: status and FinalMetricDataList's f1."""
    lines = []
    for job in sorted(jobs, key=lambda j: j["CreationTime"]):
        metrics = {m["MetricName"]: m["Value"] for m in job.get("FinalMetricDataList", [])}
        figure = f"f1={metrics['f1']:.4f} (FinalMetricDataList)" if "f1" in metrics else "no metrics defined"
        lines.append(f"{job['TrainingJobName']}: {job['TrainingJobStatus']}, {figure}")
    return lines


def transform_lines(logs: Any, jobs: list[dict[str, Any]]) -> list[str]:
    """One line per transform job, oldest first: status and the requests each instance answered (access lines)."""
    lines = []
    for job in sorted(jobs, key=lambda j: j["CreationTime"]):
        name = job["TransformJobName"]
        answered = transform_instance_invocations(logs, name)
        per_instance = ", ".join(f"{instance}={count}" for instance, count in sorted(answered.items()))
        lines.append(f"{name}: {job['TransformJobStatus']}, requests answered per instance: {per_instance or 'none'}")
    return lines
