"""Hyperparameter tuning on the local cloud: Random, Grid and Bayesian tuning jobs launch real training jobs, the
best one is the one with the best objective, stop and restart settle them, listings page, filter and sort as AWS's,
what the local cloud cannot run is refused by name, and the SDK's HyperparameterTuner works unchanged."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local_sagemaker.cloud.platform.shutdown_stops import REASON
from local_sagemaker.kernel import launcher
from testing.training_jobs import BUCKET, IMAGE, ROLE, unique, upload_source
from testing.training_jobs import wait as wait_training
from tests.local_cloud.processes import cloud_of_its_own
from tests.local_cloud.test_connect import after_connect, run_python

TERMINAL = ("Completed", "Failed", "Stopped")
# A training script that reports score = depth + lr (+ 0.5 for kind "b") and fails for kind "bad"; parse_args, not
# parse_known_args: the tuning job's own hyperparameter (_tuning_objective_metric) must not reach the script.
SCRIPT = """
import argparse, time
parser = argparse.ArgumentParser()
parser.add_argument("--depth", type=int, default=0)
parser.add_argument("--lr", type=float, default=0.0)
parser.add_argument("--kind", type=str, default="a")
parser.add_argument("--sleep", type=float, default=0.0)
args = parser.parse_args()
time.sleep(args.sleep)
if args.kind == "bad":
    raise SystemExit("a bad kind")
print(f"score={args.depth + args.lr + (0.5 if args.kind == 'b' else 0)}")
"""
METRICS = [{"Name": "score", "Regex": "score=([0-9.]+)"}]
TAGS = [{"Key": "maze-team", "Value": "tuners"}]


def definition(s3: Any, name: str, **static: Any) -> dict[str, Any]:
    """A TrainingJobDefinition as the SDK's tuner sends one for a scikit-learn estimator."""
    source = upload_source(s3, {"train.py": SCRIPT}, f"{name}/source/sourcedir.tar.gz")
    statics = {
        "sagemaker_program": "train.py",
        "sagemaker_submit_directory": source,
        "sagemaker_region": "us-east-1",
        "sagemaker_container_log_level": 20,
        **static,
    }
    return {
        "StaticHyperParameters": {key: json.dumps(value) for key, value in statics.items()},
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File", "MetricDefinitions": METRICS},
        "RoleArn": ROLE,
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


def config(strategy: str, ranges: dict[str, Any], jobs: int | None, parallel: int = 2, **more: Any) -> dict[str, Any]:
    limits = {"MaxParallelTrainingJobs": parallel, **({"MaxNumberOfTrainingJobs": jobs} if jobs else {})}
    return {
        "Strategy": strategy,
        "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "score"},
        "ResourceLimits": limits,
        "ParameterRanges": ranges,
    } | more


def create(sm: Any, s3: Any, tuning: dict[str, Any], prefix: str = "tune", **static: Any) -> str:
    name = unique(prefix)
    sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobConfig=tuning,
        TrainingJobDefinition=definition(s3, name, **static),
        Tags=TAGS,
    )
    return name


