"""The SageMaker Training API of the local cloud: validates requests as SageMaker does and keeps the records."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

from local_sagemaker.cloud.compute.framework_images import check_image
from local_sagemaker.cloud.platform.errors import ResourceInUse, ValidationError
from local_sagemaker.cloud.platform.listing import matches
from local_sagemaker.cloud.platform.names import arn as resource_arn
from local_sagemaker.cloud.platform.names import check_name
from local_sagemaker.cloud.platform.records import RecordStore, interrupted
from local_sagemaker.cloud.platform.tags import TagStore
from local_sagemaker.cloud.resources.training.record import TrainingJobRecord

SORT_KEYS: dict[str, Callable[[TrainingJobRecord], Any]] = {
    "CreationTime": lambda r: r.creation_time,
    "Name": lambda r: r.name,
    "Status": lambda r: r.status,
}
KIND = "TrainingJob"


def _validate(request: dict[str, Any]) -> None:
    """Reject up front what SageMaker rejects, and what the local cloud cannot run the way SageMaker would."""
    check_name(request.get("TrainingJobName", ""), "trainingJobName")
    spec = request.get("AlgorithmSpecification", {})
    check_image(spec.get("TrainingImage") or spec.get("AlgorithmName", ""))
    if spec.get("TrainingInputMode", "File") != "File":
        raise ValidationError(
            f"The local cloud supports TrainingInputMode 'File' only, not '{spec['TrainingInputMode']}'."
        )
    for definition in spec.get("MetricDefinitions", []):
        regex = definition.get("Regex", "")
        if not 1 <= len(regex) <= 500:
            raise ValidationError(f"Metric '{definition.get('Name')}': Regex must be 1 to 500 characters long.")
        try:
            re.compile(regex)
        except re.error as error:
            raise ValidationError(
                f"Metric '{definition.get('Name')}': invalid regular expression {regex!r}: {error}"
            ) from error
    for key, value in request.get("HyperParameters", {}).items():
        if len(key) > 256 or len(str(value)) > 2500:
            raise ValidationError(
                f"Hyperparameter '{key[:40]}': keys are limited to 256 and values to 2500 characters."
            )
    count = request.get("ResourceConfig", {}).get("InstanceCount", 1)
    if count != 1:
        raise ValidationError(
            f"InstanceCount {count}: the local cloud trains on one instance; the scikit-learn container does not "
            "distribute training anyway. Use instance_count=1, or run on AWS (MAZE_TARGET=aws)."
        )
    for channel in request.get("InputDataConfig", []):
        source = channel.get("DataSource", {}).get("S3DataSource")
        if source is None or source.get("S3DataType", "S3Prefix") != "S3Prefix":
            raise ValidationError(
                f"Channel '{channel.get('ChannelName')}': the local cloud reads S3Prefix data sources only."
            )


class TrainingService:
    """CreateTrainingJob, DescribeTrainingJob, ListTrainingJobs and StopTrainingJob over one set of records.

    The records live in ``store``: read back at start, each change written before it is answered.
    """

    def __init__(self, start_job: Callable[[TrainingJobRecord], None], tags: TagStore, store: RecordStore) -> None:
        self._start_job = start_job
        self._tags = tags
        self._store = store
        self._jobs: dict[str, TrainingJobRecord] = {}
        self._lock = threading.Lock()
        self._restore()

    def _restore(self) -> None:
        """The jobs of earlier runs; one still running then lost its process with the cloud: it ends Failed.

        A cloud stopped gracefully (``down``) stopped its jobs first, so none of them is found running here.
        """
        for state in self._store.load(KIND):
            name = state["request"]["TrainingJobName"]
            record = self._jobs[name] = TrainingJobRecord(**state, on_change=partial(self._store.put, KIND, name))
            if record.status in ("InProgress", "Stopping"):
                record.finish("Failed", "Failed", "Training job failed", interrupted("the job ran"))

    def actions(self) -> dict[str, Callable[[dict[str, Any], str], dict[str, Any]]]:
        return {
            "CreateTrainingJob": self.create,
            "DescribeTrainingJob": self.describe,
            "ListTrainingJobs": self.list,
            "StopTrainingJob": self.stop,
        }

    def create(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        _validate(request)
        name = request["TrainingJobName"]
        arn = resource_arn(region, "training-job", name)
        with self._lock:
            if name in self._jobs:
                raise ResourceInUse(
                    "Training job names must be unique within an AWS account and region, and a training job "
                    f"with this name already exists ({arn})"
                )
            # Written (its first transition) before the job starts and the call answers.
            on_change = partial(self._store.put, KIND, name)
            record = self._jobs[name] = TrainingJobRecord(request=request, arn=arn, on_change=on_change)
        self._tags.register(arn, request.get("Tags"))
        self._start_job(record)
        return {"TrainingJobArn": arn}

    def get(self, name: str) -> TrainingJobRecord:
        with self._lock:
            record = self._jobs.get(name)
        if record is None:
            raise ValidationError("Requested resource not found.")
        return record

    def describe(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        return self.get(request.get("TrainingJobName", "")).describe()

    def stop(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        refused = self.get(request.get("TrainingJobName", "")).request_stop()
        if refused:
            raise ValidationError(f"The request was rejected because the training job is in status {refused}.")
        return {}

    def list(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        sort_by = request.get("SortBy", "CreationTime")
        order = request.get("SortOrder", "Ascending")
        if sort_by not in SORT_KEYS or order not in ("Ascending", "Descending"):
            raise ValidationError(f"Invalid SortBy '{sort_by}' or SortOrder '{order}'.")
        with self._lock:
            jobs = list(self._jobs.values())
        jobs = [job for job in jobs if matches(job, request)]
        jobs.sort(key=SORT_KEYS[sort_by], reverse=order == "Descending")
        start = int(request.get("NextToken") or 0)
        size = int(request.get("MaxResults") or 10)
        page = jobs[start : start + size]
        out: dict[str, Any] = {"TrainingJobSummaries": [job.summary() for job in page]}
        if start + size < len(jobs):
            out["NextToken"] = str(start + size)
        return out

    def running(self) -> list[TrainingJobRecord]:
        with self._lock:
            return [job for job in self._jobs.values() if job.status in ("InProgress", "Stopping")]
