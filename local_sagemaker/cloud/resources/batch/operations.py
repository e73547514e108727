"""CreateTransformJob, DescribeTransformJob, ListTransformJobs and StopTransformJob."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import partial
from typing import Any

from local_sagemaker.cloud.platform.clock import now
from local_sagemaker.cloud.platform.errors import ResourceInUse, ValidationError
from local_sagemaker.cloud.platform.listing import matches
from local_sagemaker.cloud.platform.names import arn, check_name
from local_sagemaker.cloud.platform.records import RecordStore, interrupted
from local_sagemaker.cloud.platform.tags import TagStore

TERMINAL = ("Completed", "Failed", "Stopped")
ECHOED = ("ModelName", "TransformInput", "TransformOutput", "TransformResources", "DataProcessing", "Environment")
KIND = "TransformJob"
# What lives as long as the process only; the rest is the record the store keeps (``state()``).
TRANSIENT = ("lock", "stop_requested", "on_change")


@dataclass
class TransformJobRecord:
    """One transform job; each change calls ``on_change(state())`` under the lock, in the order they happen."""

    request: dict[str, Any]
    arn: str
    status: str = "InProgress"
    failure_reason: str | None = None
    creation_time: datetime = field(default_factory=now)
    last_modified_time: datetime = field(default_factory=now)
    start_time: datetime | None = None
    end_time: datetime | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    stop_requested: threading.Event = field(default_factory=threading.Event, repr=False)
    on_change: Callable[[dict[str, Any]], None] | None = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.request["TransformJobName"]

    def finish(self, status: str, failure_reason: str | None = None) -> None:
        """End the job (Completed, Failed or Stopped), once."""
        with self.lock:
            if self.status in TERMINAL:
                return
            self.status, self.last_modified_time = status, now()
            self.failure_reason = failure_reason
            self.start_time = self.start_time or self.last_modified_time
            self.end_time = self.last_modified_time
            self._changed()

    def mark_started(self) -> None:
        """TransformStartTime: the runner took the job (its status is InProgress, or Stopping already)."""
        with self.lock:
            self.start_time = self.start_time or now()
            self._changed()

    def request_stop(self) -> None:
        """StopTransformJob: InProgress becomes Stopping in one step under the lock; an ended job stays ended."""
        with self.lock:
            if self.status != "InProgress":
                return
            self.status, self.last_modified_time = "Stopping", now()
            self._changed()
        self.stop_requested.set()

    def state(self) -> dict[str, Any]:
        """What the store keeps of the job (the caller holds ``lock``, or the record is not shared yet)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in TRANSIENT}

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self.state())

    def describe(self) -> dict[str, Any]:
        with self.lock:
            out: dict[str, Any] = {
                "TransformJobName": self.name,
                "TransformJobArn": self.arn,
                "TransformJobStatus": self.status,
                "CreationTime": self.creation_time,
                "LastModifiedTime": self.last_modified_time,
                **{key: self.request[key] for key in ECHOED if key in self.request},
            }
            for key in ("MaxConcurrentTransforms", "MaxPayloadInMB", "BatchStrategy"):
                if key in self.request:
                    out[key] = self.request[key]
            for key, value in (("TransformStartTime", self.start_time), ("TransformEndTime", self.end_time)):
                if value:
                    out[key] = value
            if self.failure_reason:
                out["FailureReason"] = self.failure_reason
            return out