def wait(sm: Any, name: str, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        description = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        if description["HyperParameterTuningJobStatus"] in TERMINAL:
            return description
        assert time.monotonic() < deadline, f"{name} still {description['HyperParameterTuningJobStatus']}"
        time.sleep(0.2)


def trainings(sm: Any, name: str, **options: Any) -> list[dict[str, Any]]:
    paginator = sm.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job")
    pages = paginator.paginate(HyperParameterTuningJobName=name, **options)
    return [summary for page in pages for summary in page["TrainingJobSummaries"]]


def objective(training: dict[str, Any]) -> float | None:
    """The objective as the training job itself recorded it (its FinalMetricDataList)."""
    values = [m["Value"] for m in training["FinalMetricDataList"] if m["MetricName"] == "score"]
    return values[0] if values else None


def most_at_once(descriptions: list[dict[str, Any]]) -> int:
    """How many of the training jobs ran at the same time, at most (from their creation to their end)."""
    events = sorted(
        [(d["CreationTime"], 1) for d in descriptions] + [(d["TrainingEndTime"], -1) for d in descriptions],
        key=lambda event: (event[0], event[1]),
    )
    running = most = 0
    for _, change in events:
        running += change
        most = max(most, running)
    return most


def numeric(kind: str, name: str, low: str, high: str, scaling: str = "Auto") -> dict[str, Any]:
    """ParameterRanges with one Integer or Continuous range."""
    return {f"{kind}ParameterRanges": [{"Name": name, "MinValue": low, "MaxValue": high, "ScalingType": scaling}]}


RANDOM = {
    **numeric("Integer", "depth", "1", "100", "Logarithmic"),
    **numeric("Continuous", "lr", "0.5", "0.99", "ReverseLogarithmic"),
}
# The SDK JSON-quotes categorical values for framework estimators; the container decodes them.
GRID = {
    "CategoricalParameterRanges": [
        {"Name": "kind", "Values": ['"a"', '"b"', '"bad"']},
        {"Name": "depth", "Values": ["1", "2"]},
    ]
}
INTEGER = numeric("Integer", "depth", "1", "9")
GRID_KIND = {"CategoricalParameterRanges": [{"Name": "kind", "Values": ['"a"', '"b"']}]}


@pytest.fixture(scope="module")
def finished(sm, s3) -> dict[str, dict[str, Any]]:
    """A Random job (4 trainings, 2 at a time) and a Grid job (6 trainings, 2 failing), run side by side."""
    names = {
        "Random": create(sm, s3, config("Random", RANDOM, 4, RandomSeed=7)),
        "Grid": create(sm, s3, config("Grid", GRID, None)),
    }
    return {strategy: wait(sm, name) for strategy, name in names.items()}


@pytest.mark.parametrize("strategy", ["Random", "Grid"])
def test_a_tuning_job_completes_with_the_best_training_job_by_their_own_metrics(sm, finished, strategy) -> None:
    done = finished[strategy]
    name = done["HyperParameterTuningJobName"]
    assert done["HyperParameterTuningJobStatus"] == "Completed", done.get("FailureReason")
    assert done["HyperParameterTuningEndTime"] >= done["CreationTime"]
    summaries = trainings(sm, name)
    described = [sm.describe_training_job(TrainingJobName=s["TrainingJobName"]) for s in summaries]
    scored = [d for d in described if objective(d) is not None]
    best = max(scored, key=objective)
    assert done["BestTrainingJob"]["TrainingJobName"] == best["TrainingJobName"]
    assert done["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"] == {
        "MetricName": "score",
        "Value": objective(best),
    }
    assert 2 <= most_at_once(described) <= 2, "MaxParallelTrainingJobs 2, and the jobs did run side by side"
    for training in described:
        assert re.fullmatch(rf"{name}-\d{{3}}-[0-9a-f]{{8}}", training["TrainingJobName"]), "AWS's naming"
        assert training["TuningJobArn"] == done["HyperParameterTuningJobArn"]
        assert training["HyperParameters"]["_tuning_objective_metric"] == "score"
        assert training["HyperParameters"]["sagemaker_program"] == '"train.py"', "static ones kept"
        assert sm.list_tags(ResourceArn=training["TrainingJobArn"])["Tags"] == TAGS, "the tuning job's tags"
    assert [int(s["TrainingJobName"][-12:-9]) for s in summaries] == list(range(1, len(summaries) + 1))


def test_random_search_draws_in_the_ranges_on_their_scales(sm, finished) -> None:
    done = finished["Random"]
    assert done["TrainingJobStatusCounters"] == {
        "Completed": 4, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 0, "Stopped": 0,
    }  # fmt: skip
    assert done["ObjectiveStatusCounters"] == {"Succeeded": 4, "Pending": 0, "Failed": 0}
    for summary in trainings(sm, done["HyperParameterTuningJobName"]):
        tuned = summary["TunedHyperParameters"]
        assert re.fullmatch(r"\d+", tuned["depth"]) and 1 <= int(tuned["depth"]) <= 100
        assert 0.5 <= float(tuned["lr"]) <= 0.99
        hyperparameters = sm.describe_training_job(TrainingJobName=summary["TrainingJobName"])["HyperParameters"]
        assert {key: hyperparameters[key] for key in tuned} == tuned
        assert summary["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx(
            int(tuned["depth"]) + float(tuned["lr"])
        ), "the script saw the tuned values"


def test_grid_search_runs_each_combination_once_and_counts_the_failed_trainings(sm, finished) -> None:
    done = finished["Grid"]
    assert done["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 6, "the grid's size"
    summaries = trainings(sm, done["HyperParameterTuningJobName"])
    combinations = sorted((s["TunedHyperParameters"]["kind"], s["TunedHyperParameters"]["depth"]) for s in summaries)
    assert combinations == sorted((kind, depth) for kind in ('"a"', '"b"', '"bad"') for depth in ("1", "2"))
    assert done["TrainingJobStatusCounters"]["Completed"] == 4
    assert done["TrainingJobStatusCounters"]["NonRetryableError"] == 2
    assert done["ObjectiveStatusCounters"] == {"Succeeded": 4, "Pending": 0, "Failed": 2}
    failed = [s for s in summaries if s["TrainingJobStatus"] == "Failed"]
    assert all(s["ObjectiveStatus"] == "Failed" and "FailureReason" in s for s in failed)
    assert done["BestTrainingJob"]["TunedHyperParameters"] == {"kind": '"b"', "depth": "2"}


def test_the_training_jobs_of_a_tuning_job_page_filter_and_sort(sm, finished) -> None:
    name = finished["Grid"]["HyperParameterTuningJobName"]
    by_name = trainings(sm, name, PaginationConfig={"PageSize": 4})
    assert [s["TrainingJobName"] for s in by_name] == sorted(s["TrainingJobName"] for s in by_name), "Name, Ascending"
    assert len(by_name) == 6
    best_first = trainings(sm, name, SortBy="FinalObjectiveMetricValue", SortOrder="Descending")
    values = [s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in best_first]
    assert len(values) == 4 and values == sorted(values, reverse=True), "those without an objective are not listed"
    assert len(trainings(sm, name, StatusEquals="Failed")) == 2
    page = sm.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName=name, MaxResults=5)
    with pytest.raises(ClientError, match="pagination token"):
        sm.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name, NextToken=page["NextToken"], SortBy="CreationTime"
        )


