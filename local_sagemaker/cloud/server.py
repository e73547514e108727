"""The local cloud process: the AWS front on loopback, the control plane behind it, and its lifetime."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from local_sagemaker.cloud.compute.container_client import remove_stale_folders
from local_sagemaker.cloud.compute.framework_envs import FrameworkEnvs, frameworks_dir
from local_sagemaker.cloud.gateway.front import Front, own_address_only
from local_sagemaker.cloud.gateway.signatures import Signatures, issue_key
from local_sagemaker.cloud.platform.aws_clients import LocalAws
from local_sagemaker.cloud.platform.cloudwatch_journal import CloudWatchJournal
from local_sagemaker.cloud.platform.durable_s3 import DurableS3, S3Store
from local_sagemaker.cloud.platform.errors import ValidationError
from local_sagemaker.cloud.platform.quotas import Quotas
from local_sagemaker.cloud.platform.records import FILE_NAME, RecordStore
from local_sagemaker.cloud.platform.resource import Service, TrainingJobs
from local_sagemaker.cloud.platform.search import Search
from local_sagemaker.cloud.platform.tags import TagStore
from local_sagemaker.cloud.resources.batch.operations import TransformService
from local_sagemaker.cloud.resources.batch.runner import TransformRunner
from local_sagemaker.cloud.resources.hosting.invocation_metrics import InvocationMetrics
from local_sagemaker.cloud.resources.hosting.operations import HostingService
from local_sagemaker.cloud.resources.hosting.runtime import Runtime, error_body
from local_sagemaker.cloud.resources.processing.operations import ProcessingService
from local_sagemaker.cloud.resources.processing.runner import ProcessingRunner
from local_sagemaker.cloud.resources.registry.operations import ModelRegistryService
from local_sagemaker.cloud.resources.training.operations import TrainingService
from local_sagemaker.cloud.resources.training.runner import TrainingRunner
from local_sagemaker.cloud.resources.tuning.operations import TuningService
from local_sagemaker.cloud.resources.tuning.runner import TuningRunner
from local_sagemaker.common.account import ROLE_NAME, SESSION_SECONDS
from local_sagemaker.common.pids import is_alive
from local_sagemaker.common.state_files import forget, write_private

TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


class LocalCloud:
    """Serves until stopped by a signal, by ``down``, or (when started by ``connect()``) once idle.

    Idle means: every notebook kernel that connected has exited and no job runs, for
    ``idle_seconds``. That keeps the cloud alive between the notebooks of a session, as the
    real service outlives a kernel, and still leaves nothing running once the work is done.
    """

    def __init__(self, state_dir: Path, idle_seconds: float | None = None, port: int = 0) -> None:
        self.state_dir = state_dir
        self.idle_seconds = idle_seconds
        self.port = port or _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.key = issue_key()
        self.aws = LocalAws(self.endpoint, self.key)
        remove_stale_folders()  # the sockets' folders of clouds killed by SIGKILL
        # What the cloud was given, read back here, before anything is served: S3's objects and CloudWatch's
        # logs and metrics into moto, then the control plane's records (endpoints restart from S3).
        moto = DomainDispatcherApplication(create_backend_app)
        self.s3_store = S3Store(state_dir / "s3")
        self.s3_store.restore()
        self.journal = CloudWatchJournal(state_dir / "cloudwatch.sqlite")
        self.journal.replay(moto)
        moto_apps = {
            "s3": DurableS3(moto, self.s3_store),
            **{service: self.journal.middleware(moto, service) for service in ("logs", "monitoring")},
        }
        self.records = RecordStore(state_dir / FILE_NAME)
        tags = TagStore(self.records)
        frameworks = FrameworkEnvs(frameworks_dir(state_dir))
        jobs = state_dir / "jobs"
        quotas = Quotas()  # MAZE_<USAGE>_INSTANCE_QUOTA, read once, as the account's quotas at start
        # The control plane: one service per SageMaker resource family, each with the runner or fleet that
        # executes it. Services meet only through each other's public operations (batch reads DescribeModel,
        # hosting reads the registry's model packages; tuning creates, describes and stops training jobs).
        registry = ModelRegistryService(tags, self.records)
        hosting = HostingService(
            state_dir / "endpoints", self.aws, tags, frameworks, self.records, quotas, registry.deployable_container
        )
        describe_model = hosting.serving_model
        training = TrainingService(TrainingRunner(jobs / "training", self.aws, frameworks), tags, self.records, quotas)
        training_jobs = TrainingJobs(training.create_for_tuning, training.describe, training.stop)
        self.services: list[Service] = [
            # Tuning first: at shutdown it stops its training jobs and waits for them before training stops the rest.
            TuningService(TuningRunner(training_jobs), tags, self.records),
            training,
            hosting,
            registry,
            ProcessingService(
                ProcessingRunner(jobs / "processing", self.aws, frameworks), tags, self.records, quotas
            ),
            TransformService(
                TransformRunner(jobs / "transform", self.aws, describe_model, frameworks), describe_model, tags,
                self.records, quotas,
            ),
        ]  # fmt: skip
        self.metrics = InvocationMetrics(lambda region: self.aws.client("cloudwatch", region))
        runtime = Runtime(hosting, self.metrics)
        actions = {name: action for service in self.services for name, action in service.actions().items()}
        actions.update(tags.actions())
        # Search reads each service's resources as their Describe operations answer them.
        searchable = {
            "TrainingJob": training.searchable,
            "ModelPackage": registry.searchable_packages,
            "ModelPackageGroup": registry.searchable_groups,
        }
        actions.update(Search(searchable, tags).actions())
        routes = {"health": self._health, "clients": self._add_client}
        front = Front(
            actions, routes, invoke=runtime.invoke, invoke_error=error_body, signatures=Signatures(self.key),
            moto=moto, moto_apps=moto_apps,
        )  # fmt: skip
        front = own_address_only(front, self.port)
        self.server = make_server("127.0.0.1", self.port, front, threaded=True, request_handler=MotoRequestHandler)
        self.clients = KernelClients()
        self._stopping = threading.Event()

    @property
    def connection_file(self) -> Path:
        return self.state_dir / "cloud.json"

    def serve(self) -> None:
        """Start, publish the connection file, and block until asked to stop; then stop every job."""
        thread = threading.Thread(target=self.server.serve_forever, name="front", daemon=True)
        thread.start()
        self._bootstrap()
        info = {
            "pid": os.getpid(),
            "endpoint": self.endpoint,
            "started": time.time(),
            "idle_seconds": self.idle_seconds,
            "credentials": self.key,
        }
        write_private(self.connection_file, json.dumps(info))
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self._stopping.set())
        try:
            self._watch()
        finally:
            forget(self.state_dir, os.getpid())  # unless a later cloud of this state dir wrote it
            for service in self.services:  # its jobs stopped and their ends written
                service.shutdown()
            self.metrics.close()
            self.server.shutdown()
            self.records.close()  # after the runners: the ends of the jobs they stopped are written
            self.journal.close()
            self.s3_store.close()

    def _bootstrap(self) -> None:
        """The account a participant finds on AWS: an execution role SageMaker may assume."""
        iam = self.aws.client("iam", "us-east-1")
        iam.create_role(
            RoleName=ROLE_NAME, Path="/service-role/", AssumeRolePolicyDocument=json.dumps(TRUST_POLICY),
            MaxSessionDuration=SESSION_SECONDS,
        )  # fmt: skip

    def _watch(self) -> None:
        idle_since: float | None = None
        while not self._stopping.wait(1.0):
            if self.idle_seconds is None or not self.clients.ever_connected:
                continue
            busy = bool(self.clients.live()) or any(service.busy() for service in self.services)
            idle_since = None if busy else (idle_since or time.monotonic())
            if idle_since is not None and time.monotonic() - idle_since >= self.idle_seconds:
                logging.getLogger(__name__).info("no client left for %ss: shutting down", self.idle_seconds)
                return

    def _health(self, _: dict[str, Any]) -> dict[str, Any]:
        return {
            "status": "ok",
            "pid": os.getpid(),
            "endpoint": self.endpoint,
            "clients": self.clients.live(),
        }

    def _add_client(self, body: dict[str, Any]) -> dict[str, Any]:
        self.clients.add(kernel_pid(body.get("pid")))
        return {"clients": self.clients.live()}


class KernelClients:
    """The notebook kernels that connected: request threads add to it while the idle watcher prunes it."""

    def __init__(self) -> None:
        self._pids: set[int] = set()
        self._lock = threading.Lock()
        self.ever_connected = False

    def add(self, pid: int) -> None:
        with self._lock:
            self._pids.add(pid)
            self.ever_connected = True

    def live(self) -> list[int]:
        """The kernels still running; those that exited are forgotten, those added meanwhile kept."""
        with self._lock:
            pids = set(self._pids)
        gone = {pid for pid in pids if not is_alive(pid)}
        with self._lock:
            self._pids -= gone
            return sorted(self._pids)


def kernel_pid(value: Any) -> int:
    """The pid a kernel registers: a live process of the cloud's own user, other than init and the cloud itself.

    Either of those would keep an auto-started cloud up forever; another user's process would let that user
    decide when this user's cloud stops.
    """
    if type(value) is int and value > 1 and value != os.getpid() and is_alive(value):
        try:
            if os.stat(f"/proc/{value}").st_uid == os.getuid():
                return value
        except OSError:
            pass
    raise ValidationError(f"pid {value!r} is not a live process of this user (other than init and the cloud).")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
