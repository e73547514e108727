"""The SageMaker Processing API of the local cloud: validates requests as SageMaker does and keeps the records."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import Any

from local_sagemaker.cloud.compute.framework_images import check_image
from local_sagemaker.cloud.platform.errors import ResourceInUse, ValidationError
from local_sagemaker.cloud.platform.listing import Listing
from local_sagemaker.cloud.platform.names import arn as resource_arn
from local_sagemaker.cloud.platform.names import check_name
from local_sagemaker.cloud.platform.quotas import Quotas, job_instances
from local_sagemaker.cloud.platform.records import RecordStore, interrupted
from local_sagemaker.cloud.platform.tags import TagStore
from local_sagemaker.cloud.resources.processing.record import RUNNING, ProcessingJobRecord
from local_sagemaker.cloud.resources.processing.runner import ProcessingRunner

# Sorted by CreationTime, Ascending unless asked otherwise (AWS's API reference).
LISTING = Listing(
    "ProcessingJobSummaries", ProcessingJobRecord.summary, ("Name", "CreationTime", "Status"), "Ascending"
)
KIND = "ProcessingJob"
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


def _cluster(request: dict[str, Any]) -> list[tuple[str, int]]:
    """The instances a processing job asks for, as its quota counts them."""
    return job_instances(request.get("ProcessingResources", {}).get("ClusterConfig", {}))


class ProcessingService:
    """CreateProcessingJob, DescribeProcessingJob, ListProcessingJobs and StopProcessingJob over one set of records.

    The records live in ``store``: read back at start, each change written before it is answered.
    """

    def __init__(self, runner: ProcessingRunner, tags: TagStore, store: RecordStore, quotas: Quotas) -> None:
        self._runner, self._quotas = runner, quotas
        self._start_job = runner.start
        self._tags = tags
        self._store = store
        self._jobs: dict[str, ProcessingJobRecord] = {}
        self._lock = threading.Lock()
        self._restore()
        quotas.count_with("processing", self._instances_in_use)

    def _restore(self) -> None:
        """The jobs of earlier runs; one still running then lost its instances with the cloud: it ends Failed.

        A cloud stopped gracefully (``down``) stopped its jobs first, so none of them is found running here.
        """
        for state in self._store.load(KIND):
            name = state["request"]["ProcessingJobName"]
            record = self._jobs[name] = ProcessingJobRecord(**state, on_change=partial(self._store.put, KIND, name))
            if record.status in RUNNING:
                record.finish("Failed", interrupted("the job ran"))

    def actions(self) -> dict[str, Callable[[dict[str, Any], str], dict[str, Any]]]:
        return {
            "CreateProcessingJob": self.create,
            "DescribeProcessingJob": self.describe,
            "ListProcessingJobs": self.list,
            "StopProcessingJob": self.stop,
        }

    def create(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        _validate(request)
        name = request["ProcessingJobName"]
        arn = resource_arn(region, "processing-job", name)
        with self._quotas.admitting("processing", _cluster(request)), self._lock:
            if name in self._jobs:
                raise ResourceInUse(
                    "Processing job names must be unique within an AWS account and region, and a processing job "
                    f"with this name already exists ({arn})"
                )
            on_change = partial(self._store.put, KIND, name)
            record = ProcessingJobRecord(request=request, arn=arn, on_change=on_change)
            record.save()  # on disk before the job starts and the call answers
            self._jobs[name] = record
        self._tags.register(arn, request.get("Tags"))
        self._start_job(record)
        return {"ProcessingJobArn": arn}

    def get(self, name: str) -> ProcessingJobRecord:
        with self._lock:
            record = self._jobs.get(name)
        if record is None:
            raise ValidationError(f"Could not find requested job with name {name}")
        return record

    def describe(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        return self.get(request.get("ProcessingJobName", "")).describe()

    def stop(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        refused = self.get(request.get("ProcessingJobName", "")).request_stop()
        if refused:
            raise ValidationError(f"The request was rejected because the processing job is in status {refused}.")
        return {}

    def list(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        with self._lock:
            jobs = list(self._jobs.values())
        return LISTING.answer(jobs, request)

    def running(self) -> list[ProcessingJobRecord]:
        with self._lock:
            return [job for job in self._jobs.values() if job.status in RUNNING]

    # quotas ---------------------------------------------------------------------------------
    def _instances_in_use(self) -> list[tuple[str, int]]:
        """A job holds its instances while InProgress or Stopping (AWS's quota counts them until it ends)."""
        return [pair for job in self.running() for pair in _cluster(job.request)]

    def busy(self) -> bool:
        return bool(self.running())

    def shutdown(self) -> None:
        self._runner.shutdown(self.running())