def test_tuning_jobs_list_with_aws_filters_sorts_and_pages(sm, finished) -> None:
    names = sorted(done["HyperParameterTuningJobName"] for done in finished.values())
    listed = sm.list_hyper_parameter_tuning_jobs(NameContains="tune-", SortBy="Name", SortOrder="Ascending")
    summaries = [s for s in listed["HyperParameterTuningJobSummaries"] if s["HyperParameterTuningJobName"] in names]
    assert [s["HyperParameterTuningJobName"] for s in summaries] == names
    assert {s["Strategy"] for s in summaries} == {"Random", "Grid"}
    assert all(s["HyperParameterTuningJobStatus"] == "Completed" for s in summaries)
    first = sm.list_hyper_parameter_tuning_jobs(MaxResults=1, StatusEquals="Completed")
    second = sm.list_hyper_parameter_tuning_jobs(MaxResults=1, StatusEquals="Completed", NextToken=first["NextToken"])
    pages = [page["HyperParameterTuningJobSummaries"][0]["HyperParameterTuningJobName"] for page in (first, second)]
    assert pages[0] < pages[1], "Name, Ascending by default"
    assert not sm.list_hyper_parameter_tuning_jobs(StatusEquals="Stopping")["HyperParameterTuningJobSummaries"]


def test_a_bayesian_tuning_job_proposes_within_the_ranges_and_completes(sm, s3) -> None:
    ranges = {**numeric("Integer", "depth", "1", "50"), **GRID_KIND}
    done = wait(sm, create(sm, s3, config("Bayesian", ranges, 3, parallel=3, RandomSeed=1), "bayes"))
    assert done["HyperParameterTuningJobStatus"] == "Completed", done.get("FailureReason")
    assert done["ObjectiveStatusCounters"]["Succeeded"] == 3
    summaries = trainings(sm, done["HyperParameterTuningJobName"])
    assert all(1 <= int(s["TunedHyperParameters"]["depth"]) <= 50 for s in summaries)
    assert {s["TunedHyperParameters"]["kind"] for s in summaries} <= {'"a"', '"b"'}
    values = [s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in summaries]
    assert done["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == max(values)


def test_a_tuning_job_completes_early_once_its_target_objective_is_reached(sm, s3) -> None:
    criteria = {"TargetObjectiveMetricValue": 0.5}  # every score is at least 1
    tuning = config("Random", INTEGER, 6, parallel=1, TuningJobCompletionCriteria=criteria)
    done = wait(sm, create(sm, s3, tuning, "target"))
    assert done["HyperParameterTuningJobStatus"] == "Completed", done.get("FailureReason")
    assert done["HyperParameterTuningJobConfig"]["TuningJobCompletionCriteria"] == criteria
    assert len(trainings(sm, done["HyperParameterTuningJobName"])) == 1, "no training job after the target"


def test_a_tuning_job_whose_training_jobs_all_fail_fails_saying_so(sm, s3) -> None:
    bad = {"CategoricalParameterRanges": [{"Name": "kind", "Values": ['"bad"']}]}
    done = wait(sm, create(sm, s3, config("Grid", bad, None, parallel=1), "fails"))
    assert done["HyperParameterTuningJobStatus"] == "Failed"
    assert done["FailureReason"].startswith("No training job succeeded after 1 attempts.")
    assert done["TrainingJobStatusCounters"]["NonRetryableError"] == 1 and "BestTrainingJob" not in done


def test_a_stopped_tuning_job_stops_its_training_jobs(sm, s3) -> None:
    name = create(
        sm,
        s3,
        config("Random", INTEGER, 4),
        sleep=600,
    )
    deadline = time.monotonic() + 60
    while len(launched := trainings(sm, name)) < 2:
        assert time.monotonic() < deadline, "two training jobs launched"
        time.sleep(0.2)
    for summary in launched:
        wait_training(sm, summary["TrainingJobName"], until=("Training",))
    sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    status = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)["HyperParameterTuningJobStatus"]
    assert status in ("Stopping", "Stopped")
    done = wait(sm, name, timeout=60)
    assert done["HyperParameterTuningJobStatus"] == "Stopped" and "FailureReason" not in done
    assert done["TrainingJobStatusCounters"]["Stopped"] == 2
    stopped = trainings(sm, name)
    assert len(stopped) == 2, "nothing launched after the stop"
    for summary in stopped:
        assert sm.describe_training_job(TrainingJobName=summary["TrainingJobName"])["TrainingJobStatus"] == "Stopped"
    with pytest.raises(ClientError, match="the hyperparameter tuning job is in status Stopped"):
        sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)


