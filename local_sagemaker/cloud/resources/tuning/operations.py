"""The hyperparameter tuning API of the local cloud: validates requests as SageMaker does and keeps the records.

Runs Random, Grid and Bayesian tuning jobs of one training job definition. Refused, naming the fix: Hyperband,
warm start, Autotune, several training job definitions, early stopping, and the InstanceConfigs of
HyperParameterTuningResourceConfig (the local cloud runs every training job on one instance type).
"""

from __future__ import annotations

import math
from typing import Any

from local_sagemaker.cloud.compute.framework_images import check_image
from local_sagemaker.cloud.platform.errors import AwsError, ResourceInUse, ValidationError
from local_sagemaker.cloud.platform.listing import Listing
from local_sagemaker.cloud.platform.names import arn as resource_arn
from local_sagemaker.cloud.platform.records import RecordStore, interrupted
from local_sagemaker.cloud.platform.resource import Action, Registry
from local_sagemaker.cloud.platform.tags import TagStore
from local_sagemaker.cloud.resources.tuning.ranges import Range, parse
from local_sagemaker.cloud.resources.tuning.record import RUNNING, LaunchedTraining, TuningJobRecord
from local_sagemaker.cloud.resources.tuning.runner import TuningRunner
from local_sagemaker.cloud.resources.tuning.strategies import grid_size

# Both lists sort by Name, Ascending, unless asked otherwise (botocore's model documents the defaults).
LISTING = Listing(
    "HyperParameterTuningJobSummaries",
    TuningJobRecord.summary,
    ("Name", "Status", "CreationTime"),
    "Ascending",
    default_sort="Name",
)
TRAININGS = Listing(
    "TrainingJobSummaries",
    LaunchedTraining.answer,
    ("Name", "CreationTime", "Status", "FinalObjectiveMetricValue"),
    "Ascending",
    default_sort="Name",
)
# The hyperparameter AWS adds to a tuning job's static ones (the SDK's attach() reads it back; the training
# toolkit removes it before the script sees its arguments).
OBJECTIVE_HYPERPARAMETER = "_tuning_objective_metric"
# What a training job's ResourceConfig takes from a HyperParameterTuningResourceConfig without InstanceConfigs.
RESOURCES = ("InstanceType", "InstanceCount", "VolumeSizeInGB", "VolumeKmsKeyId")
ON_AWS = "or run on AWS (MAZE_TARGET=aws)"


def _refuse_unsupported(request: dict[str, Any]) -> None:
    """What the local cloud does not run, refused by name with the way out."""
    config = request["HyperParameterTuningJobConfig"]
    if config["Strategy"] == "Hyperband":
        raise ValidationError(
            "The local cloud does not run the Hyperband strategy (it stops training jobs early from their "
            f"intermediate metrics). Use Strategy 'Bayesian' or 'Random', {ON_AWS}."
        )
    refused = {
        "WarmStartConfig": "warm start (WarmStartConfig) is not supported: create the tuning job without it",
        "Autotune": "Autotune is not supported: give the strategy, ranges and limits yourself",
        "TrainingJobDefinitions": "several training job definitions are not supported: give one TrainingJobDefinition",
    }
    for member, why in refused.items():
        if request.get(member):
            raise ValidationError(f"The local cloud runs hyperparameter tuning jobs as AWS does, but {why}, {ON_AWS}.")
    if config.get("TrainingJobEarlyStoppingType", "Off") != "Off":
        raise ValidationError(
            "TrainingJobEarlyStoppingType 'Auto' is not supported by the local cloud (it does not stop training "
            f"jobs early): use 'Off', {ON_AWS}."
        )
    definition = request.get("TrainingJobDefinition")
    if definition is None:
        raise ValidationError("TrainingJobDefinition is required: the training job each tuning step launches.")
    resources = definition.get("ResourceConfig") or definition.get("HyperParameterTuningResourceConfig") or {}
    if "InstanceType" not in resources or resources.get("InstanceConfigs"):
        raise ValidationError(
            "The local cloud runs a tuning job's training jobs on one instance type: give it in ResourceConfig or "
            f"HyperParameterTuningResourceConfig (InstanceType, InstanceCount), not as InstanceConfigs, {ON_AWS}."
        )
    # What the SDK sends, one instance type in HyperParameterTuningResourceConfig, is the training jobs'
    # ResourceConfig; the description shows it there too (the SDK's HyperparameterTuner.attach() reads it).
    definition.setdefault("ResourceConfig", {key: resources[key] for key in RESOURCES if key in resources})


def _check_objective(config: dict[str, Any], definition: dict[str, Any]) -> None:
    objective = config.get("HyperParameterTuningJobObjective") or definition.get("TuningObjective")
    if objective is None:
        raise ValidationError(
            "HyperParameterTuningJobObjective is required: the metric (one of the MetricDefinitions) and whether "
            "to Maximize or Minimize it."
        )
    config["HyperParameterTuningJobObjective"] = objective
    spec = definition["AlgorithmSpecification"]
    metrics = [metric["Name"] for metric in spec.get("MetricDefinitions", [])]
    if objective["MetricName"] not in metrics:
        raise ValidationError(
            f"The objective metric for the hyperparameter tuning job, [{objective['MetricName']}], isn't valid for "
            f"the [{spec.get('TrainingImage', spec.get('AlgorithmName'))}] algorithm. Choose a valid objective "
            f"metric: one that AlgorithmSpecification.MetricDefinitions defines ({metrics})."
        )


