"""Runs a processing job for real: inputs from S3, each instance's command with its own /opt/ml, outputs to S3."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

from local_sagemaker.cloud.compute.framework_envs import FrameworkEnvError, FrameworkEnvs, layered_python
from local_sagemaker.cloud.compute.framework_images import check_image
from local_sagemaker.cloud.compute.network_isolation import network_isolation
from local_sagemaker.cloud.compute.opt_ml_view import opt_ml_view
from local_sagemaker.cloud.compute.processes import output_lines, spawn_container, terminate_group
from local_sagemaker.cloud.platform.aws_clients import LocalAws
from local_sagemaker.cloud.platform.logs import LogStreamWriter
from local_sagemaker.cloud.platform.shutdown_stops import ShutdownStops
from local_sagemaker.cloud.resources.processing.instance import MESSAGE_READ, InputError, Instance
from local_sagemaker.cloud.resources.processing.record import ProcessingJobRecord

LOG_GROUP = "/aws/sagemaker/ProcessingJobs"
STOP_GRACE_SECONDS = 20.0
REASON_LIMIT = 1024
# What SageMaker says of a container that exited non-zero; the details are in the log and ExitMessage.
ALGORITHM_ERROR = "AlgorithmError: See job logs for more information"
# How a job ends: ProcessingJobStatus, FailureReason.
Ending = tuple[str, str | None]


class ProcessingRunner:
    """One thread per job: prepares its instances, runs them side by side, and drives the record to its end."""

    def __init__(self, jobs_dir: Path, aws: LocalAws, frameworks: FrameworkEnvs) -> None:
        self.jobs_dir, self.aws, self.frameworks = jobs_dir, aws, frameworks
        shutil.rmtree(jobs_dir, ignore_errors=True)  # folders of jobs a cloud killed by SIGKILL left behind
        self._threads: list[threading.Thread] = []
        self._shutdown_stops = ShutdownStops()

    def start(self, record: ProcessingJobRecord) -> None:
        thread = threading.Thread(target=self._run, args=(record,), name=f"processing:{record.name}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def shutdown(self, jobs: list[ProcessingJobRecord]) -> None:
        """Stop what still runs (the local cloud is going down) and wait for the jobs to settle."""
        self._shutdown_stops.stop(jobs)
        for thread in self._threads:
            thread.join(timeout=STOP_GRACE_SECONDS + 10)

    def _run(self, record: ProcessingJobRecord) -> None:
        try:
            self._execute(record)
        except Exception as error:  # a fault of the local cloud must not leave a job InProgress forever
            record.finish("Failed", f"InternalServerError: local cloud: {error!r}"[:REASON_LIMIT])
        finally:
            # The instances are gone once the job ends, as on AWS: outputs are in S3, the logs in CloudWatch.
            shutil.rmtree(self.jobs_dir / record.name, ignore_errors=True)

    def _execute(self, record: ProcessingJobRecord) -> None:
        region = record.region
        count = record.request["ProcessingResources"]["ClusterConfig"].get("InstanceCount", 1)
        hosts = [f"algo-{index + 1}" for index in range(count)]
        logs = self.aws.client("logs", region)
        epoch = int(time.time())
        writers = [LogStreamWriter(logs, LOG_GROUP, f"{record.name}/{host}-{epoch}") for host in hosts]
        instances = [Instance(self.jobs_dir / record.name / host, host) for host in hosts]
        try:
            status, reason = self._prepare_and_process(record, instances, writers, region)
        finally:
            for writer in writers:
                writer.close()  # every line is in CloudWatch before the status says the job ended
        message, undecodable = _exit_message(instances)
        if undecodable:
            status, reason = "Failed", "ClientError: /opt/ml/output/message is not UTF-8 encoded text."
        record.finish(status, reason, message)

    def _prepare_and_process(
        self, record: ProcessingJobRecord, instances: list[Instance], writers: list[LogStreamWriter], region: str
    ) -> Ending:
        request = record.request
        view = opt_ml_view()
        if not view.available:
            return ("Failed", _no_view(view.why))
        if record.stop_requested.is_set():
            return ("Stopped", self._shutdown_stops.reason(record))

        def progress(line: str) -> None:
            for writer in writers:
                writer.write(line)

        version = check_image(request["AppSpecification"]["ImageUri"])
        try:
            framework_python = self.frameworks.python(version, progress)
        except FrameworkEnvError as error:
            reason = f"InternalServerError: the local cloud could not prepare the scikit-learn {version} environment"
            return ("Failed", f"{reason}: {error}"[:REASON_LIMIT])
        s3 = self.aws.client("s3", region)
        job = {key: value for key, value in request.items() if key != "Tags"} | {"ProcessingJobArn": record.arn}
        hosts = [instance.host for instance in instances]
        outputs = request.get("ProcessingOutputConfig", {}).get("Outputs", [])
        try:
            for index, instance in enumerate(instances):
                instance.download_inputs(s3, request.get("ProcessingInputs", []), index, len(instances), region)
                instance.make_output_folders(outputs)
                instance.write_config(job, hosts)
        except InputError as error:
            return ("Failed", str(error)[:REASON_LIMIT])
        record.started()
        outcome = self._process(record, instances, writers, framework_python, region)
        if outcome == "exited":
            try:
                for instance in instances:
                    instance.upload_outputs(s3, outputs)
            except OSError as error:
                return ("Failed", f"ClientError: an output could not be uploaded: {error}"[:REASON_LIMIT])
            return ("Completed", None)
        if outcome == "failed":
            return ("Failed", ALGORITHM_ERROR)
        # FailureReason is the only member of DescribeProcessingJob that says why a job ended (ExitMessage is
        # the container's): a job the cloud's stop stopped carries it, one its user stopped none.
        return ("Stopped", self._shutdown_stops.reason(record))

    def _process(
        self, record: ProcessingJobRecord, instances: list[Instance], writers: list[LogStreamWriter],
        framework_python: Path, region: str,
    ) -> str:  # fmt: skip
        """Run every instance's command; returns "exited" (all 0), "failed", "stopped" or "timeout"."""
        spec = record.request["AppSpecification"]
        command = [*spec["ContainerEntrypoint"], *spec.get("ContainerArguments", [])]
        isolation = network_isolation(record.request.get("NetworkConfig", {}))
        view = opt_ml_view()
        processes: list[subprocess.Popen] = []
        readers: list[threading.Thread] = []
        try:
            for instance, writer in zip(instances, writers, strict=True):
                if isolation.note:
                    writer.write(isolation.note)
                python = layered_python(framework_python, instance.python_layer)
                env = {
                    **self.aws.environment(region),
                    **record.request.get("Environment", {}),
                    "PATH": f"{instance.install_commands(python)}{os.pathsep}{os.environ.get('PATH', '')}",
                }
                args = [*view.prefix(instance.opt_ml), *isolation.prefix, *command]
                process = spawn_container(args, instance.root, env, supervised=True)
                processes.append(process)
                reader = threading.Thread(target=_tail, args=(process, writer), daemon=True)
                reader.start()
                readers.append(reader)
            max_runtime = record.request["StoppingCondition"]["MaxRuntimeInSeconds"]
            outcome = _wait(processes, record, time.monotonic() + max_runtime)
            if outcome in ("stopped", "timeout"):
                reason = "MaxRuntimeInSeconds reached" if outcome == "timeout" else "requested"
                for writer in writers:
                    writer.write(f"Stopping the processing job ({reason})")
        finally:
            # Whatever went wrong above, no instance outlives this call.
            for process in processes:
                if process.poll() is None:
                    terminate_group(process, STOP_GRACE_SECONDS)
        for reader in readers:
            reader.join()
        return outcome