REFUSED = {
    "grid-with-a-continuous-range": (
        config("Grid", numeric("Continuous", "lr", "0", "1"), None),
        "Only categorical parameters are supported when using the Grid search strategy",
    ),
    "grid-with-another-job-count": (config("Grid", GRID_KIND, 3), "must equal the total number of distinct"),
    "hyperband": (config("Hyperband", INTEGER, 4), "does not run the Hyperband strategy"),
    "early-stopping": (config("Random", INTEGER, 4, TrainingJobEarlyStoppingType="Auto"), "use 'Off'"),
    "min-above-max": (
        config("Random", numeric("Integer", "depth", "9", "1"), 4),
        "must be less than or equal to its MaxValue",
    ),
    "not-a-number": (
        config("Random", numeric("Integer", "depth", "one", "9"), 4),
        "is not a valid integer value",
    ),
    "log-from-zero": (
        config("Random", numeric("Continuous", "lr", "0", "1", "Logarithmic"), 4),
        "only values greater than 0",
    ),
    "reverse-log-integer": (
        config("Random", numeric("Integer", "depth", "1", "9", "ReverseLogarithmic"), 4),
        "supported only for continuous ranges",
    ),
    "too-few-combinations": (config("Random", GRID_KIND, 4), "You don't have enough combinations"),
    "no-ranges": (config("Random", {}, 4), "no hyperparameter ranges"),
    "objective-not-a-metric": (
        config("Random", INTEGER, 4, HyperParameterTuningJobObjective={"Type": "Minimize", "MetricName": "loss"}),
        "The objective metric for the hyperparameter tuning job, [loss], isn't valid",
    ),
}  # fmt: skip


@pytest.mark.parametrize("tuning, message", REFUSED.values(), ids=REFUSED.keys())
def test_what_aws_or_the_local_cloud_refuses_is_a_validation_error_naming_it(
    sm, s3, tuning, message, no_traceback_in_the_log
) -> None:
    with pytest.raises(ClientError) as error:
        create(sm, s3, tuning)
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert message in error.value.response["Error"]["Message"]


def test_warm_start_is_refused_and_an_unknown_tuning_job_is_not_found(sm, s3, no_traceback_in_the_log) -> None:
    with pytest.raises(ClientError, match="warm start") as error:
        sm.create_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=unique("warm"),
            HyperParameterTuningJobConfig=config("Random", INTEGER, 4),
            TrainingJobDefinition=definition(s3, "warm"),
            WarmStartConfig={
                "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "parent"}],
                "WarmStartType": "IdenticalDataAndAlgorithm",
            },
        )
    assert error.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError, match="can't find a tuning job called nothing-here") as missing:
        sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="nothing-here")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFound"


