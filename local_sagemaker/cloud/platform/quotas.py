"""Account-level instance quotas, as SageMaker's Service Quotas have them: per instance type and per usage.

On AWS, ``CreateTrainingJob``, ``CreateEndpoint``, ``UpdateEndpoint``, ``CreateTransformJob`` and
``CreateProcessingJob`` are refused with ``ResourceLimitExceeded`` when the instances they ask for, added to
those of the same type already running for the same usage, pass the account's quota (``ml.m5.large for endpoint
usage``). Every instance here is a real process tree on the user's machine (an endpoint instance is about
180 MB), so the local cloud keeps the same rule: fifty endpoints on a 2-core laptop would take it down.

AWS's defaults differ per account, instance type and region (new accounts often start at 0 to 4 for the larger
types); the local cloud's default is :data:`DEFAULT_INSTANCES` for every type, what a laptop bears. A facilitator
raises one usage's quota with its setting, ``MAZE_<USAGE>_INSTANCE_QUOTA`` (for example
``MAZE_ENDPOINT_INSTANCE_QUOTA=8``), read when the cloud starts, as an account's quota is raised in Service Quotas.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from local_sagemaker.cloud.platform.errors import AwsError, ValidationError

DEFAULT_INSTANCES = 4
# The usages, as the quotas' names spell them ("ml.m5.large for training job usage").
USAGES = {
    "training": "training job usage",
    "endpoint": "endpoint usage",
    "transform": "transform job usage",
    "processing": "processing job usage",
}


class ResourceLimitExceeded(AwsError):
    def __init__(self, message: str) -> None:
        super().__init__("ResourceLimitExceeded", message)


def setting(usage: str) -> str:
    """The environment variable that raises (or lowers) ``usage``'s quota."""
    return f"MAZE_{usage.upper()}_INSTANCE_QUOTA"


def configured(environment: Mapping[str, str] = os.environ) -> dict[str, int]:
    """Each usage's quota per instance type: its setting if given, else the default."""
    quotas = {}
    for usage in USAGES:
        value = environment.get(setting(usage), str(DEFAULT_INSTANCES))
        try:
            quotas[usage] = int(value)
        except ValueError:
            raise ValueError(
                f"{setting(usage)}={value!r} is not a whole number of instances: unset it or give one"
            ) from None
        if quotas[usage] < 0:
            raise ValueError(f"{setting(usage)}={value} is negative; give 0 or more instances")
    return quotas


class Quotas:
    """The account's instance quotas; each service asks before it starts instances.

    ``in_use`` gives, for a usage, the (instance type, instance count) of what runs or is starting now: each
    service counts its own resources, so this module needs none of them.
    """

    def __init__(self, limits: dict[str, int] | None = None) -> None:
        self.limits = configured() if limits is None else limits
        self._counters: dict[str, Callable[[], Iterable[tuple[str, int]]]] = {}
        self._admitting = threading.RLock()

    def count_with(self, usage: str, in_use: Callable[[], Iterable[tuple[str, int]]]) -> None:
        """Register how ``usage``'s running instances are counted (a service does it when it starts)."""
        if usage not in USAGES:
            raise ValueError(f"unknown usage {usage!r}: one of {', '.join(USAGES)}")
        self._counters[usage] = in_use

    @contextmanager
    def admitting(self, usage: str, requested: Iterable[tuple[str, int]]) -> Iterator[None]:
        """Check ``requested`` (instance type, count) pairs, then hold every other admission until the block,
        which creates the resource that counts them, ends: two requests at once cannot both take the last room."""
        with self._admitting:
            totals: Counter[str] = Counter()
            for instance_type, count in requested:
                totals[instance_type] += count
            for instance_type, count in totals.items():
                self.check(usage, instance_type, count)
            yield

    def check(self, usage: str, instance_type: str, requested: int) -> None:
        """Raise AWS's ``ResourceLimitExceeded`` if ``requested`` more instances pass the quota; else return."""
        if requested < 0:
            raise ValidationError(f"The instance count {requested} is negative.")
        limit = self.limits[usage]
        counter = self._counters.get(usage)
        current = sum(count for kind, count in (counter() if counter else ()) if kind == instance_type)
        if current + requested > limit:
            raise ResourceLimitExceeded(
                f"The account-level service limit '{instance_type} for {USAGES[usage]}' is {limit} Instances, with "
                f"current utilization of {current} Instances and a request delta of {requested} Instances. Please use "
                f"AWS Service Quotas to request an increase for this quota. (local cloud: raise it with "
                f"{setting(usage)}=<instances> before `python -m local_sagemaker up`.)"
            )


def job_instances(resources: Mapping[str, Any]) -> list[tuple[str, int]]:
    """The (instance type, count) a job asks for, from its ResourceConfig, TransformResources or ClusterConfig
    (all three name ``InstanceType`` and ``InstanceCount``); none without an instance type (instance groups)."""
    instance_type = resources.get("InstanceType")
    return [(instance_type, int(resources.get("InstanceCount", 1)))] if instance_type else []