def _check_budget(config: dict[str, Any], ranges: list[Range]) -> None:
    """Grid: categorical ranges only, as many training jobs as combinations; the others: enough combinations."""
    limits = config["ResourceLimits"]
    wanted = limits.get("MaxNumberOfTrainingJobs")
    if config["Strategy"] == "Grid":
        others = sorted(one.name for one in ranges if one.kind != "Categorical")
        if others:
            raise ValidationError(
                f"Only categorical parameters are supported when using the Grid search strategy; {others} are not. "
                "Make them categorical, or use the Random or Bayesian strategy."
            )
        size = grid_size(ranges)
        if wanted is not None and wanted != size:
            raise ValidationError(
                f"With the Grid strategy, MaxNumberOfTrainingJobs ({wanted}) must equal the total number of "
                f"distinct categorical combinations ({size}), or be left out."
            )
        limits["MaxNumberOfTrainingJobs"] = size
        return
    if wanted is None:
        raise ValidationError(
            f"ResourceLimits.MaxNumberOfTrainingJobs is required for the {config['Strategy']} strategy."
        )
    combinations = math.prod(one.size() for one in ranges)
    if combinations < wanted:
        raise ValidationError(
            "You don't have enough combinations of hyperparameter ranges. The total number of hyperparameter "
            f"combinations for the provided ranges [{float(combinations)}] must be equal or greater than the value "
            f"of MaxNumberOfJobs, [{wanted}]. Provide additional ranges."
        )


def _validate(request: dict[str, Any]) -> None:
    """Reject up front what SageMaker rejects, and what the local cloud cannot run the way SageMaker would."""
    _refuse_unsupported(request)
    config, definition = request["HyperParameterTuningJobConfig"], request["TrainingJobDefinition"]
    spec = definition["AlgorithmSpecification"]
    check_image(spec.get("TrainingImage") or spec.get("AlgorithmName", ""))
    _check_objective(config, definition)
    ranges = parse(config.get("ParameterRanges") or definition.get("HyperParameterRanges") or {})
    static = definition.get("StaticHyperParameters", {})
    both = sorted(one.name for one in ranges if one.name in static)
    if both:
        raise ValidationError(f"Hyperparameters {both} are both static and tunable: keep each in one place only.")
    _check_budget(config, ranges)
    # As AWS does: the objective's name joins the static hyperparameters (the SDK's attach() expects it there).
    definition["StaticHyperParameters"] = {
        **static,
        OBJECTIVE_HYPERPARAMETER: config["HyperParameterTuningJobObjective"]["MetricName"],
    }


def _not_found(name: str, region: str) -> AwsError:
    return AwsError("ResourceNotFound", f"Amazon SageMaker can't find a tuning job called {name}. Type another name.")


class TuningService:
    """CreateHyperParameterTuningJob, Describe..., List..., Stop... and ListTrainingJobsForHyperParameterTuningJob;
    the runner launches and follows the training jobs.

    The records live in the store: read back at start, each change written before it is answered.
    """

    def __init__(self, runner: TuningRunner, tags: TagStore, store: RecordStore) -> None:
        self._runner = runner
        self._jobs = Registry(store, tags, TuningJobRecord, _not_found)
        for record in self._jobs.all():
            # A tuning job of an earlier run still running lost its runner with the cloud: it ends Failed, with
            # its training jobs as the training service settled them. A cloud stopped gracefully (``down``)
            # stopped its tuning jobs first, so none of them is found running here.
            if record.status in RUNNING:
                runner.refresh(record)
                record.finish("Failed", interrupted("the tuning job ran"))

    def actions(self) -> dict[str, Action]:
        return {
            "CreateHyperParameterTuningJob": self.create,
            "DescribeHyperParameterTuningJob": self.describe,
            "ListHyperParameterTuningJobs": lambda request, region: LISTING.answer(self._jobs.all(), request),
            "StopHyperParameterTuningJob": self.stop,
            "ListTrainingJobsForHyperParameterTuningJob": self.list_training_jobs,
        }

    def create(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        _validate(request)
        name = request["HyperParameterTuningJobName"]
        arn = resource_arn(region, "hyper-parameter-tuning-job", name)
        exists = ResourceInUse(f"Hyperparameter tuning job with name {name} already exists ({arn})")
        # On disk before the tuning job starts and the call answers.
        record = self._jobs.add(TuningJobRecord(request=request, arn=arn), request.get("Tags"), lambda: exists)
        self._runner.start(record)
        return {"HyperParameterTuningJobArn": arn}

    def describe(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        return self._jobs.get(request["HyperParameterTuningJobName"], region).describe()

    def stop(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        refused = self._jobs.get(request["HyperParameterTuningJobName"], region).request_stop()
        if refused:
            raise ValidationError(
                f"The request was rejected because the hyperparameter tuning job is in status {refused}."
            )
        return {}

    def list_training_jobs(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        launched = self._jobs.get(request["HyperParameterTuningJobName"], region).launched()
        if request.get("SortBy") == "FinalObjectiveMetricValue":  # documented: those without one are not listed
            launched = [one for one in launched if one.objective_value is not None]
        return TRAININGS.answer(launched, request)

    def busy(self) -> bool:
        return any(job.status in RUNNING for job in self._jobs.all())

    def shutdown(self) -> None:
        self._runner.shutdown([job for job in self._jobs.all() if job.status in RUNNING])
