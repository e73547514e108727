"""The SageMaker Training API of the local cloud: validates requests as SageMaker does and keeps the records."""

from __future__ import annotations

import re
from typing import Any

from local_sagemaker.cloud.compute.framework_images import check_image
from local_sagemaker.cloud.platform.errors import ResourceInUse, ValidationError
from local_sagemaker.cloud.platform.listing import Listing
from local_sagemaker.cloud.platform.names import arn as resource_arn
from local_sagemaker.cloud.platform.names import check_name
from local_sagemaker.cloud.platform.quotas import Quotas, job_instances
from local_sagemaker.cloud.platform.records import RecordStore, interrupted
from local_sagemaker.cloud.platform.resource import Action, Registry
from local_sagemaker.cloud.platform.tags import TagStore
from local_sagemaker.cloud.resources.training.record import TrainingJobRecord
from local_sagemaker.cloud.resources.training.runner import TrainingRunner

RUNNING = ("InProgress", "Stopping")
# Sorted by CreationTime, Ascending unless asked otherwise; StatusEquals filters each page (AWS's API reference).
LISTING = Listing(
    "TrainingJobSummaries",
    TrainingJobRecord.summary,
    ("Name", "CreationTime", "Status"),
    "Ascending",
    status_after_page=True,
)


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


def _not_found(name: str, region: str) -> ValidationError:
    return ValidationError("Requested resource not found.")


class TrainingService:
    """CreateTrainingJob, DescribeTrainingJob, ListTrainingJobs and StopTrainingJob; the runner executes the jobs.

    The records live in the store: read back at start, each change written before it is answered.
    """

    def __init__(self, runner: TrainingRunner, tags: TagStore, store: RecordStore, quotas: Quotas) -> None:
        self._runner, self._quotas = runner, quotas
        self._jobs = Registry(store, tags, TrainingJobRecord, _not_found)
        for record in self._jobs.all():
            # A job of an earlier run still running lost its process with the cloud: it ends Failed. A cloud
            # stopped gracefully (``down``) stopped its jobs first, so none of them is found running here.
            if record.status in RUNNING:
                record.finish("Failed", "Failed", "Training job failed", interrupted("the job ran"))
        quotas.count_with("training", self._instances_in_use)

    def actions(self) -> dict[str, Action]:
        return {
            "CreateTrainingJob": self.create,
            "DescribeTrainingJob": self.describe,
            "ListTrainingJobs": lambda request, region: LISTING.answer(self._jobs.all(), request),
            "StopTrainingJob": self.stop,
        }

    def searchable(self, region: str) -> list[dict[str, Any]]:
        """The jobs of ``region`` as DescribeTrainingJob answers them, for Search (wired in the server)."""
        return [job.describe() for job in self._jobs.all() if job.region == region]

    def create(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        return self.create_for_tuning(request, region, None)

    def create_for_tuning(self, request: dict[str, Any], region: str, tuning_job_arn: str | None) -> dict[str, Any]:
        """CreateTrainingJob, for a job a hyperparameter tuning job launches (``tuning_job_arn``) or not (None)."""
        _validate(request)
        name = request["TrainingJobName"]
        arn = resource_arn(region, "training-job", name)
        exists = ResourceInUse(
            "Training job names must be unique within an AWS account and region, and a training job "
            f"with this name already exists ({arn})"
        )
        record = TrainingJobRecord(request=request, arn=arn, tuning_job_arn=tuning_job_arn)
        # On disk (with its first transition) before the job starts and the call answers.
        with self._quotas.admitting("training", job_instances(request.get("ResourceConfig", {}))):
            record = self._jobs.add(record, request.get("Tags"), lambda: exists)
        self._runner.start(record)
        return {"TrainingJobArn": arn}

    def describe(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        return self._jobs.get(request["TrainingJobName"], region).describe()

    def stop(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        refused = self._jobs.get(request["TrainingJobName"], region).request_stop()
        if refused:
            raise ValidationError(f"The request was rejected because the training job is in status {refused}.")
        return {}

    def _instances_in_use(self) -> list[tuple[str, int]]:
        """A job holds its instances while InProgress or Stopping (AWS's quota counts them until it ends)."""
        return [
            pair
            for job in self._jobs.all()
            if job.status in RUNNING
            for pair in job_instances(job.request.get("ResourceConfig", {}))
        ]

    def busy(self) -> bool:
        return any(job.status in RUNNING for job in self._jobs.all())

    def shutdown(self) -> None:
        self._runner.shutdown([job for job in self._jobs.all() if job.status in RUNNING])
