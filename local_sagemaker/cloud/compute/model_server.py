"""One endpoint instance: the model and code from S3 in its own /opt/ml, gunicorn on a private Unix socket."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from local_sagemaker.cloud.compute.container_client import ContainerClient
from local_sagemaker.cloud.compute.framework_envs import FrameworkEnvError, FrameworkEnvs
from local_sagemaker.cloud.compute.framework_images import check_image
from local_sagemaker.cloud.compute.network_isolation import network_isolation
from local_sagemaker.cloud.compute.opt_ml_view import opt_ml_view
from local_sagemaker.cloud.compute.processes import output_lines, spawn_container, terminate_group
from local_sagemaker.cloud.compute.serving_requirements import InstallModuleError, install_requirements
from local_sagemaker.cloud.compute.utilization import UtilizationSampler
from local_sagemaker.cloud.platform.archives import ArchiveError, unpack
from local_sagemaker.cloud.platform.aws_clients import LocalAws
from local_sagemaker.cloud.platform.logs import LogStreamWriter
from local_sagemaker.cloud.platform.s3 import split_s3_uri
from local_sagemaker.common.pids import is_alive

MEMORY_SAMPLE_SECONDS = 0.05
# How long /ping may answer errors before the health check fails (AWS waits longer; the verdict is the same).
PING_ERROR_SECONDS = 10.0
PING_TIMEOUT_SECONDS = 120.0
# One access line per request in nginx's "combined" format: the real container's nginx writes it to stdout,
# hence to the instance's log stream (aws/sagemaker-containers etc/nginx.conf.template:
# ``access_log /dev/stdout combined;``). Here gunicorn writes the same line; /ping included. gunicorn
# listens on a Unix socket, as behind the container's nginx, so the caller's address is the one the
# cloud passes in X-Forwarded-For (nginx's $remote_addr), see serving/client.py.
ACCESS_LOG_FORMAT = '%({x-forwarded-for}i)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'


class InstanceFailed(Exception):
    """The instance could not start serving; the message is the endpoint's FailureReason."""


@dataclass(frozen=True)
class InstanceSpec:
    """What one instance serves and where it writes: everything but the cloud's shared services."""

    root: Path  # the instance's own folder (its /opt/ml)
    container: dict[str, Any]  # the model's container: Image, ModelDataUrl, Environment
    region: str
    log_group: str
    log_stream: str
    variant: str = "AllTraffic"
    memory_limit_mb: int | None = None  # a serverless endpoint's MemorySizeInMB, enforced
    # The platform's HTTP client as the access lines name it; None: unknown, so none is sent ("-").
    user_agent: str | None = None
    # (namespace, dimensions) of the instance's CPUUtilization and MemoryUtilization, if it publishes them.
    metrics: tuple[str, dict[str, str]] | None = None
    isolated: bool = False  # the model's EnableNetworkIsolation: the container gets no network


