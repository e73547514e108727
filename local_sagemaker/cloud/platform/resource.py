"""What every SageMaker resource of the control plane shares: a typed record and the registry that keeps it.

A record (training job, model, endpoint config, endpoint, transform job...) is a dataclass over ``Resource``:
its fields are what the store keeps, except those declared ``transient()`` (locks, events, live processes).
Every change is made under ``lock`` and ends with ``changed()``, which hands the record's ``state()`` to the
registry's hook, so the store holds each transition before the call that made it returns, in order.

The registry is the one place a resource comes into being or goes: ``add`` writes the record (and its tags,
in the same transaction) before anyone can see it, ``remove`` deletes it from disk before it is forgotten.
A write that fails (a full disk) raises to the caller and leaves nothing behind: no phantom that Describe
finds while a retry of Create hears it already exists.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from local_sagemaker.cloud.platform.clock import now
from local_sagemaker.cloud.platform.errors import AwsError
from local_sagemaker.cloud.platform.records import RecordStore
from local_sagemaker.cloud.platform.tags import TagStore

Action = Callable[[dict[str, Any], str], dict[str, Any]]


def transient(**options: Any) -> Any:
    """A field that lives as long as the process and is never written to the store."""
    return field(repr=False, compare=False, metadata={"transient": True}, **options)


@dataclass(kw_only=True)
class Resource:
    """The fields and change hook every record has; subclasses add theirs and define ``KIND`` and ``name``."""

    KIND: ClassVar[str]  # the record's kind in the store, e.g. "TrainingJob"

    arn: str
    creation_time: datetime = field(default_factory=now)
    lock: threading.Lock = transient(default_factory=threading.Lock)
    on_change: Callable[[dict[str, Any]], None] | None = transient(default=None)

    @property
    def name(self) -> str:
        raise NotImplementedError

    @property
    def listed_name(self) -> str:
        """The name a List* operation filters (NameContains) and sorts (SortBy=Name) on: ``name``, unless the kind
        is listed under another (a versioned model package under its group's name, while it is kept as
        ``<group>/<version>``)."""
        return self.name

    @property
    def region(self) -> str:
        return self.arn.split(":")[3]

    def state(self) -> dict[str, Any]:
        """What the store keeps (the caller holds ``lock``, or the record is not shared yet)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.metadata.get("transient")}

    def changed(self) -> None:
        """Hand the new state to the store (under ``lock``, right after the change)."""
        if self.on_change is not None:
            self.on_change(self.state())


R = TypeVar("R", bound=Resource)


class Registry(Generic[R]):
    """The records of one kind: read back from the store at start, each added or removed there first."""

    def __init__(
        self,
        store: RecordStore,
        tags: TagStore,
        record_type: type[R],
        not_found: Callable[[str, str], AwsError],
    ) -> None:
        """``not_found(name, region)``: the error SageMaker answers for a name it does not know."""
        self._store, self._tags, self._type, self._not_found = store, tags, record_type, not_found
        self._records: dict[str, R] = {}
        self._lock = threading.Lock()
        for state in store.load(record_type.KIND):
            record = record_type(**state)
            self._records[record.name] = self._attached(record)

    def _attached(self, record: R) -> R:
        kind, name = self._type.KIND, record.name
        record.on_change = lambda state: self._store.put(kind, name, state)
        return record

    def add(self, record: R, tags: list[dict[str, str]] | None, exists: Callable[[], AwsError]) -> R:
        """Create: the record and its tags on disk in one transaction, then visible; ``exists()`` if taken."""
        with self._lock:
            if record.name in self._records:
                raise exists()
            tag_entry = self._tags.entry(record.arn, tags)
            self._store.put_all([(self._type.KIND, record.name, record.state()), tag_entry])
            self._tags.adopt(tag_entry)
            self._records[record.name] = self._attached(record)
        return record

    def get(self, name: str, region: str) -> R:
        with self._lock:
            record = self._records.get(name)
        if record is None:
            raise self._not_found(name, region)
        return record

    def find(self, name: str) -> R | None:
        with self._lock:
            return self._records.get(name)

    def remove(self, record: R) -> None:
        """Delete: gone from disk first; from then on no change of the record is written."""
        with self._lock, record.lock:
            self._store.delete(self._type.KIND, record.name)
            record.on_change = None
            if self._records.get(record.name) is record:
                del self._records[record.name]

    def all(self) -> list[R]:
        with self._lock:
            return list(self._records.values())


class Service(Protocol):
    """What the cloud's server asks of a resource's service (its operations module's class)."""

    def actions(self) -> dict[str, Action]:
        """The SageMaker actions it answers, by name."""
        ...

    def busy(self) -> bool:
        """Whether something of it runs (a job), which keeps an idle cloud up."""
        ...

    def shutdown(self) -> None:
        """Stop what runs (the cloud is going down) and settle its records."""
        ...


# How one service reads a model of another (batch, hosting's): DescribeModel's answer for (name, region), with
# the container the model's instances run as its PrimaryContainer (a model package's, for a model created from
# one), or the ValidationException SageMaker gives for a model it does not know. Never a service's own dict.
ModelLookup = Callable[[str, str], dict[str, Any]]

# How hosting reads a model package of the registry: (ModelPackageName as CreateModel's container names it, its
# InferenceSpecificationName or None, region) -> the one container definition a model of it runs (Image,
# ModelDataUrl, Environment...), or the ValidationException SageMaker answers (unknown, not Approved...).
PackageLookup = Callable[[str, str | None, str], dict[str, Any]]


@dataclass(frozen=True)
class TrainingJobs:
    """How the tuning service drives training jobs: the training service's public operations, wired in the
    server (services never import each other). Each answers as the SageMaker action of its name would."""

    # CreateTrainingJob for (request, region, the ARN of the tuning job that launches it: DescribeTrainingJob's
    # TuningJobArn); raises the AwsError the action would (ResourceLimitExceeded, ValidationException...).
    create: Callable[[dict[str, Any], str, str], dict[str, Any]]
    describe: Action  # DescribeTrainingJob
    stop: Action  # StopTrainingJob
