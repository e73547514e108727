"""CreateTransformJob, DescribeTransformJob, ListTransformJobs and StopTransformJob; the runner executes the jobs."""

from __future__ import annotations

from typing import Any

from local_sagemaker.cloud.platform.errors import ResourceInUse, ValidationError
from local_sagemaker.cloud.platform.listing import Listing
from local_sagemaker.cloud.platform.names import arn, check_name
from local_sagemaker.cloud.platform.quotas import Quotas, job_instances
from local_sagemaker.cloud.platform.records import RecordStore, interrupted
from local_sagemaker.cloud.platform.resource import Action, ModelLookup, Registry
from local_sagemaker.cloud.platform.tags import TagStore
from local_sagemaker.cloud.resources.batch.record import RUNNING, TransformJobRecord
from local_sagemaker.cloud.resources.batch.runner import TransformRunner

# Sorted by CreationTime, newest first unless asked otherwise (AWS's API reference).
LISTING = Listing("TransformJobSummaries", TransformJobRecord.summary, ("Name", "CreationTime", "Status"), "Descending")


def _not_found(name: str, region: str) -> ValidationError:
    return ValidationError(f"Could not find requested job with name {name}")


def _validate(request: dict[str, Any]) -> None:
    check_name(request.get("TransformJobName", ""), "transformJobName")
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
    """The transform jobs, kept in the store: read back at start, each change written before it is answered.

    The job's model is read through hosting's public face, ``describe_model`` (DescribeModel's answer).
    """

    def __init__(
        self,
        runner: TransformRunner,
        describe_model: ModelLookup,
        tags: TagStore,
        store: RecordStore,
        quotas: Quotas,
    ) -> None:
        self._runner, self._describe_model, self._quotas = runner, describe_model, quotas
        self._jobs = Registry(store, tags, TransformJobRecord, _not_found)
        for record in self._jobs.all():
            # A job of an earlier run still running lost its instances with the cloud: it ends Failed.
            if record.status in RUNNING:
                record.finish("Failed", interrupted("the job ran"))
        quotas.count_with("transform", self._instances_in_use)

    def actions(self) -> dict[str, Action]:
        return {
            "CreateTransformJob": self.create,
            "DescribeTransformJob": self.describe,
            "ListTransformJobs": lambda request, region: LISTING.answer(self._jobs.all(), request),
            "StopTransformJob": self.stop,
        }

    def create(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        _validate(request)
        self._describe_model(request["ModelName"], region)  # Could not find model "...", as SageMaker answers
        name = request["TransformJobName"]
        exists = ResourceInUse(f"Job name must be unique within an AWS account and region, and {name} exists.")
        record = TransformJobRecord(request=request, arn=arn(region, "transform-job", name))
        with self._quotas.admitting("transform", job_instances(request.get("TransformResources", {}))):
            self._jobs.add(record, request.get("Tags"), lambda: exists)  # before the job starts and the call answers
        self._runner.start(record)
        return {"TransformJobArn": record.arn}

    def describe(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        return self._jobs.get(request["TransformJobName"], region).describe()

    def stop(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        self._jobs.get(request["TransformJobName"], region).request_stop()
        return {}

    def _instances_in_use(self) -> list[tuple[str, int]]:
        """A job holds its instances while InProgress or Stopping (AWS's quota counts them until it ends)."""
        return [
            pair
            for job in self._jobs.all()
            if job.status in RUNNING
            for pair in job_instances(job.request.get("TransformResources", {}))
        ]

    def busy(self) -> bool:
        return any(job.status in RUNNING for job in self._jobs.all())

    def shutdown(self) -> None:
        self._runner.shutdown([job for job in self._jobs.all() if job.status in RUNNING])
