"""A processing job as DescribeProcessingJob shows it: InProgress, then Completed, Failed or Stopped."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from local_sagemaker.cloud.platform.clock import now
from local_sagemaker.cloud.platform.resource import Resource, transient

RUNNING = ("InProgress", "Stopping")
# Request fields DescribeProcessingJob echoes back as they were sent (with AWS's defaults filled in).
ECHOED = (
    "ProcessingInputs",
    "ProcessingOutputConfig",
    "ProcessingResources",
    "StoppingCondition",
    "AppSpecification",
    "Environment",
    "NetworkConfig",
    "RoleArn",
    "ExperimentConfig",
)


@dataclass(kw_only=True)
class ProcessingJobRecord(Resource):
    """One job's state; the runner thread writes it, API calls read it, both under ``lock``."""

    KIND: ClassVar[str] = "ProcessingJob"

    request: dict[str, Any]
    status: str = "InProgress"
    last_modified_time: datetime = field(default_factory=now)
    start_time: datetime | None = None
    end_time: datetime | None = None
    failure_reason: str | None = None
    exit_message: str | None = None
    stop_requested: threading.Event = transient(default_factory=threading.Event)

    def __post_init__(self) -> None:
        """The defaults SageMaker fills in and DescribeProcessingJob shows (the SDK reads some back)."""
        for source in self.request.get("ProcessingInputs", []):
            source.setdefault("AppManaged", False)
            if "S3Input" in source:
                source["S3Input"].setdefault("S3InputMode", "File")
                source["S3Input"].setdefault("S3DataDistributionType", "FullyReplicated")
                source["S3Input"].setdefault("S3CompressionType", "None")
        for output in self.request.get("ProcessingOutputConfig", {}).get("Outputs", []):
            output.setdefault("AppManaged", False)
            if "S3Output" in output:
                output["S3Output"].setdefault("S3UploadMode", "EndOfJob")
        self.request.setdefault("StoppingCondition", {}).setdefault("MaxRuntimeInSeconds", 86400)

    @property
    def name(self) -> str:
        return self.request["ProcessingJobName"]

    def started(self) -> None:
        """The instances are up and the container runs: ProcessingStartTime."""
        with self.lock:
            self.start_time = self.last_modified_time = now()
            self.changed()

    def request_stop(self) -> str | None:
        """StopProcessingJob: InProgress becomes Stopping in one step under the lock. Returns the status that
        refused the stop, or None."""
        with self.lock:
            if self.status != "InProgress":
                return self.status
            self.status = "Stopping"
            self.last_modified_time = now()
            self.changed()
        self.stop_requested.set()
        return None

    def finish(self, status: str, failure_reason: str | None = None, exit_message: str | None = None) -> None:
        with self.lock:
            self.status = status
            self.failure_reason = failure_reason
            self.exit_message = exit_message
            self.end_time = self.last_modified_time = now()
            self.changed()

    def _outcome(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ProcessingJobStatus": self.status}
        if self.failure_reason:
            out["FailureReason"] = self.failure_reason
        if self.exit_message:
            out["ExitMessage"] = self.exit_message
        if self.end_time:
            out["ProcessingEndTime"] = self.end_time
        return out

    def describe(self) -> dict[str, Any]:
        with self.lock:
            out: dict[str, Any] = {
                "ProcessingJobName": self.name,
                "ProcessingJobArn": self.arn,
                "CreationTime": self.creation_time,
                "LastModifiedTime": self.last_modified_time,
                **self._outcome(),
            }
            out.update({key: self.request[key] for key in ECHOED if key in self.request})
            if self.start_time:
                out["ProcessingStartTime"] = self.start_time
            return out

    def summary(self) -> dict[str, Any]:
        with self.lock:
            return {
                "ProcessingJobName": self.name,
                "ProcessingJobArn": self.arn,
                "CreationTime": self.creation_time,
                "LastModifiedTime": self.last_modified_time,
                **self._outcome(),
            }