def _validate(request: dict[str, Any], models: dict[str, Any], region: str) -> None:
    check_name(request.get("TransformJobName", ""), "transformJobName")
    if request.get("ModelName") not in models:
        raise ValidationError(f'Could not find model "{arn(region, "model", request.get("ModelName", ""))}".')
    transform_input = request.get("TransformInput", {})
    source = transform_input.get("DataSource", {}).get("S3DataSource", {})
    if source.get("S3DataType", "S3Prefix") != "S3Prefix":
        raise ValidationError("The local cloud reads S3Prefix data sources only (not manifest files).")
    if transform_input.get("SplitType", "None") not in ("None", "Line"):
        raise ValidationError(f"SplitType {transform_input['SplitType']}: the local cloud splits by Line or None only.")
    if transform_input.get("CompressionType", "None") != "None":
        raise ValidationError("The local cloud reads uncompressed input only (CompressionType None).")
    payload = request.get("MaxPayloadInMB", 6)
    if not 0 <= payload <= 100:
        raise ValidationError(f"MaxPayloadInMB {payload} must be between 0 and 100.")
    if request.get("BatchStrategy") == "MultiRecord" and transform_input.get("SplitType", "None") == "None":
        raise ValidationError("BatchStrategy MultiRecord needs a SplitType (Line) to cut the input into records.")
    concurrent = request.get("MaxConcurrentTransforms")
    if concurrent and payload and concurrent * payload > 100:
        raise ValidationError(
            f"MaxConcurrentTransforms ({concurrent}) x MaxPayloadInMB ({payload}) must not exceed 100 MB."
        )


class TransformService:
    """The transform jobs, kept in ``store``: read back at start, each change written before it is answered."""

    def __init__(
        self,
        models: dict[str, Any],
        start_job: Callable[[TransformJobRecord], None],
        tags: TagStore,
        store: RecordStore,
    ) -> None:
        self.models, self._start_job, self._tags, self._store = models, start_job, tags, store
        self._jobs: dict[str, TransformJobRecord] = {}
        self._lock = threading.Lock()
        self._restore()

    def _restore(self) -> None:
        """The jobs of earlier runs; one still running then lost its instances with the cloud: it ends Failed."""
        for state in self._store.load(KIND):
            name = state["request"]["TransformJobName"]
            record = self._jobs[name] = TransformJobRecord(**state, on_change=partial(self._store.put, KIND, name))
            if record.status in ("InProgress", "Stopping"):
                record.finish("Failed", interrupted("the job ran"))

    def actions(self) -> dict[str, Callable[[dict[str, Any], str], dict[str, Any]]]:
        return {
            "CreateTransformJob": self.create,
            "DescribeTransformJob": self.describe,
            "ListTransformJobs": self.list,
            "StopTransformJob": self.stop,
        }

    def create(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        _validate(request, self.models, region)
        name = request["TransformJobName"]
        with self._lock:
            if name in self._jobs:
                raise ResourceInUse(f"Job name must be unique within an AWS account and region, and {name} exists.")
            on_change = partial(self._store.put, KIND, name)
            record = TransformJobRecord(request, arn(region, "transform-job", name), on_change=on_change)
            self._jobs[name] = record
            self._store.put(KIND, name, record.state())  # before the job starts and the call answers
        self._tags.register(record.arn, request.get("Tags"))
        self._start_job(record)
        return {"TransformJobArn": record.arn}

    def get(self, name: str) -> TransformJobRecord:
        with self._lock:
            record = self._jobs.get(name)
        if record is None:
            raise ValidationError(f"Could not find requested job with name {name}")
        return record

    def describe(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        return self.get(request.get("TransformJobName", "")).describe()

    def stop(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        self.get(request.get("TransformJobName", "")).request_stop()
        return {}

    def list(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        with self._lock:
            jobs = sorted(self._jobs.values(), key=lambda r: r.creation_time, reverse=True)
        jobs = [job for job in jobs if matches(job, request)]
        summaries = [
            {k: v for k, v in j.describe().items() if k in SUMMARY} for j in jobs[: int(request.get("MaxResults", 10))]
        ]
        return {"TransformJobSummaries": summaries}

    def running(self) -> list[TransformJobRecord]:
        with self._lock:
            return [job for job in self._jobs.values() if job.status in ("InProgress", "Stopping")]


SUMMARY = (
    "TransformJobName",
    "TransformJobArn",
    "CreationTime",
    "TransformEndTime",
    "LastModifiedTime",
    "TransformJobStatus",
    "FailureReason",
)
