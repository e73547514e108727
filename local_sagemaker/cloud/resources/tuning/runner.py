"""Runs a hyperparameter tuning job for real: real training jobs, launched through the training service's public
operations, at most ``MaxParallelTrainingJobs`` at a time, until ``MaxNumberOfTrainingJobs`` have run.

Each training job is named as AWS names them (``<tuning job>-<3-digit index>-<8 hex>``), carries the tuning job's
tags, and gets the static hyperparameters with the tuned ones merged in. Its objective is the value of the
objective metric in its ``FinalMetricDataList`` once it completed. A training job the account's instance quota
refuses (``ResourceLimitExceeded``) is not a failure: the tuning job launches it when a running one ends.
"""

from __future__ import annotations

import contextlib
import copy
import threading
import time
import uuid
from typing import Any

from local_sagemaker.cloud.platform.errors import AwsError
from local_sagemaker.cloud.platform.resource import TrainingJobs
from local_sagemaker.cloud.platform.shutdown_stops import ShutdownStops
from local_sagemaker.cloud.resources.tuning.ranges import parse
from local_sagemaker.cloud.resources.tuning.record import TRAINING_RUNNING, TuningJobRecord
from local_sagemaker.cloud.resources.tuning.strategies import Strategy, Tuned, strategy_for

POLL_SECONDS = 0.5
STOP_GRACE_SECONDS = 40.0
# AWS fails a tuning job whose first training jobs all failed: "No training job succeeded after 5 attempts".
FAILED_ATTEMPTS = 5
REASON_LIMIT = 1024
# The training job definition's members a launched training job takes over as they are.
COPIED = (
    "AlgorithmSpecification",
    "RoleArn",
    "InputDataConfig",
    "VpcConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "StoppingCondition",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
    "RetryStrategy",
    "Environment",
)
# How a tuning job ends: its status and FailureReason.
Ending = tuple[str, str | None]


def training_request(tuning: dict[str, Any], name: str, tuned: Tuned) -> dict[str, Any]:
    """The CreateTrainingJob request of one training job of a tuning job."""
    definition = tuning["TrainingJobDefinition"]
    request = {key: copy.deepcopy(definition[key]) for key in COPIED if key in definition}
    request["TrainingJobName"] = name
    request["HyperParameters"] = {**definition.get("StaticHyperParameters", {}), **tuned}
    if tuning.get("Tags"):
        request["Tags"] = copy.deepcopy(tuning["Tags"])
    return request


def summary_changes(description: dict[str, Any], metric_name: str) -> dict[str, Any]:
    """What a training job's HyperParameterTrainingJobSummary takes from its DescribeTrainingJob answer."""
    status = description["TrainingJobStatus"]
    changes: dict[str, Any] = {"TrainingJobStatus": status}
    for key in ("TrainingStartTime", "TrainingEndTime", "FailureReason"):
        if key in description:
            changes[key] = description[key]
    values = [m["Value"] for m in description.get("FinalMetricDataList", []) if m["MetricName"] == metric_name]
    if status in TRAINING_RUNNING:
        changes["ObjectiveStatus"] = "Pending"
    elif status == "Completed" and values:
        changes["ObjectiveStatus"] = "Succeeded"
        changes["FinalHyperParameterTuningJobObjectiveMetric"] = {"MetricName": metric_name, "Value": values[-1]}
    else:
        changes["ObjectiveStatus"] = "Failed"
    return changes


