"""The SageMaker Processing API of the local cloud: validates requests as SageMaker does and keeps the records."""

from __future__ import annotations

from typing import Any

from local_sagemaker.cloud.compute.framework_images import check_image
from local_sagemaker.cloud.platform.errors import ResourceInUse, ValidationError
from local_sagemaker.cloud.platform.listing import Listing
from local_sagemaker.cloud.platform.names import arn as resource_arn
from local_sagemaker.cloud.platform.names import check_name
from local_sagemaker.cloud.platform.records import RecordStore, interrupted
from local_sagemaker.cloud.platform.resource import Action, Registry
from local_sagemaker.cloud.platform.tags import TagStore
from local_sagemaker.cloud.resources.processing.record import RUNNING, ProcessingJobRecord
from local_sagemaker.cloud.resources.processing.runner import ProcessingRunner

# Sorted by CreationTime, Ascending unless asked otherwise (botocore's model of ListProcessingJobs).
LISTING = Listing(
    "ProcessingJobSummaries", ProcessingJobRecord.summary, ("Name", "CreationTime", "Status"), "Ascending"
)
# Every instance is a process of this machine: a few are a cluster, more only make the machine crawl.
MAX_INSTANCES = 4
CONTAINER_PREFIX = "/opt/ml/processing/"


def _check_local_path(path: str, what: str) -> None:
    """AWS: "LocalPath is an absolute path ... and must begin with /opt/ml/processing/"."""
    if not path.startswith(CONTAINER_PREFIX) or ".." in path.split("/"):
        raise ValidationError(
            f"{what}: LocalPath '{path}' must be an absolute path beginning with {CONTAINER_PREFIX} (without '..')."
        )


def _validate_inputs(inputs: list[dict[str, Any]]) -> None:
    for source in inputs:
        name = source.get("InputName", "")
        s3 = source.get("S3Input")
        if s3 is None:
            raise ValidationError(
                f"Input '{name}': the local cloud reads S3Input sources only (no DatasetDefinition: Athena and "
                "Redshift are not part of it). Stage the data in S3, or run on AWS (MAZE_TARGET=aws)."
            )
        _check_local_path(s3.get("LocalPath", ""), f"Input '{name}'")
        unsupported = {
            "S3DataType": (s3.get("S3DataType", "S3Prefix"), "S3Prefix"),
            "S3InputMode": (s3.get("S3InputMode", "File"), "File"),
            "S3CompressionType": (s3.get("S3CompressionType", "None"), "None"),
        }
        for member, (value, supported) in unsupported.items():
            if value != supported:
                raise ValidationError(
                    f"Input '{name}': the local cloud supports {member} '{supported}' only, not '{value}'. "
                    "Use it, or run on AWS (MAZE_TARGET=aws)."
                )


def _validate_outputs(outputs: list[dict[str, Any]]) -> None:
    for output in outputs:
        name = output.get("OutputName", "")
        s3 = output.get("S3Output")
        if s3 is None:
            raise ValidationError(
                f"Output '{name}': the local cloud writes S3Output outputs only (there is no Feature Store here)."
            )
        _check_local_path(s3.get("LocalPath", ""), f"Output '{name}'")
        if s3.get("S3UploadMode", "EndOfJob") != "EndOfJob":
            raise ValidationError(
                f"Output '{name}': the local cloud uploads outputs at the end of the job only (S3UploadMode "
                f"'EndOfJob'), not '{s3['S3UploadMode']}'."
            )


def _validate(request: dict[str, Any]) -> None:
    """Reject up front what SageMaker rejects, and what the local cloud cannot run the way SageMaker would."""
    check_name(request.get("ProcessingJobName", ""), "processingJobName")
    spec = request.get("AppSpecification", {})
    check_image(spec.get("ImageUri", ""))
    if not spec.get("ContainerEntrypoint"):
        raise ValidationError(
            "AppSpecification: the local cloud needs a ContainerEntrypoint (the scikit-learn image has no processing "
            "entrypoint of its own). The SDK's processors always send one; give one, e.g. ['python3', "
            "'/opt/ml/processing/input/code/script.py']."
        )
    count = request.get("ProcessingResources", {}).get("ClusterConfig", {}).get("InstanceCount", 1)
    if count > MAX_INSTANCES:
        raise ValidationError(
            f"InstanceCount {count}: the local cloud runs at most {MAX_INSTANCES} processing instances, each a "
            "process of this machine. Use fewer, or run on AWS (MAZE_TARGET=aws)."
        )
    _validate_inputs(request.get("ProcessingInputs", []))
    _validate_outputs(request.get("ProcessingOutputConfig", {}).get("Outputs", []))
    names = [i.get("InputName") for i in request.get("ProcessingInputs", [])]
    names += [o.get("OutputName") for o in request.get("ProcessingOutputConfig", {}).get("Outputs", [])]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValidationError(f"Input and output names must be unique within a processing job: {duplicates}.")


def _not_found(name: str, region: str) -> ValidationError:
    return ValidationError(f"Could not find requested job with name {name}")


class ProcessingService:
    """CreateProcessingJob, DescribeProcessingJob, ListProcessingJobs and StopProcessingJob; the runner executes
    the jobs.

    The records live in the store: read back at start, each change written before it is answered.
    """

    def __init__(self, runner: ProcessingRunner, tags: TagStore, store: RecordStore) -> None:
        self._runner = runner
        self._jobs = Registry(store, tags, ProcessingJobRecord, _not_found)
        for record in self._jobs.all():
            # A job of an earlier run still running lost its instances with the cloud: it ends Failed. A cloud
            # stopped gracefully (``down``) stopped its jobs first, so none of them is found running here.
            if record.status in RUNNING:
                record.finish("Failed", interrupted("the job ran"))

    def actions(self) -> dict[str, Action]:
        return {
            "CreateProcessingJob": self.create,
            "DescribeProcessingJob": self.describe,
            "ListProcessingJobs": lambda request, region: LISTING.answer(self._jobs.all(), request),
            "StopProcessingJob": self.stop,
        }

    def create(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        _validate(request)
        name = request["ProcessingJobName"]
        arn = resource_arn(region, "processing-job", name)
        exists = ResourceInUse(
            "Processing job names must be unique within an AWS account and region, and a processing job "
            f"with this name already exists ({arn})"
        )
        # On disk before the job starts and the call answers.
        record = self._jobs.add(ProcessingJobRecord(request=request, arn=arn), request.get("Tags"), lambda: exists)
        self._runner.start(record)
        return {"ProcessingJobArn": arn}

    def describe(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        return self._jobs.get(request["ProcessingJobName"], region).describe()

    def stop(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        refused = self._jobs.get(request["ProcessingJobName"], region).request_stop()
        if refused:
            raise ValidationError(f"The request was rejected because the processing job is in status {refused}.")
        return {}

    def busy(self) -> bool:
        return any(job.status in RUNNING for job in self._jobs.all())

    def shutdown(self) -> None:
        self._runner.shutdown([job for job in self._jobs.all() if job.status in RUNNING])
