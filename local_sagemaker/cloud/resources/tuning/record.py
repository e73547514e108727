"""A hyperparameter tuning job as DescribeHyperParameterTuningJob shows it, with the training jobs it launched.

Each training job is kept as its HyperParameterTrainingJobSummary (what ListTrainingJobsForHyperParameterTuningJob
answers), refreshed by the runner from DescribeTrainingJob while it runs: the counters and the best training job
are derived from these summaries, so a description, a listing and a restart all see one state.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from local_sagemaker.cloud.platform.clock import now
from local_sagemaker.cloud.platform.resource import Resource, transient

RUNNING = ("InProgress", "Stopping")
TRAINING_RUNNING = ("InProgress", "Stopping")
# Request members DescribeHyperParameterTuningJob echoes as they were sent (with AWS's defaults filled in).
ECHOED = ("HyperParameterTuningJobConfig", "TrainingJobDefinition")


@dataclass
class LaunchedTraining:
    """One training job of a tuning job, for the listing: sorted and filtered by these attributes."""

    summary: dict[str, Any]

    @property
    def name(self) -> str:
        return self.summary["TrainingJobName"]

    @property
    def listed_name(self) -> str:
        """What the listing filters (NameContains) and sorts (SortBy=Name) on, as for every resource."""
        return self.name

    @property
    def creation_time(self) -> datetime:
        return self.summary["CreationTime"]

    @property
    def status(self) -> str:
        return self.summary["TrainingJobStatus"]

    @property
    def objective_value(self) -> float | None:
        metric = self.summary.get("FinalHyperParameterTuningJobObjectiveMetric")
        return None if metric is None else metric["Value"]

    def answer(self) -> dict[str, Any]:
        return dict(self.summary)


@dataclass(kw_only=True)
class TuningJobRecord(Resource):
    """One tuning job's state; its runner thread writes it, API calls read it, both under ``lock``."""

    KIND: ClassVar[str] = "HyperParameterTuningJob"

    request: dict[str, Any]
    status: str = "InProgress"
    last_modified_time: datetime = field(default_factory=now)
    end_time: datetime | None = None
    failure_reason: str | None = None
    trainings: list[dict[str, Any]] = field(default_factory=list)  # HyperParameterTrainingJobSummary each
    stop_requested: threading.Event = transient(default_factory=threading.Event)

    def __post_init__(self) -> None:
        """The defaults SageMaker fills in and DescribeHyperParameterTuningJob shows."""
        self.request["HyperParameterTuningJobConfig"].setdefault("TrainingJobEarlyStoppingType", "Off")

    @property
    def name(self) -> str:
        return self.request["HyperParameterTuningJobName"]

    @property
    def objective(self) -> dict[str, str]:
        return self.request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]

    def launched(self) -> list[LaunchedTraining]:
        with self.lock:
            return [LaunchedTraining(dict(summary)) for summary in self.trainings]

    def add_training(self, summary: dict[str, Any]) -> None:
        with self.lock:
            self.trainings.append(summary)
            self.last_modified_time = now()
            self.changed()

    def update_training(self, name: str, changes: dict[str, Any]) -> None:
        """A training job's summary refreshed from its description (written only when something changed)."""
        with self.lock:
            for summary in self.trainings:
                if summary["TrainingJobName"] == name and any(summary.get(k) != v for k, v in changes.items()):
                    summary.update(changes)
                    self.last_modified_time = now()
                    self.changed()

    def request_stop(self) -> str | None:
        """StopHyperParameterTuningJob: InProgress becomes Stopping in one step under the lock. Returns the status
        that refused the stop, or None."""
        with self.lock:
            if self.status != "InProgress":
                return self.status
            self.status = "Stopping"
            self.last_modified_time = now()
            self.changed()
        self.stop_requested.set()
        return None

    def finish(self, status: str, failure_reason: str | None = None) -> None:
        with self.lock:
            self.status = status
            self.failure_reason = failure_reason
            self.end_time = self.last_modified_time = now()
            self.changed()

    def _counters(self) -> tuple[dict[str, int], dict[str, int]]:
        """TrainingJobStatusCounters and ObjectiveStatusCounters (a failed training job cannot be retried)."""
        statuses = [summary["TrainingJobStatus"] for summary in self.trainings]
        objectives = [summary["ObjectiveStatus"] for summary in self.trainings]
        trainings = {
            "Completed": statuses.count("Completed"),
            "InProgress": sum(statuses.count(status) for status in TRAINING_RUNNING),
            "RetryableError": 0,
            "NonRetryableError": statuses.count("Failed"),
            "Stopped": statuses.count("Stopped"),
        }
        return trainings, {state: objectives.count(state) for state in ("Succeeded", "Pending", "Failed")}

    def best(self) -> dict[str, Any] | None:
        """The training job with the best objective so far (the earliest of equals), or None."""
        scored = [s for s in self.trainings if s["ObjectiveStatus"] == "Succeeded"]
        if not scored:
            return None
        sign = 1 if self.objective["Type"] == "Maximize" else -1
        return max(scored, key=lambda s: sign * s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])

    def _outcome(self) -> dict[str, Any]:
        trainings, objectives = self._counters()
        out: dict[str, Any] = {
            "HyperParameterTuningJobName": self.name,
            "HyperParameterTuningJobArn": self.arn,
            "HyperParameterTuningJobStatus": self.status,
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
            "TrainingJobStatusCounters": trainings,
            "ObjectiveStatusCounters": objectives,
        }
        if self.end_time:
            out["HyperParameterTuningEndTime"] = self.end_time
        return out

    def describe(self) -> dict[str, Any]:
        with self.lock:
            out = self._outcome()
            out.update({key: self.request[key] for key in ECHOED if key in self.request})
            best = self.best()
            if best is not None:
                out["BestTrainingJob"] = dict(best)
            if self.failure_reason:
                out["FailureReason"] = self.failure_reason
            criteria = self.request["HyperParameterTuningJobConfig"].get("TuningJobCompletionCriteria")
            if criteria and "BestObjectiveNotImproving" in criteria:
                out["TuningJobCompletionDetails"] = {"NumberOfTrainingJobsObjectiveNotImproving": self.not_improving()}
            return out

    def not_improving(self) -> int:
        """How many training jobs since the best one reported an objective that did not beat it."""
        best = self.best()
        if best is None:
            return 0
        after = self.trainings[self.trainings.index(best) + 1 :]
        return sum(1 for summary in after if summary["ObjectiveStatus"] == "Succeeded")

    def summary(self) -> dict[str, Any]:
        with self.lock:
            out = self._outcome()
            config = self.request["HyperParameterTuningJobConfig"]
            out["Strategy"] = config["Strategy"]
            out["ResourceLimits"] = config["ResourceLimits"]
            return out