class ModelServer:
    """The scikit-learn serving container on one 'instance'; its log goes to the endpoint's log group."""

    def __init__(self, spec: InstanceSpec, aws: LocalAws, frameworks: FrameworkEnvs) -> None:
        self.spec, self.aws, self.frameworks = spec, aws, frameworks
        self.root, self.container, self.region = spec.root, spec.container, spec.region
        self.log_stream, self.memory_limit_mb = spec.log_stream, spec.memory_limit_mb
        self._memory_last = self._memory_peak = 0  # bytes the instance's processes hold: last sample, peak since read
        self._stopping = threading.Event()
        self.client: ContainerClient | None = None
        self._master: int | None = None  # gunicorn master's pid, once it serves
        self.process: subprocess.Popen | None = None
        self.recent: deque[str] = deque(maxlen=60)
        self._log: LogStreamWriter | None = None
        self._pump: threading.Thread | None = None
        self._sampler: UtilizationSampler | None = None

    @property
    def environment(self) -> dict[str, str]:
        return dict(self.container.get("Environment", {}))

    @property
    def _layer(self) -> Path:
        """The instance's own Python, layered on the framework environment, for its ``requirements.txt``."""
        return self.root.parent / f"{self.root.name}.python"

    def start(self) -> None:
        """Download model and code, install its requirements, start gunicorn, and wait until /ping answers 200."""
        self._log = LogStreamWriter(self.aws.client("logs", self.region), self.spec.log_group, self.log_stream)
        version = check_image(self.container.get("Image", ""))
        try:
            framework_python = self.frameworks.python(version, self._log.write)
        except FrameworkEnvError as error:
            raise InstanceFailed(
                f"InternalFailure: the local cloud could not prepare the scikit-learn {version} environment: {error}"
            ) from error
        self._prepare()
        isolation = network_isolation({"EnableNetworkIsolation": self.spec.isolated})
        if isolation.note:
            self._log.write(isolation.note)
        try:
            python = install_requirements(
                self.root / "code", framework_python, self._layer, self._log.write, self.spec.variant, isolation.prefix
            )
        except InstallModuleError as error:
            raise InstanceFailed(str(error)) from error
        env = self.environment
        workers = env.get("SAGEMAKER_MODEL_SERVER_WORKERS") or str(os.cpu_count() or 1)
        timeout = env.get("SAGEMAKER_MODEL_SERVER_TIMEOUT", "60")
        self.client = ContainerClient(self.spec.user_agent)
        command = [
            str(python), "-m", "gunicorn",
            "--timeout", timeout,
            "-k", "gevent",
            "-b", self.client.bind,
            "--worker-connections", str(1000 * int(workers)),
            "-w", workers,
            "--log-level", "info",
            "--access-logfile", "-",
            "--access-logformat", ACCESS_LOG_FORMAT,
            "local_sagemaker.container.serving_app:app",
        ]  # fmt: skip
        # The serving package alone on the path, before any PYTHONPATH of the model's own.
        path = os.pathsep.join(p for p in (str(self.frameworks.serving_path()), env.get("PYTHONPATH")) if p)
        # Its own /opt/ml where the machine allows (code that hard-codes /opt/ml/model works), like a training job.
        view = opt_ml_view()
        mounted = view.prefix(self.root) if view.available else ()
        # Supervised like a training job: whatever the model's code starts dies with the instance and the cloud.
        self.process = spawn_container(
            [*mounted, *isolation.prefix, *command],
            self.root,
            {**self.aws.environment(self.region), **env, "PYTHONPATH": path},
            supervised=True,
        )
        self._pump = threading.Thread(target=self._pump_log, name=f"log:{self.log_stream}", daemon=True)
        self._pump.start()
        if self.memory_limit_mb:
            threading.Thread(target=self._enforce_memory, name=f"memory:{self.log_stream}", daemon=True).start()
        if self.spec.metrics:
            cloudwatch = self.aws.client("cloudwatch", self.region)
            self._sampler = UtilizationSampler(cloudwatch, self.process.pid, *self.spec.metrics)
        self._wait_for_ping()

    def _prepare(self) -> None:
        s3 = self.aws.client("s3", self.region)
        for folder in ("model", "code"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        sources = {
            "model": self.container.get("ModelDataUrl"),
            "code": self.environment.get("SAGEMAKER_SUBMIT_DIRECTORY"),
        }
        for folder, uri in sources.items():
            if not uri:
                continue
            if not uri.startswith("s3://"):
                raise InstanceFailed(f"The local cloud reads model data and code from S3 only, not from '{uri}'.")
            bucket, key = split_s3_uri(uri)
            archive = self.root / f"{folder}.tar.gz"
            try:
                s3.download_file(bucket, key, str(archive))
            except Exception as error:  # botocore's 404 and 403 alike: the object cannot be had
                raise InstanceFailed(
                    f'Failed to download model data for container "container_1" from URL: "{uri}". Please ensure '
                    "that there is an object located at the URL and that the role passed to CreateModel has "
                    f"permissions to download the object. ({error})"
                ) from error
            try:
                unpack(archive, self.root / folder)
            except ArchiveError as error:  # not a tar archive, or a member that would land outside the folder
                what = "model data" if folder == "model" else "source code"
                raise InstanceFailed(
                    f'Failed to extract {what} archive for container "container_1" from URL "{uri}". Please ensure '
                    f"that the object located at the URL is a valid tar.gz archive. ({error})"
                ) from error

    def _wait_for_ping(self) -> None:
        deadline = time.monotonic() + PING_TIMEOUT_SECONDS
        failing_since: float | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise InstanceFailed(self._health_check_failure("the model server exited"))
            status = self.ping()
            if status == 200:
                self._master = self._gunicorn_master()
                return
            if status is not None:
                failing_since = failing_since or time.monotonic()
                if time.monotonic() - failing_since > PING_ERROR_SECONDS:
                    raise InstanceFailed(self._health_check_failure(f"/ping answered {status}"))
            time.sleep(0.1)
        raise InstanceFailed(self._health_check_failure("/ping never answered"))

    def _health_check_failure(self, what: str) -> str:
        cause = next((line for line in reversed(self.recent) if "Error" in line or "error" in line), "")
        detail = f" Local cloud: {what}; last error in the container log: {cause.strip()}" if cause else f" ({what})"
        return (
            "The primary container for production variant AllTraffic did not pass the ping health check. "
            "Please check CloudWatch logs for this endpoint." + detail
        )[:1024]

    def ping(self) -> int | None:
        """The status of GET /ping, or None when nothing answers."""
        return self.client.ping() if self.client else None

    @property
    def alive(self) -> bool:
        """Whether the instance still runs: gunicorn's master lives (its supervisor exits soon after it does).

        The master is asked directly: when it dies, the supervisor kills the workers at once (the requests
        they held see their connections reset) and only then exits itself, which can take a while.
        """
        if self.process is None or self.process.poll() is not None:
            return False
        return self._master is None or is_alive(self._master)

    def _gunicorn_master(self) -> int | None:
        """gunicorn's master: the supervisor's one child (unshare, for an isolated model, became it)."""
        try:
            return psutil.Process(self.process.pid).children()[0].pid
        except (psutil.Error, IndexError):
            return None

    def _pump_log(self) -> None:
        for line in output_lines(self.process.stdout):
            self.recent.append(line)
            self._log.write(line)

    def _enforce_memory(self) -> None:
        """A serverless endpoint's memory size is a hard limit: past it the largest worker is killed.

        That is what the container's out-of-memory kill does on AWS: the request it was serving
        fails, and gunicorn starts a fresh worker, so the endpoint recovers.
        """
        limit = self.memory_limit_mb * 1024 * 1024
        supervisor = psutil.Process(self.process.pid)
        while not self._stopping.wait(MEMORY_SAMPLE_SECONDS):
            try:
                master = supervisor.children()[0]
                workers = master.children()
                sizes = {w: w.memory_info().rss for w in workers}
                total = master.memory_info().rss + sum(sizes.values())
            except (psutil.Error, IndexError):  # gunicorn not started yet, or gone
                continue
            self._memory_last, self._memory_peak = total, max(self._memory_peak, total)
            if total > limit and sizes:
                # gunicorn logs the kill itself ("was sent SIGKILL! Perhaps out of memory?"), as on AWS.
                with contextlib.suppress(psutil.Error):
                    max(sizes, key=sizes.get).kill()

    def memory_utilization(self) -> float | None:
        """Percent of the memory limit held at most since the last call (capped at 100, as the kill enforces).

        None for an instance without a memory limit (real-time instances report no memory per request).
        """
        if not self.memory_limit_mb:
            return None
        peak, self._memory_peak = max(self._memory_peak, self._memory_last), 0
        return min(100.0, 100.0 * peak / (self.memory_limit_mb * 1024 * 1024))

    def stop(self) -> None:
        self._stopping.set()
        if self._sampler is not None:
            self._sampler.stop()
        if self.process is not None:
            terminate_group(self.process, grace_seconds=5.0)
            self._pump.join(timeout=5)
        if self._log is not None:
            self._log.close()
        if self.client is not None:
            self.client.close()
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self._layer, ignore_errors=True)  # the instance's disk goes with the instance


def stop_all(servers: list[ModelServer]) -> None:
    """Stop instances side by side: each waits for gunicorn's graceful shutdown."""
    threads = [threading.Thread(target=server.stop, daemon=True) for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
