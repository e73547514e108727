"""The SageMaker Processing API of the local cloud: validates requests as SageMaker does and keeps the records."""

from __future__ import annotations

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


# What the local cloud reads and writes of an input's S3Input and an output's S3Output (AWS's defaults).
INPUT_SUPPORTS = {"S3DataType": "S3Prefix", "S3InputMode": "File", "S3CompressionType": "None"}
OUTPUT_SUPPORTS = {"S3UploadMode": "EndOfJob"}


def _check_s3_part(what: str, s3: dict[str, Any] | None, missing: str, supports: dict[str, str]) -> None:
    """An input's or output's S3 part: present, under /opt/ml/processing/, with members the local cloud runs."""
    if s3 is None:
        raise ValidationError(f"{what}: {missing}")
    _check_local_path(s3.get("LocalPath", ""), what)
    for member, supported in supports.items():
        value = s3.get(member, supported)
        if value != supported:
            raise ValidationError(
                f"{what}: the local cloud supports {member} '{supported}' only, not '{value}'. "
                "Use it, or run on AWS (MAZE_TARGET=aws)."
            )


def _validate_inputs(inputs: list[dict[str, Any]]) -> None:
    for source in inputs:
        missing = (
            "the local cloud reads S3Input sources only (no DatasetDefinition: Athena and Redshift are not part of "
            "it). Stage the data in S3, or run on AWS (MAZE_TARGET=aws)."
        )
        _check_s3_part(f"Input '{source.get('InputName', '')}'", source.get("S3Input"), missing, INPUT_SUPPORTS)


def _validate_outputs(outputs: list[dict[str, Any]]) -> None:
    for output in outputs:
        missing = "the local cloud writes S3Output outputs only (there is no Feature Store here)."
        _check_s3_part(f"Output '{output.get('OutputName', '')}'", output.get("S3Output"), missing, OUTPUT_SUPPORTS)


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


def _cluster(request: dict[str, Any]) -> list[tuple[str, int]]:
    """The instances a processing job asks for, as its quota counts them."""
    return job_instances(request.get("ProcessingResources", {}).get("ClusterConfig", {}))


class ProcessingService:
    """CreateProcessingJob, DescribeProcessingJob, ListProcessingJobs and StopProcessingJob; the runner executes
    the jobs.

    The records live in the store: read back at start, each change written before it is answered.
    """

    def __init__(self, runner: ProcessingRunner, tags: TagStore, store: RecordStore, quotas: Quotas) -> None:
        self._runner, self._quotas = runner, quotas
        self._jobs = Registry(store, tags, ProcessingJobRecord, _not_found)
        for record in self._jobs.all():
            # A job of an earlier run still running lost its instances with the cloud: it ends Failed. A cloud
            # stopped gracefully (``down``) stopped its jobs first, so none of them is found running here.
            if record.status in RUNNING:
                record.finish("Failed", interrupted("the job ran"))
        quotas.count_with("processing", self._instances_in_use)

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
        with self._quotas.admitting("processing", _cluster(request)):
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

    def _instances_in_use(self) -> list[tuple[str, int]]:
        """A job holds its instances while InProgress or Stopping (AWS's quota counts them until it ends)."""
        return [pair for job in self._jobs.all() if job.status in RUNNING for pair in _cluster(job.request)]

    def busy(self) -> bool:
        return any(job.status in RUNNING for job in self._jobs.all())

    def shutdown(self) -> None:
        self._runner.shutdown([job for job in self._jobs.all() if job.status in RUNNING])
