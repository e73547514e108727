"""Runs a training job for real: channels from S3, the SageMaker training toolkit in a subprocess, artifacts to S3."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from local_sagemaker.aws import LocalAws
from local_sagemaker.cloudwatch_logs import LogStreamWriter
from local_sagemaker.network_isolation import network_isolation
from local_sagemaker.processes import output_lines, spawn_container, terminate_group
from local_sagemaker.training.metrics import NAMESPACE, MetricScraper, put_metric
from local_sagemaker.training.record import TrainingJobRecord
from local_sagemaker.training.workspace import HOST, ChannelError, Workspace
from local_sagemaker.utilization import UtilizationSampler

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
# The scikit-learn container's training entry point, without the container.
TOOLKIT = "from sagemaker_training import trainer; trainer.train()"
STOP_GRACE_SECONDS = 20.0
FAILURE_REASON_LIMIT = 1024


class TrainingRunner:
    """One thread per job drives its record through SageMaker's statuses while the toolkit runs."""

    def __init__(self, jobs_dir: Path, aws: LocalAws) -> None:
        self.jobs_dir, self.aws = jobs_dir, aws
        self._threads: list[threading.Thread] = []

    def start(self, record: TrainingJobRecord) -> None:
        thread = threading.Thread(target=self._run, args=(record,), name=f"training:{record.name}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def shutdown(self, jobs: list[TrainingJobRecord]) -> None:
        """Stop what still runs (the local cloud is going down) and wait for the jobs to settle."""
        for job in jobs:
            job.stop_requested.set()
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

    def _execute(self, record: TrainingJobRecord) -> None:
        request = record.request
        region = record.arn.split(":")[3]
        s3 = self.aws.client("s3", region)
        workspace = Workspace(self.jobs_dir / record.name)
        record.transition("Starting", "Preparing the instances for training")
        record.transition("Downloading", "Downloading input data")
        if record.stop_requested.is_set():
            record.finish("Stopped", "Stopped", "Training job stopped before it started")
            return
        started = time.monotonic()
        try:
            workspace.download_channels(s3, request.get("InputDataConfig", []), request.get("RoleArn", ""), region)
        except ChannelError as error:
            record.finish("Failed", "Failed", "Training job failed", str(error))
            return
        workspace.write_config(request)
        record.transition("Training", "Training image download completed. Training in progress.")
        outcome, exit_code = self._train(record, workspace, region, started)
        if outcome == "exited" and exit_code != 0:
            record.finish("Failed", "Failed", "Training job failed", _failure_reason(workspace, exit_code))
            return
        record.transition("Uploading", "Uploading generated training model")
        artifacts = workspace.upload_artifacts(s3, request["OutputDataConfig"]["S3OutputPath"], record.name)
        with record.lock:
            record.model_artifacts = artifacts
        endings = {
            "exited": ("Completed", "Completed", "Training job completed"),
            "stopped": ("Stopped", "Stopped", "Training job stopped"),
            "timeout": (
                "Stopped",
                "MaxRuntimeExceeded",
                "Job stopped because it exceeded MaxRuntimeInSeconds",
            ),
        }
        record.finish(*endings[outcome])

    def _train(self, record: TrainingJobRecord, workspace: Workspace, region: str, started: float) -> tuple[str, int]:
        """Run the toolkit; tail its output into CloudWatch Logs and metrics. Returns how it ended and its code."""
        logs = self.aws.client("logs", region)
        cloudwatch = self.aws.client("cloudwatch", region)
        log = LogStreamWriter(logs, LOG_GROUP, f"{record.name}/{HOST}-{int(time.time())}")
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
        process = spawn_container(
            [*isolation.prefix, sys.executable, "-c", TOOLKIT], workspace.root, env, supervised=True
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
        log.close()
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