def _wait(processes: list[subprocess.Popen], record: ProcessingJobRecord, deadline: float) -> str:
    """Until every instance exited 0, one failed (its peers are stopped then), a stop, or the deadline."""
    while True:
        codes = [process.poll() for process in processes]
        if any(code not in (None, 0) for code in codes):
            return "failed"
        if all(code == 0 for code in codes):
            return "exited"
        if record.stop_requested.is_set():
            return "stopped"
        if time.monotonic() > deadline:
            return "timeout"
        time.sleep(0.05)


def _tail(process: subprocess.Popen, writer: LogStreamWriter) -> None:
    for line in output_lines(process.stdout):
        writer.write(line)


def _exit_message(instances: list[Instance]) -> tuple[str | None, bool]:
    """ExitMessage: the instances' /opt/ml/output/message concatenated, cut to 1 KB; and whether one is not UTF-8."""
    raw = [instance.exit_message() for instance in instances]
    try:
        # A part cut at MESSAGE_READ may end inside a character: only an error before its last 3 bytes counts.
        texts = [part.decode("utf-8") if len(part) < MESSAGE_READ else _whole(part) for part in raw]
    except UnicodeDecodeError:
        return None, True
    message = "".join(texts)[:REASON_LIMIT]
    return (message or None), False


def _whole(part: bytes) -> str:
    """``part`` decoded, dropping a character its cut left incomplete; UnicodeDecodeError if anything else fails."""
    for cut in range(4):
        try:
            return part[: len(part) - cut].decode("utf-8")
        except UnicodeDecodeError:
            if cut == 3:
                raise
    raise AssertionError("unreachable")


def _no_view(why: str) -> str:
    return (
        "ClientError: the local cloud cannot give this job's instances their own /opt/ml on this machine "
        f"({why}); processing scripts use the literal paths /opt/ml/processing/..., which nothing can rewrite. "
        "Run the local cloud where unprivileged user namespaces are allowed (or as root), or run on AWS "
        "(MAZE_TARGET=aws)."
    )[:REASON_LIMIT]