def test_a_running_tuning_job_ends_failed_after_a_crash_and_stopped_with_the_reason_after_down(
    tmp_path, monkeypatch
) -> None:
    """In a cloud whose training quota is one instance: a refused training job waits for the running one."""
    monkeypatch.setenv("MAZE_TRAINING_INSTANCE_QUOTA", "1")
    info, sm, s3 = cloud_of_its_own(tmp_path)
    state = info.state_dir
    try:
        queued = wait(sm, create(sm, s3, config("Random", INTEGER, 3, parallel=2)))
        assert queued["HyperParameterTuningJobStatus"] == "Completed", queued.get("FailureReason")
        summaries = trainings(sm, queued["HyperParameterTuningJobName"])
        described = [sm.describe_training_job(TrainingJobName=s["TrainingJobName"]) for s in summaries]
        assert len(described) == 3 and most_at_once(described) == 1, "the quota, not MaxParallelTrainingJobs"
        crashed = create(sm, s3, config("Random", INTEGER, 4), sleep=600)
        _wait_until_one_trains(sm, crashed)
        os.kill(info.pid, signal.SIGKILL)
        info, started = launcher.find_or_start(state, idle_seconds=None)
        assert started
        sm, s3 = info.client("sagemaker"), info.client("s3")
        failed = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=crashed)
        assert failed["HyperParameterTuningJobStatus"] == "Failed"
        assert failed["FailureReason"].startswith(
            "InternalServerError: the local cloud stopped while the tuning job ran"
        )
        assert {s["TrainingJobStatus"] for s in trainings(sm, crashed)} == {"Failed"}
        assert sm.list_tags(ResourceArn=failed["HyperParameterTuningJobArn"])["Tags"] == TAGS
        downed = create(sm, s3, config("Random", INTEGER, 4), sleep=600)
        _wait_until_one_trains(sm, downed)
        launcher.stop(state)
        info, _ = launcher.find_or_start(state, idle_seconds=None)
        sm = info.client("sagemaker")
        stopped = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=downed)
        assert stopped["HyperParameterTuningJobStatus"] == "Stopped"
        assert stopped["FailureReason"] == REASON
        assert {s["TrainingJobStatus"] for s in trainings(sm, downed)} == {"Stopped"}
    finally:
        launcher.stop(state)


def _wait_until_one_trains(sm: Any, name: str) -> None:
    deadline = time.monotonic() + 60
    while not (launched := trainings(sm, name)):
        assert time.monotonic() < deadline, f"{name} launched no training job"
        time.sleep(0.2)
    wait_training(sm, launched[0]["TrainingJobName"], until=("Training",))


SDK_PROGRAM = """
    import pathlib, tempfile
    import local_sagemaker
    local_sagemaker.connect()
    import sagemaker
    from sagemaker.sklearn import SKLearn
    from sagemaker.tuner import CategoricalParameter, HyperparameterTuner, IntegerParameter

    source = pathlib.Path(tempfile.mkdtemp())
    (source / "train.py").write_text(SCRIPT)
    estimator = SKLearn(
        entry_point="train.py", source_dir=str(source), framework_version="1.4-2", instance_type="ml.m5.large",
        role=sagemaker.get_execution_role(), hyperparameters={"sleep": 0},
    )
    tuner = HyperparameterTuner(
        estimator, "score", {"depth": IntegerParameter(1, 9), "kind": CategoricalParameter(["a", "b"])},
        metric_definitions=METRICS, strategy="Random", max_jobs=4, max_parallel_jobs=2,
        base_tuning_job_name="sdk-tune",
    )
    tuner.fit(wait=False)
    tuner.wait()
    best = tuner.best_estimator()
    print("BEST", tuner.best_training_job(), best.latest_training_job.name, best.hyperparameters()["kind"])
    frame = tuner.analytics().dataframe()
    print("FRAME", len(frame), sorted(frame.columns))
    print("TOP", frame.sort_values("FinalObjectiveValue").iloc[-1]["TrainingJobName"])
    attached = HyperparameterTuner.attach(tuner.latest_tuning_job.name)
    print("ATTACHED", attached.best_training_job(), type(attached.estimator).__name__)
"""


def test_the_sdks_tuner_fits_waits_reads_back_the_best_estimator_and_attaches(cloud) -> None:
    program = SDK_PROGRAM.replace("SCRIPT", repr(SCRIPT)).replace("METRICS", repr(METRICS))
    done = run_python(program, {**os.environ}, timeout=300)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    lines = after_connect(done.stdout)
    [best] = [line.split() for line in lines if line.startswith("BEST ")]
    assert best[1] == best[2], "best_estimator() attached the best training job"
    assert best[3] in ('"a"', '"b"'), "the tuned categorical value, as the attached estimator sends it again"
    assert "FRAME 4 " in "\n".join(lines)
    frame = next(line for line in lines if line.startswith("FRAME "))
    for column in ("FinalObjectiveValue", "TrainingJobName", "TrainingJobStatus", "kind", "depth"):
        assert f"'{column}'" in frame
    assert f"TOP {best[1]}" in lines
    assert f"ATTACHED {best[1]} SKLearn" in lines, "attach() in a new session finds the estimator and the best job"
