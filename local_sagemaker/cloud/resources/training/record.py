"""A training job as DescribeTrainingJob shows it, with the status machine SageMaker drives it through."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from local_sagemaker.cloud.platform.clock import now
from local_sagemaker.cloud.platform.resource import Resource, transient

# Request fields DescribeTrainingJob echoes back as they were sent.
ECHOED = (
    "HyperParameters",
    "AlgorithmSpecification",
    "RoleArn",
    "InputDataConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "StoppingCondition",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "DebugHookConfig",
    "ProfilerConfig",
    "Environment",
    "RetryStrategy",
    "CheckpointConfig",
    "ExperimentConfig",
)


@dataclass(kw_only=True)
class TrainingJobRecord(Resource):
    """One job's state; the runner thread writes it, API calls read it, both under ``lock``."""

    KIND: ClassVar[str] = "TrainingJob"

    request: dict[str, Any]
    status: str = "InProgress"
    secondary_status: str = "Starting"
    last_modified_time: datetime = field(default_factory=now)
    training_start_time: datetime | None = None
    training_end_time: datetime | None = None
    failure_reason: str | None = None
    model_artifacts: str | None = None
    transitions: list[dict[str, Any]] = field(default_factory=list)
    final_metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    tuning_job_arn: str | None = None  # DescribeTrainingJob's TuningJobArn, for a job a tuning job launched
    stop_requested: threading.Event = transient(default_factory=threading.Event)

    def __post_init__(self) -> None:
        # The defaults AWS fills in and DescribeTrainingJob shows (the SDK's attach() relies on some).
        request = self.request
        request.setdefault("AlgorithmSpecification", {}).setdefault("MetricDefinitions", [])
        request["AlgorithmSpecification"].setdefault("EnableSageMakerMetricsTimeSeries", False)
        request.setdefault("OutputDataConfig", {}).setdefault("KmsKeyId", "")
        request.setdefault("StoppingCondition", {}).setdefault("MaxRuntimeInSeconds", 86400)
        for flag in (
            "EnableNetworkIsolation",
            "EnableInterContainerTrafficEncryption",
            "EnableManagedSpotTraining",
        ):
            request.setdefault(flag, False)
        if not self.transitions:  # a new job; a record read back from the store has its history
            self.transition("Starting", "Launching requested ML instances")

    @property
    def name(self) -> str:
        return self.request["TrainingJobName"]

    def transition(self, secondary_status: str, message: str) -> None:
        """Close the current secondary status and open the next, as SecondaryStatusTransitions records them."""
        with self.lock:
            self._transition(secondary_status, message)
            self.changed()

    def request_stop(self) -> str | None:
        """StopTrainingJob: InProgress becomes Stopping in one step under the lock, so a job that ends meanwhile
        is not left Stopping forever. Returns the status that refused the stop, or None."""
        with self.lock:
            if self.status != "InProgress":
                return self.status
            self.status = "Stopping"
            self._transition("Stopping", "Stopping the training job")
            self.changed()
        self.stop_requested.set()
        return None

    def _transition(self, secondary_status: str, message: str) -> None:
        stamp = now()
        if self.transitions and self.transitions[-1]["Status"] == secondary_status:
            self.transitions[-1]["StatusMessage"] = message
        else:
            if self.transitions:
                self.transitions[-1]["EndTime"] = stamp
            self.transitions.append({"Status": secondary_status, "StartTime": stamp, "StatusMessage": message})
        self.secondary_status = secondary_status
        self.last_modified_time = stamp
        if secondary_status == "Downloading" and self.training_start_time is None:
            self.training_start_time = stamp

    def finish(self, status: str, secondary_status: str, message: str, failure_reason: str | None = None) -> None:
        with self.lock:
            self._transition(secondary_status, message)
            self.transitions[-1]["EndTime"] = self.last_modified_time
            self.status = status
            self.failure_reason = failure_reason
            self.training_start_time = self.training_start_time or self.last_modified_time
            self.training_end_time = self.last_modified_time
            self.changed()

    def record_metric(self, name: str, value: float) -> None:
        """FinalMetricDataList keeps the last value each metric reported."""
        with self.lock:
            self.final_metrics[name] = {"MetricName": name, "Value": value, "Timestamp": now()}
            self.changed()

    def artifact_uri(self) -> str:
        """Where SageMaker puts the job's model.tar.gz: ``<S3OutputPath>/<job>/output/model.tar.gz``."""
        return f"{self.request['OutputDataConfig']['S3OutputPath'].rstrip('/')}/{self.name}/output/model.tar.gz"

    def describe(self) -> dict[str, Any]:
        with self.lock:
            out: dict[str, Any] = {
                "TrainingJobName": self.name,
                "TrainingJobArn": self.arn,
                "TrainingJobStatus": self.status,
                "SecondaryStatus": self.secondary_status,
                "CreationTime": self.creation_time,
                "LastModifiedTime": self.last_modified_time,
                "SecondaryStatusTransitions": [dict(t) for t in self.transitions],
                "FinalMetricDataList": list(self.final_metrics.values()),
            }
            out.update({key: self.request[key] for key in ECHOED if key in self.request})
            # Required in DescribeTrainingJob's output shape: before the upload it names where the model will be.
            out["ModelArtifacts"] = {"S3ModelArtifacts": self.model_artifacts or self.artifact_uri()}
            if self.failure_reason:
                out["FailureReason"] = self.failure_reason
            if self.tuning_job_arn:
                out["TuningJobArn"] = self.tuning_job_arn
            if self.training_start_time:
                out["TrainingStartTime"] = self.training_start_time
            if self.training_end_time:
                out["TrainingEndTime"] = self.training_end_time
                seconds = int((self.training_end_time - self.training_start_time).total_seconds()) or 1
                out["TrainingTimeInSeconds"] = out["BillableTimeInSeconds"] = seconds
            return out

    def summary(self) -> dict[str, Any]:
        with self.lock:
            out = {
                "TrainingJobName": self.name,
                "TrainingJobArn": self.arn,
                "CreationTime": self.creation_time,
                "LastModifiedTime": self.last_modified_time,
                "TrainingJobStatus": self.status,
                "SecondaryStatus": self.secondary_status,
            }
            if self.training_end_time:
                out["TrainingEndTime"] = self.training_end_time
            return out
