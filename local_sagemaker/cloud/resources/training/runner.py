"""Runs a training job for real: channels from S3, the SageMaker training toolkit in a subprocess, artifacts to S3."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from local_sagemaker.cloud.compute.framework_envs import FrameworkEnvError, FrameworkEnvs, layered_python
from local_sagemaker.cloud.compute.framework_images import check_image
from local_sagemaker.cloud.compute.network_isolation import network_isolation
from local_sagemaker.cloud.compute.opt_ml_view import opt_ml_view
from local_sagemaker.cloud.compute.processes import output_lines, spawn_container, terminate_group
from local_sagemaker.cloud.compute.utilization import UtilizationSampler
from local_sagemaker.cloud.platform.aws_clients import LocalAws
from local_sagemaker.cloud.platform.logs import LogStreamWriter
from local_sagemaker.cloud.platform.shutdown_stops import ShutdownStops
from local_sagemaker.cloud.resources.training.metrics import NAMESPACE, MetricScraper, put_metric
from local_sagemaker.cloud.resources.training.record import TrainingJobRecord
from local_sagemaker.cloud.resources.training.workspace import HOST, ChannelError, Workspace

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
# The scikit-learn container's training entry point, without the container.
TOOLKIT = "from sagemaker_training import trainer; trainer.train()"
STOP_GRACE_SECONDS = 20.0
FAILURE_REASON_LIMIT = 1024
# How a job ends: TrainingJobStatus, SecondaryStatus, its message, FailureReason.
Ending = tuple[str, str, str, str | None]


class TrainingRunner:
    """One thread per job drives its record through SageMaker's statuses while the toolkit runs."""

    def __init__(self, jobs_dir: Path, aws: LocalAws, frameworks: FrameworkEnvs) -> None:
        self.jobs_dir, self.aws, self.frameworks = jobs_dir, aws, frameworks
        shutil.rmtree(jobs_dir, ignore_errors=True)  # folders of jobs a cloud killed by SIGKILL left behind
        self._threads: list[threading.Thread] = []
        self._shutdown_stops = ShutdownStops()

    def start(self, record: TrainingJobRecord) -> None:
        thread = threading.Thread(target=self._run, args=(record,), name=f"training:{record.name}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def shutdown(self, jobs: list[TrainingJobRecord]) -> None:
        """Stop what still runs (the local cloud is going down) and wait for the jobs to settle."""
        self._shutdown_stops.stop(jobs)
        for thread in self._threads:
            thread.join(timeout=STOP_GRACE_SECONDS + 10)

    def _run(self, record: TrainingJobRecord) -> None:
        try:
            self._execute(record)
        except Exception as error:  # a fault of the local cloud must not leave a job InProgress forever
            record.finish("Failed", "Failed", "Training job failed", f"InternalServerError: local cloud: {error!r}")
        finally:
            # The instance is gone once the job ends, as on AWS: artifacts are in S3, the log in CloudWatch.
            shutil.rmtree(self.jobs_dir / record.name, ignore_errors=True)
            shutil.rmtree(self._layer(record), ignore_errors=True)

    def _layer(self, record: TrainingJobRecord) -> Path:
        """The job's own Python, layered on the framework environment: what the job pip-installs stays here."""
        return self.jobs_dir / f"{record.name}.python"

    def _execute(self, record: TrainingJobRecord) -> None:
        region = record.region
        s3 = self.aws.client("s3", region)
        workspace = Workspace(self.jobs_dir / record.name)
        logs = self.aws.client("logs", region)
        log = LogStreamWriter(logs, LOG_GROUP, f"{record.name}/{HOST}-{int(time.time())}")
        try:
            ending = self._prepare_and_train(record, workspace, log, s3, region)
        finally:
            log.close()  # every line is in CloudWatch before the status says the job ended
        record.finish(*ending)

    def _prepare_and_train(
        self, record: TrainingJobRecord, workspace: Workspace, log: LogStreamWriter, s3: Any, region: str
    ) -> Ending:
        """Run the job up to its end; returns the end (status, secondary status, message, failure reason)."""
        request = record.request
        record.transition("Starting", "Preparing the instances for training")
        record.transition("Downloading", "Downloading input data")
        if record.stop_requested.is_set():
            return ("Stopped", "Stopped", self._stopped(record, "Training job stopped before it started"), None)
        started = time.monotonic()
        # On AWS the image is pulled while the data downloads; here its environment is built on first use.
        version = check_image(request["AlgorithmSpecification"]["TrainingImage"])
        try:
            python = layered_python(self.frameworks.python(version, log.write), self._layer(record))
        except FrameworkEnvError as error:
            reason = f"InternalServerError: the local cloud could not prepare the scikit-learn {version} environment"
            return ("Failed", "Failed", "Training job failed", f"{reason}: {error}"[:FAILURE_REASON_LIMIT])
        try:
            workspace.download_channels(s3, request.get("InputDataConfig", []), request.get("RoleArn", ""), region)
            workspace.unpack_code(s3, request.get("HyperParameters", {}))
        except ChannelError as error:
            return ("Failed", "Failed", "Training job failed", str(error))
        workspace.write_config(request)
        record.transition("Training", "Training image download completed. Training in progress.")
        outcome, exit_code = self._train(record, workspace, log, python, region, started)
        if outcome == "exited" and exit_code != 0:
            return ("Failed", "Failed", "Training job failed", _failure_reason(workspace, exit_code))
        record.transition("Uploading", "Uploading generated training model")
        artifacts = workspace.upload_artifacts(s3, request["OutputDataConfig"]["S3OutputPath"], record.name)
        with record.lock:
            record.model_artifacts = artifacts
        endings: dict[str, Ending] = {
            "exited": ("Completed", "Completed", "Training job completed", None),
            "stopped": ("Stopped", "Stopped", self._stopped(record, "Training job stopped"), None),
            "timeout": ("Stopped", "MaxRuntimeExceeded", "Job stopped because it exceeded MaxRuntimeInSeconds", None),
        }
        return endings[outcome]

    def _stopped(self, record: TrainingJobRecord, message: str) -> str:
        """The Stopped transition's StatusMessage: why the cloud's stop stopped the job, if it did. On AWS a
        Stopped job has no FailureReason; its last SecondaryStatusTransition's StatusMessage says how it ended."""
        return self._shutdown_stops.reason(record) or message

    def _train(
        self, record: TrainingJobRecord, workspace: Workspace, log: LogStreamWriter, python: Path, region: str,
        started: float,
    ) -> tuple[str, int]:  # fmt: skip
        """Run the toolkit; tail its output into CloudWatch Logs and metrics. Returns how it ended and its code."""
        cloudwatch = self.aws.client("cloudwatch", region)
        env = {
            "SM_STUDIO_LOCAL_MODE": "true",  # hosts need no DNS resolution on one machine
            "TRAINING_JOB_NAME": record.name,
            "TRAINING_JOB_ARN": record.arn,
            **self.aws.environment(region),
            **record.request.get("Environment", {}),
        }
        scraper = MetricScraper(record.request["AlgorithmSpecification"]["MetricDefinitions"])
        max_runtime = record.request.get("StoppingCondition", {}).get("MaxRuntimeInSeconds", 86400)
        # Supervised: the job ends when the toolkit does, and nothing it started outlives it (see processes.py).
        isolation = network_isolation(record.request)
        if isolation.note:
            log.write(isolation.note)
        # Its own /opt/ml where the machine allows (scripts that hard-code /opt/ml/model work); else the
        # relocated tree alone, which the toolkit's SM_* paths name.
        view = opt_ml_view()
        mounted = view.prefix(workspace.root) if view.available else ()
        process = spawn_container(
            [*mounted, *isolation.prefix, str(python), "-c", TOOLKIT], workspace.root, env, supervised=True
        )
        sampler: UtilizationSampler | None = None
        try:
            sampler = UtilizationSampler(cloudwatch, process.pid, NAMESPACE, {"Host": f"{record.name}/{HOST}"})
            reader = threading.Thread(target=_tail, args=(process, log, scraper, record, cloudwatch), daemon=True)
            reader.start()
            outcome = _wait(process, record, started + max_runtime)
            if outcome != "exited":
                reason = "MaxRuntimeInSeconds reached" if outcome == "timeout" else "requested"
                log.write(f"Stopping the training job ({reason})")
        finally:
            # Whatever went wrong above, the job's processes and its sampler do not outlive this call.
            if process.poll() is None:
                terminate_group(process, STOP_GRACE_SECONDS)
            if sampler is not None:
                sampler.stop()
        reader.join()
        return outcome, process.returncode


def _wait(process: subprocess.Popen, record: TrainingJobRecord, deadline: float) -> str:
    while True:
        try:
            process.wait(timeout=0.05)
            return "exited"
        except subprocess.TimeoutExpired:
            pass
        if record.stop_requested.is_set():
            return "stopped"
        if time.monotonic() > deadline:
            return "timeout"


def _tail(
    process: subprocess.Popen,
    log: LogStreamWriter,
    scraper: MetricScraper,
    record: TrainingJobRecord,
    cloudwatch: Any,
) -> None:
    for line in output_lines(process.stdout):
        log.write(line)
        for name, value in scraper.scan(line):
            record.record_metric(name, value)
            put_metric(cloudwatch, name, value, ("TrainingJobName", record.name))


def _failure_reason(workspace: Workspace, exit_code: int) -> str:
    """SageMaker's FailureReason: the toolkit's failure file, prefixed with the error class."""
    if workspace.failure_file.exists():
        message = workspace.failure_file.read_text().strip()
    else:
        message = f"The training process exited with code {exit_code}; see the job's log stream."
    return f"AlgorithmError: {message}"[:FAILURE_REASON_LIMIT]
