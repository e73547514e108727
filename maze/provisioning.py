"""How many provisioning waits a task makes one after another, from the cloud's own records.

On AWS every training job, transform job and endpoint waits minutes for its instances, so a task's
wall time is set by how many of those waits run in sequence, not by how many there are: six
transform jobs started together cost one wait, six started one after another cost six. The
records give each wait an interval (created -> ended; for an endpoint, which the notebooks
delete, its configuration's creation -> the container's first healthy /ping access line); the
longest chain of waits that follow one another without overlapping is the largest set of
pairwise disjoint intervals, which the greedy choice by earliest end finds.

Offline, a wait lasts seconds, not minutes: two waits a cell starts together overlap only if the
calls between their starts are quicker than the first wait (the SDK's ``deploy()`` and
``transformer()`` upload the code and create a model each time), so the offline chain is an
upper bound of AWS's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from maze.evidence import endpoint_log_group, healthy_time
from maze.jobs import team_endpoint_configs, team_training_jobs, team_transform_jobs


@dataclass(frozen=True)
class Wait:
    """One provisioning wait: a job from creation to its end, or an endpoint from its config to its health check."""

    name: str
    start: datetime
    end: datetime


def longest_chain(waits: list[Wait]) -> list[Wait]:
    """The most waits that follow one another (each starts when or after the previous ended), in time order."""
    chain: list[Wait] = []
    for wait in sorted(waits, key=lambda w: (w.end, w.start)):
        if not chain or wait.start >= chain[-1].end:
            chain.append(wait)
    return chain


def split_at(waits: list[Wait], optional_since: datetime | None) -> tuple[list[Wait], list[Wait]]:
    """The waits of the task itself, and those of its optional parts: those that started once the first optional cell
    ran (a notebook's optional parts come last). The task's stated wall time counts the first kind only."""
    if optional_since is None:
        return waits, []
    return [w for w in waits if w.start < optional_since], [w for w in waits if w.start >= optional_since]


SDK_TIMESTAMP = re.compile(r"-\d{4}(?:-\d{2}){5}-\d{3}$")  # what sagemaker.utils.name_from_base appends


def chain_line(chain: list[Wait], team: str) -> str:
    """``batch-1file 6s -> batch-sweep0 8s``: the chain's waits, named without team and timestamp."""
    return " -> ".join(
        f"{SDK_TIMESTAMP.sub('', w.name).removeprefix(f'maze-{team}-')} {(w.end - w.start).total_seconds():.0f}s"
        for w in chain
    )


def team_waits(sagemaker: Any, logs: Any, team: str, since: datetime, until: datetime) -> list[Wait]:
    """The team's training jobs, transform jobs and endpoints created in [since, until], as waits.

    Every endpoint config named ``maze-<team>-`` counts (real-time, serverless, the max-concurrency
    comparison). A job still running, or an endpoint that never logged, has no end yet and is left out.
    """
    waits = [
        Wait(job["TrainingJobName"], job["CreationTime"], job["TrainingEndTime"])
        for job in team_training_jobs(sagemaker, team, "train", since=since)
        if job["CreationTime"] <= until and "TrainingEndTime" in job
    ]
    waits += [
        Wait(job["TransformJobName"], job["CreationTime"], job["TransformEndTime"])
        for job in team_transform_jobs(sagemaker, team, "batch", since=since)
        if job["CreationTime"] <= until and "TransformEndTime" in job
    ]
    for config in team_endpoint_configs(sagemaker, team, "", since=since):
        healthy = healthy_time(logs, endpoint_log_group(config["EndpointConfigName"]))
        if config["CreationTime"] <= until and healthy is not None:
            waits.append(Wait(config["EndpointConfigName"], config["CreationTime"], healthy))
    return waits
