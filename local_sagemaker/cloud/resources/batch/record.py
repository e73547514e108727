"""A transform job as DescribeTransformJob shows it, with the statuses SageMaker drives it through."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from local_sagemaker.cloud.platform.clock import now
from local_sagemaker.cloud.platform.resource import Resource, transient

TERMINAL = ("Completed", "Failed", "Stopped")
RUNNING = ("InProgress", "Stopping")
ECHOED = (
    "ModelName",
    "TransformInput",
    "TransformOutput",
    "TransformResources",
    "DataProcessing",
    "Environment",
    "MaxConcurrentTransforms",
    "MaxPayloadInMB",
    "BatchStrategy",
)


@dataclass(kw_only=True)
class TransformJobRecord(Resource):
    """One transform job; the runner thread writes it, API calls read it, both under ``lock``."""

    KIND: ClassVar[str] = "TransformJob"

    request: dict[str, Any]
    status: str = "InProgress"
    failure_reason: str | None = None
    last_modified_time: datetime = field(default_factory=now)
    start_time: datetime | None = None
    end_time: datetime | None = None
    stop_requested: threading.Event = transient(default_factory=threading.Event)

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
            self.changed()

    def mark_started(self) -> None:
        """TransformStartTime: the runner took the job (its status is InProgress, or Stopping already)."""
        with self.lock:
            self.start_time = self.start_time or now()
            self.changed()

    def request_stop(self) -> None:
        """StopTransformJob: InProgress becomes Stopping in one step under the lock; an ended job stays ended."""
        with self.lock:
            if self.status != "InProgress":
                return
            self.status, self.last_modified_time = "Stopping", now()
            self.changed()
        self.stop_requested.set()

    def describe(self) -> dict[str, Any]:
        with self.lock:
            out: dict[str, Any] = {
                "TransformJobName": self.name,
                "TransformJobArn": self.arn,
                "TransformJobStatus": self.status,
                "CreationTime": self.creation_time,  # DescribeTransformJob has no LastModifiedTime; the summary has
                **{key: self.request[key] for key in ECHOED if key in self.request},
            }
            for key, value in (("TransformStartTime", self.start_time), ("TransformEndTime", self.end_time)):
                if value:
                    out[key] = value
            if self.failure_reason:
                out["FailureReason"] = self.failure_reason
            return out

    def summary(self) -> dict[str, Any]:
        with self.lock:
            out: dict[str, Any] = {
                "TransformJobName": self.name,
                "TransformJobArn": self.arn,
                "CreationTime": self.creation_time,
                "LastModifiedTime": self.last_modified_time,
                "TransformJobStatus": self.status,
            }
            if self.end_time:
                out["TransformEndTime"] = self.end_time
            if self.failure_reason:
                out["FailureReason"] = self.failure_reason
            return out