class TuningRunner:
    """One thread per tuning job launches its training jobs, follows them and drives its record to its end."""

    def __init__(self, trainings: TrainingJobs) -> None:
        self._trainings = trainings
        self._threads: list[threading.Thread] = []
        self._shutdown_stops = ShutdownStops()

    def start(self, record: TuningJobRecord) -> None:
        thread = threading.Thread(target=self._run, args=(record,), name=f"tuning:{record.name}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def shutdown(self, jobs: list[TuningJobRecord]) -> None:
        """Stop what still runs (the local cloud is going down): each tuning job stops its training jobs and
        ends when they did."""
        self._shutdown_stops.stop(jobs)
        for thread in self._threads:
            thread.join(timeout=STOP_GRACE_SECONDS)

    def refresh(self, record: TuningJobRecord) -> list[dict[str, Any]]:
        """Each running training job's summary brought up to date; returns the summaries of those that ended."""
        ended = []
        for launched in record.launched():
            if launched.status not in TRAINING_RUNNING:
                continue
            try:
                description = self._trainings.describe({"TrainingJobName": launched.name}, record.region)
            except AwsError as error:  # gone: it cannot have succeeded
                description = {"TrainingJobStatus": "Failed", "FailureReason": f"{error.code}: {error.message}"}
            changes = summary_changes(description, record.objective["MetricName"])
            record.update_training(launched.name, changes)
            if changes["TrainingJobStatus"] not in TRAINING_RUNNING:
                ended.append({**launched.summary, **changes})
        return ended

    def _run(self, record: TuningJobRecord) -> None:
        try:
            status, reason = self._execute(record)
        except Exception as error:  # a fault of the local cloud must not leave a tuning job InProgress forever
            self._stop_trainings(record)
            status, reason = "Failed", f"InternalServerError: local cloud: {error!r}"[:REASON_LIMIT]
        record.finish(status, reason)

    def _execute(self, record: TuningJobRecord) -> Ending:
        config = record.request["HyperParameterTuningJobConfig"]
        definition = record.request["TrainingJobDefinition"]
        strategy = strategy_for(config, parse(config.get("ParameterRanges") or definition["HyperParameterRanges"]))
        limits = config["ResourceLimits"]
        deadline = time.monotonic() + limits.get("MaxRuntimeInSeconds", float("inf"))
        next_values: Tuned | None = None  # asked of the strategy, not launched yet (the quota was full)
        halt: Ending | None = None
        while True:
            for ended in self.refresh(record):
                objective = ended.get("FinalHyperParameterTuningJobObjectiveMetric", {}).get("Value")
                strategy.tell(ended["TunedHyperParameters"], objective)
            launched = record.launched()
            running = [one for one in launched if one.status in TRAINING_RUNNING]
            halt = halt or self._halt(record, deadline)
            if halt is not None:
                if not running:
                    return halt
                self._stop_trainings(record)
            elif len(launched) >= limits["MaxNumberOfTrainingJobs"] or _criteria_met(record):
                if not running:
                    return ("Completed", None)
            else:
                try:
                    next_values = self._launch_more(record, strategy, next_values, len(running), len(launched))
                except AwsError as error:  # the training service refused a training job: it will refuse every one
                    halt = ("Failed", f"{error.code}: {error.message}"[:REASON_LIMIT])
            time.sleep(POLL_SECONDS)

    def _halt(self, record: TuningJobRecord, deadline: float) -> Ending | None:
        """Why the tuning job ends before its budget is spent, if it does: a stop, its time, failures only."""
        if record.stop_requested.is_set():
            return ("Stopped", self._shutdown_stops.reason(record))
        if time.monotonic() > deadline:
            return ("Stopped", None)
        statuses = [one.status for one in record.launched()]
        attempts = min(
            FAILED_ATTEMPTS,
            record.request["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"],
        )
        if "Completed" not in statuses and statuses.count("Failed") >= attempts:
            return (
                "Failed",
                f"No training job succeeded after {attempts} attempts. For details, look at the training jobs' "
                "failures: ListTrainingJobsForHyperParameterTuningJob lists them with their FailureReason.",
            )
        return None

    def _launch_more(
        self, record: TuningJobRecord, strategy: Strategy, next_values: Tuned | None, running: int, launched: int
    ) -> Tuned | None:
        """Launch training jobs up to the parallel limit and the budget; returns the values of one the instance
        quota refused, to launch once a running training job has ended."""
        limits = record.request["HyperParameterTuningJobConfig"]["ResourceLimits"]
        while running < limits["MaxParallelTrainingJobs"] and launched < limits["MaxNumberOfTrainingJobs"]:
            tuned = next_values or strategy.ask()
            name = f"{record.name}-{launched + 1:03d}-{uuid.uuid4().hex[:8]}"
            try:
                self._trainings.create(training_request(record.request, name, tuned), record.region, record.arn)
            except AwsError as error:
                if error.code == "ResourceLimitExceeded":
                    return tuned
                raise
            next_values = None
            description = self._trainings.describe({"TrainingJobName": name}, record.region)
            summary = {
                "TrainingJobName": name,
                "TrainingJobArn": description["TrainingJobArn"],
                "TuningJobName": record.name,
                "CreationTime": description["CreationTime"],
                "TunedHyperParameters": tuned,
                **summary_changes(description, record.objective["MetricName"]),
            }
            record.add_training(summary)
            running, launched = running + 1, launched + 1
        return None

    def _stop_trainings(self, record: TuningJobRecord) -> None:
        for launched in record.launched():
            if launched.status == "InProgress":
                with contextlib.suppress(AwsError):  # it ended meanwhile
                    self._trainings.stop({"TrainingJobName": launched.name}, record.region)


def _criteria_met(record: TuningJobRecord) -> bool:
    """TuningJobCompletionCriteria: the target objective reached, or the best not beaten by enough training jobs."""
    criteria = record.request["HyperParameterTuningJobConfig"].get("TuningJobCompletionCriteria", {})
    with record.lock:
        best = record.best()
        not_improving = record.not_improving()
    if best is None:
        return False
    value = best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    target = criteria.get("TargetObjectiveMetricValue")
    if target is not None and (value >= target if record.objective["Type"] == "Maximize" else value <= target):
        return True
    patience = criteria.get("BestObjectiveNotImproving", {}).get("MaxNumberOfTrainingJobsNotImproving")
    return patience is not None and not_improving >= patience
