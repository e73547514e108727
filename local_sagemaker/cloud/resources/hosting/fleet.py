"""The instances behind the endpoints: brought up for a config, swapped in, replaced when they die, scaled to zero.

The control plane (``operations``) decides what should run; the fleet makes it run and keeps it running.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from local_sagemaker.cloud.compute.framework_envs import FrameworkEnvs
from local_sagemaker.cloud.compute.model_server import InstanceFailed, InstanceSpec, ModelServer, stop_all
from local_sagemaker.cloud.platform.aws_clients import LocalAws
from local_sagemaker.cloud.platform.errors import AwsError
from local_sagemaker.cloud.platform.resource import ModelLookup
from local_sagemaker.cloud.resources.hosting.record import EndpointRecord

# How long a serverless endpoint keeps its instance without requests (AWS: minutes, not documented).
SERVERLESS_IDLE_SECONDS = float(os.environ.get("MAZE_SERVERLESS_IDLE_SECONDS", "120"))
WATCH_SECONDS = 1.0
LOG_GROUP = "/aws/sagemaker/Endpoints"
METRICS_NAMESPACE = "/aws/sagemaker/Endpoints"  # instances' CPUUtilization and MemoryUtilization
log = logging.getLogger(__name__)


class Fleet:
    """Runs the instances of the endpoints ``endpoints()`` returns; one watcher thread keeps them healthy."""

    def __init__(
        self,
        root: Path,
        aws: LocalAws,
        frameworks: FrameworkEnvs,
        describe_model: ModelLookup,
        endpoints: Callable[[], list[EndpointRecord]],
    ) -> None:
        """``endpoints()``: the endpoints that exist now (one deleted is no longer among them)."""
        self.root, self.aws, self.frameworks = root, aws, frameworks
        self.describe_model, self.endpoints = describe_model, endpoints
        shutil.rmtree(root, ignore_errors=True)  # an earlier run's instance folders: their processes died with it
        self._closing = threading.Event()
        threading.Thread(target=self._watch, name="endpoint-watcher", daemon=True).start()

    def _exists(self, endpoint: EndpointRecord) -> bool:
        return any(e is endpoint for e in self.endpoints())

    def deploy(self, endpoint: EndpointRecord, config: dict[str, Any]) -> None:
        """Bring ``config`` up behind ``endpoint`` (Creating or Updating) in the background."""
        threading.Thread(target=self._bring_up, args=(endpoint, config), daemon=True).start()

    def _bring_up(self, endpoint: EndpointRecord, config: dict[str, Any]) -> None:
        """Start the config's instances; swap them in when all pass /ping, or fail (an update rolls back)."""
        variant = config["ProductionVariants"][0]
        count = 1 if variant.get("ServerlessConfig") else int(variant.get("InitialInstanceCount", 1))
        updating = endpoint.status == "Updating"
        servers: list[ModelServer] = []
        try:
            servers = [self._new_server(endpoint, variant) for _ in range(count)]
            with ThreadPoolExecutor(max_workers=count) as pool:
                list(pool.map(ModelServer.start, servers))
        except Exception as error:  # whatever went wrong, the endpoint must leave Creating or Updating
            known = isinstance(error, InstanceFailed | AwsError)
            reason = str(error) if known else f"InternalFailure: local cloud: {error!r}"
            stop_all(servers)  # each instance's folder goes with it
            if updating:
                endpoint.set_status("InService", f"Update failed: {reason}"[:1024])
            else:
                shutil.rmtree(self.root / endpoint.name, ignore_errors=True)
                endpoint.set_status("Failed", reason[:1024])
            return
        # A serverless endpoint keeps no compute once its container passed the health check: the first
        # invocation after a deployment is a cold start (ModelSetupTime), as on AWS.
        live = [] if variant.get("ServerlessConfig") else servers
        with endpoint.lock:
            retired, endpoint.instances = endpoint.instances, live
            endpoint.config = config
        # Traffic already goes to the new instances; an update ends when the old are gone.
        stop_all(retired + [server for server in servers if server not in live])
        endpoint.set_status("InService")
        if self._closing.is_set() or not self._exists(endpoint):  # deleted (or the cloud stopped) as it came up
            stop_all(live)

    def _new_server(self, endpoint: EndpointRecord, variant: dict[str, Any]) -> ModelServer:
        """An instance of ``variant``'s model; InstanceFailed naming the model if it was deleted."""
        try:
            model = self.describe_model(variant["ModelName"], endpoint.region)
        except AwsError as error:
            raise InstanceFailed(error.message) from error
        instance = f"i-{uuid.uuid4().hex[:17]}"
        serverless = variant.get("ServerlessConfig")
        dimensions = {"EndpointName": endpoint.name, "VariantName": variant["VariantName"]}
        spec = InstanceSpec(
            root=self.root / endpoint.name / instance,
            container=model["PrimaryContainer"],
            region=endpoint.region,
            log_group=f"{LOG_GROUP}/{endpoint.name}",
            log_stream=f"{variant['VariantName']}/{instance}",
            variant=variant["VariantName"],
            memory_limit_mb=serverless["MemorySizeInMB"] if serverless else None,
            isolated=bool(model.get("EnableNetworkIsolation")),
            # Real-time instances publish their CPU and memory per variant; serverless ones publish none.
            metrics=None if serverless else (METRICS_NAMESPACE, dimensions),
        )
        return ModelServer(spec, self.aws, self.frameworks)

    def warm(self, endpoint: EndpointRecord) -> float | None:
        """A serverless endpoint scaled to zero starts an instance first: the cold start, in seconds."""
        with endpoint.scaling:
            if endpoint.instances:
                return None
            started = time.perf_counter()
            server = self._new_server(endpoint, endpoint.variant)
            try:
                server.start()
            except Exception:  # whatever stopped it, its processes and folder go
                server.stop()
                raise
            with endpoint.lock:
                endpoint.instances = [server]
            return time.perf_counter() - started

    def retire(self, endpoint: EndpointRecord) -> None:
        """Stop an endpoint's instances (it is being deleted)."""
        stop_all(endpoint.instances)

    def shutdown(self) -> None:
        self._closing.set()
        for endpoint in self.endpoints():
            stop_all(endpoint.instances)

    def _watch(self) -> None:
        """Once a second: replace instances that died, and scale idle serverless endpoints to zero."""
        while not self._closing.wait(WATCH_SECONDS):
            for endpoint in [e for e in self.endpoints() if e.status == "InService"]:
                self._replace_dead(endpoint)
                if endpoint.serverless:
                    self._scale_to_zero(endpoint)

    def _replace_dead(self, endpoint: EndpointRecord) -> None:
        """SageMaker replaces an instance that fails its health checks; meanwhile the endpoint stays InService and
        DescribeEndpoint shows fewer current than desired instances. A serverless endpoint starts a fresh
        instance on its next request instead (a cold start)."""
        with endpoint.lock:
            dead = [server for server in endpoint.instances if not server.alive]
            endpoint.instances = [server for server in endpoint.instances if server not in dead]
            missing = 0
            if not endpoint.serverless:
                desired = int(endpoint.variant.get("InitialInstanceCount", 1))
                missing = desired - len(endpoint.instances) - endpoint.replacing
                endpoint.replacing += max(0, missing)
            config = endpoint.config
        if dead:
            log.warning("endpoint %s: %d instance(s) stopped answering; replacing them", endpoint.name, len(dead))
            stop_all(dead)
        for _ in range(missing):
            threading.Thread(target=self._replace, args=(endpoint, config), daemon=True).start()

    def _replace(self, endpoint: EndpointRecord, config: dict[str, Any]) -> None:
        server: ModelServer | None = None
        try:
            server = self._new_server(endpoint, config["ProductionVariants"][0])
            server.start()
        except Exception as error:  # the next watch starts another; the endpoint keeps serving on the others
            log.warning("endpoint %s: a replacement instance failed to start: %s", endpoint.name, error)
            if server is not None:
                server.stop()
            with endpoint.lock:
                endpoint.replacing -= 1
            return
        with endpoint.lock:
            endpoint.replacing -= 1
            current = endpoint.config is config and endpoint.status == "InService" and not self._closing.is_set()
            if current:
                endpoint.instances.append(server)
        if not current or not self._exists(endpoint):  # updated, deleted or shut down meanwhile
            server.stop()

    def _scale_to_zero(self, endpoint: EndpointRecord) -> None:
        """A serverless endpoint gives its instance back after SERVERLESS_IDLE_SECONDS without requests."""
        with endpoint.scaling:
            if endpoint.instances and endpoint.idle_for() >= SERVERLESS_IDLE_SECONDS:
                with endpoint.lock:
                    retired, endpoint.instances = endpoint.instances, []
                stop_all(retired)
