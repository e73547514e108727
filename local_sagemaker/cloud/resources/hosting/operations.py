"""SageMaker hosting's control plane: models, endpoint configs and endpoints, each executed for real."""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from local_sagemaker.cloud.compute.framework_envs import FrameworkEnvs
from local_sagemaker.cloud.compute.framework_images import check_image
from local_sagemaker.cloud.compute.model_server import InstanceFailed, ModelServer, stop_all
from local_sagemaker.cloud.platform.aws_clients import LocalAws
from local_sagemaker.cloud.platform.clock import now
from local_sagemaker.cloud.platform.errors import ValidationError
from local_sagemaker.cloud.platform.names import arn, check_name
from local_sagemaker.cloud.platform.records import RecordStore, interrupted
from local_sagemaker.cloud.platform.tags import TagStore
from local_sagemaker.cloud.resources.hosting.endpoint import Endpoint

MEMORY_SIZES = range(1024, 6145, 1024)
# How long a serverless endpoint keeps its instance without requests (AWS: minutes, not documented).
SERVERLESS_IDLE_SECONDS = float(os.environ.get("MAZE_SERVERLESS_IDLE_SECONDS", "120"))
WATCH_SECONDS = 1.0
log = logging.getLogger(__name__)

Action = Callable[[dict[str, Any], str], dict[str, Any]]
# The kinds of record in the store.
MODEL, CONFIG, ENDPOINT = "Model", "EndpointConfig", "Endpoint"


def _validate_variant(variant: dict[str, Any]) -> None:
    serverless = variant.get("ServerlessConfig")
    if serverless is None:
        if int(variant.get("InitialInstanceCount", 0)) < 1:
            raise ValidationError("InitialInstanceCount must be at least 1 for an instance-based variant.")
        return
    memory, concurrency = serverless.get("MemorySizeInMB"), serverless.get("MaxConcurrency")
    if memory not in MEMORY_SIZES:
        raise ValidationError(
            f"Value '{memory}' at 'serverlessConfig.memorySizeInMB' failed to satisfy constraint: "
            "Member must be one of 1024, 2048, 3072, 4096, 5120, 6144."
        )
    if not isinstance(concurrency, int) or not 1 <= concurrency <= 200:
        raise ValidationError(
            f"Value '{concurrency}' at 'serverlessConfig.maxConcurrency' failed to satisfy constraint: "
            "Member must have value between 1 and 200."
        )


class HostingService:
    """The records and the endpoints' lifecycles; each endpoint comes up in its own thread.

    Models, endpoint configs and endpoints live in ``store``: read back at start, each change written before
    it is answered (an endpoint's status changes too, whichever thread makes them).
    """

    def __init__(
        self, root: Path, aws: LocalAws, tags: TagStore, frameworks: FrameworkEnvs, store: RecordStore
    ) -> None:
        self.root, self.aws, self.tags, self.frameworks, self.store = root, aws, tags, frameworks, store
        self.models: dict[str, dict[str, Any]] = {body["ModelName"]: body for body in store.load(MODEL)}
        self.configs: dict[str, dict[str, Any]] = {body["EndpointConfigName"]: body for body in store.load(CONFIG)}
        self.endpoints: dict[str, Endpoint] = {}
        shutil.rmtree(root, ignore_errors=True)  # an earlier run's instance folders: their processes died with it
        for state in store.load(ENDPOINT):
            self._restore(Endpoint(**state, on_change=partial(store.put, ENDPOINT, state["name"])))
        self._lock = threading.Lock()
        self._closing = threading.Event()
        threading.Thread(target=self._watch, name="endpoint-watcher", daemon=True).start()

    def _restore(self, endpoint: Endpoint) -> None:
        """An endpoint of an earlier run, whose instances went with that run's process.

        InService stays InService with no instance yet: the watcher starts the missing ones in the background
        (``_replace_dead``) and invocations meanwhile get the retryable ServiceUnavailable; a serverless endpoint
        is cold until its next request. An update that was under way rolls back to the previous config, as a
        failed update does; a creation that was under way fails.
        """
        if endpoint.status == "Updating":
            endpoint.set_status("InService", f"Update failed: {interrupted('the update ran')}")
        elif endpoint.status == "Creating":
            endpoint.set_status("Failed", interrupted("the endpoint was being created"))
        self.endpoints[endpoint.name] = endpoint

    def actions(self) -> dict[str, Action]:
        return {
            "CreateModel": self.create_model,
            "DescribeModel": self.describe_model,
            "DeleteModel": self.delete_model,
            "ListModels": lambda request, region: self._list(self.models, "Models", "ModelName", "ModelArn"),
            "CreateEndpointConfig": self.create_endpoint_config,
            "DescribeEndpointConfig": self.describe_endpoint_config,
            "DeleteEndpointConfig": self.delete_endpoint_config,
            "ListEndpointConfigs": lambda request, region: self._list(
                self.configs, "EndpointConfigs", "EndpointConfigName", "EndpointConfigArn"
            ),
            "CreateEndpoint": self.create_endpoint,
            "DescribeEndpoint": self.describe_endpoint,
            "UpdateEndpoint": self.update_endpoint,
            "DeleteEndpoint": self.delete_endpoint,
            "ListEndpoints": self.list_endpoints,
        }

    # models -------------------------------------------------------------------------------
    def create_model(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        name = check_name(request.get("ModelName", ""), "modelName")
        containers = [request["PrimaryContainer"]] if "PrimaryContainer" in request else request.get("Containers", [])
        if len(containers) != 1:
            raise ValidationError("The local cloud hosts models with exactly one container (PrimaryContainer).")
        check_image(containers[0].get("Image", ""))
        with self._lock:
            if name in self.models:
                raise ValidationError(f'Cannot create already existing model "{arn(region, "model", name)}".')
            record = {
                **request,
                "PrimaryContainer": containers[0],
                "ModelArn": arn(region, "model", name),
                "CreationTime": now(),
                "EnableNetworkIsolation": request.get("EnableNetworkIsolation", False),
            }
            record.pop("Tags", None)
            record.pop("Containers", None)
            self.models[name] = record
            self.store.put(MODEL, name, record)
        self.tags.register(record["ModelArn"], request.get("Tags"))
        return {"ModelArn": record["ModelArn"]}

    def describe_model(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        return self._get(self.models, request.get("ModelName", ""), "model", region)

    def delete_model(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        self._get(self.models, request.get("ModelName", ""), "model", region)
        with self._lock:
            del self.models[request["ModelName"]]
            self.store.delete(MODEL, request["ModelName"])
        return {}

    # endpoint configs ---------------------------------------------------------------------
    def create_endpoint_config(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        name = check_name(request.get("EndpointConfigName", ""), "endpointConfigName")
        variants = request.get("ProductionVariants", [])
        if len(variants) != 1:
            raise ValidationError("The local cloud hosts endpoint configs with exactly one production variant.")
        _validate_variant(variants[0])
        with self._lock:
            if variants[0].get("ModelName") not in self.models:
                raise ValidationError(
                    f'Could not find model "{arn(region, "model", variants[0].get("ModelName", ""))}".'
                )
            if name in self.configs:
                raise ValidationError(
                    f'Cannot create already existing endpoint configuration "{arn(region, "endpoint-config", name)}".'
                )
            record = {**request, "EndpointConfigArn": arn(region, "endpoint-config", name), "CreationTime": now()}
            record.pop("Tags", None)
            self.configs[name] = record
            self.store.put(CONFIG, name, record)
        self.tags.register(record["EndpointConfigArn"], request.get("Tags"))
        return {"EndpointConfigArn": record["EndpointConfigArn"]}

    def describe_endpoint_config(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        return self._get(self.configs, request.get("EndpointConfigName", ""), "endpoint-config", region)

    def delete_endpoint_config(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        self._get(self.configs, request.get("EndpointConfigName", ""), "endpoint-config", region)
        with self._lock:
            del self.configs[request["EndpointConfigName"]]
            self.store.delete(CONFIG, request["EndpointConfigName"])
        return {}

    # endpoints ----------------------------------------------------------------------------
    def create_endpoint(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        name = check_name(request.get("EndpointName", ""), "endpointName")
        config = self.describe_endpoint_config({"EndpointConfigName": request.get("EndpointConfigName", "")}, region)
        with self._lock:
            if name in self.endpoints:
                raise ValidationError(f'Cannot create already existing endpoint "{arn(region, "endpoint", name)}".')
            on_change = partial(self.store.put, ENDPOINT, name)
            endpoint = Endpoint(name, arn(region, "endpoint", name), config, on_change=on_change)
            self.endpoints[name] = endpoint
            self.store.put(ENDPOINT, name, endpoint.state())
        self.tags.register(endpoint.arn, request.get("Tags"))
        threading.Thread(target=self._bring_up, args=(endpoint, config, region), daemon=True).start()
        return {"EndpointArn": endpoint.arn}

    def update_endpoint(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        endpoint = self.endpoint(request.get("EndpointName", ""), region)
        config = self.describe_endpoint_config({"EndpointConfigName": request.get("EndpointConfigName", "")}, region)
        if not endpoint.transition("InService", "Updating"):
            raise ValidationError(f'Cannot update in-progress endpoint "{endpoint.arn}".')
        threading.Thread(target=self._bring_up, args=(endpoint, config, region), daemon=True).start()
        return {"EndpointArn": endpoint.arn}

    def describe_endpoint(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        endpoint = self.endpoint(request.get("EndpointName", ""), region)
        images = {name: model["PrimaryContainer"].get("Image", "") for name, model in self.models.items()}
        return endpoint.describe(images)

    def delete_endpoint(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        endpoint = self.endpoint(request.get("EndpointName", ""), region)
        with self._lock:
            self.endpoints.pop(endpoint.name, None)
        # Detached first: a status change under way (an instance that came up) writes before the record goes,
        # and none writes after.
        endpoint.on_change = None
        endpoint.set_status("Deleting")
        self.store.delete(ENDPOINT, endpoint.name)
        stop_all(endpoint.instances)
        return {}

    def list_endpoints(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        with self._lock:
            endpoints = sorted(self.endpoints.values(), key=lambda e: e.creation_time, reverse=True)
        name_contains = request.get("NameContains")
        status = request.get("StatusEquals")
        return {
            "Endpoints": [
                e.summary()
                for e in endpoints
                if (name_contains is None or name_contains in e.name) and (status is None or status == e.status)
            ]
        }

    def endpoint(self, name: str, region: str) -> Endpoint:
        with self._lock:
            endpoint = self.endpoints.get(name)
        if endpoint is None:
            raise ValidationError(f'Could not find endpoint "{arn(region, "endpoint", name)}".')
        return endpoint

    def shutdown(self) -> None:
        self._closing.set()
        with self._lock:
            endpoints = list(self.endpoints.values())
            self.endpoints.clear()
        for endpoint in endpoints:
            stop_all(endpoint.instances)

    # the instances behind an endpoint -----------------------------------------------------
    def _bring_up(self, endpoint: Endpoint, config: dict[str, Any], region: str) -> None:
        """Start the config's instances; swap them in when all pass /ping, or fail (an update rolls back)."""
        variant = config["ProductionVariants"][0]
        model = self.models.get(variant["ModelName"])
        count = 1 if variant.get("ServerlessConfig") else int(variant.get("InitialInstanceCount", 1))
        servers = [self._new_server(endpoint.name, variant, model, region) for _ in range(count)]
        updating = endpoint.status == "Updating"
        try:
            if model is None:
                raise InstanceFailed(f'Could not find model "{arn(region, "model", variant["ModelName"])}".')
            with ThreadPoolExecutor(max_workers=count) as pool:
                list(pool.map(ModelServer.start, servers))
        except Exception as error:  # whatever went wrong, the endpoint must leave Creating or Updating
            reason = str(error) if isinstance(error, InstanceFailed) else f"InternalFailure: local cloud: {error!r}"
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
        if self.endpoints.get(endpoint.name) is not endpoint:  # deleted while it came up
            stop_all(live)

    def _new_server(
        self, endpoint: str, variant: dict[str, Any], model: dict[str, Any] | None, region: str
    ) -> ModelServer:
        instance = f"i-{uuid.uuid4().hex[:17]}"
        serverless = variant.get("ServerlessConfig")
        return ModelServer(
            root=self.root / endpoint / instance,
            container=(model or {}).get("PrimaryContainer", {}),
            aws=self.aws,
            region=region,
            log_group=f"/aws/sagemaker/Endpoints/{endpoint}",
            log_stream=f"{variant['VariantName']}/{instance}",
            frameworks=self.frameworks,
            variant=variant["VariantName"],
            memory_limit_mb=serverless["MemorySizeInMB"] if serverless else None,
            isolated=bool((model or {}).get("EnableNetworkIsolation")),
            # Real-time instances publish their CPU and memory per variant; serverless ones publish none.
            metrics=None
            if serverless
            else ("/aws/sagemaker/Endpoints", {"EndpointName": endpoint, "VariantName": variant["VariantName"]}),
        )

    def warm(self, endpoint: Endpoint, region: str) -> float | None:
        """A serverless endpoint scaled to zero starts an instance first: the cold start, in seconds."""
        with endpoint.scaling:
            if endpoint.instances:
                return None
            started = time.perf_counter()
            server = self._new_server(
                endpoint.name, endpoint.variant, self.models.get(endpoint.variant["ModelName"]), region
            )
            try:
                server.start()
            except Exception:  # whatever stopped it, its processes and folder go
                server.stop()
                raise
            with endpoint.lock:
                endpoint.instances = [server]
            return time.perf_counter() - started

    def _watch(self) -> None:
        """Once a second: replace instances that died, and scale idle serverless endpoints to zero."""
        while not self._closing.wait(WATCH_SECONDS):
            with self._lock:
                endpoints = [e for e in self.endpoints.values() if e.status == "InService"]
            for endpoint in endpoints:
                self._replace_dead(endpoint)
                if endpoint.serverless:
                    self._scale_to_zero(endpoint)

    def _replace_dead(self, endpoint: Endpoint) -> None:
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

    def _replace(self, endpoint: Endpoint, config: dict[str, Any]) -> None:
        region = endpoint.arn.split(":")[3]
        variant = config["ProductionVariants"][0]
        server = self._new_server(endpoint.name, variant, self.models.get(variant["ModelName"]), region)
        try:
            server.start()
        except Exception as error:  # the next watch starts another; the endpoint keeps serving on the others
            log.warning("endpoint %s: a replacement instance failed to start: %s", endpoint.name, error)
            server.stop()
            with endpoint.lock:
                endpoint.replacing -= 1
            return
        with endpoint.lock:
            endpoint.replacing -= 1
            current = endpoint.config is config and endpoint.status == "InService" and not self._closing.is_set()
            if current:
                endpoint.instances.append(server)
        if not current or self.endpoints.get(endpoint.name) is not endpoint:  # updated, deleted or shut down meanwhile
            server.stop()

    def _scale_to_zero(self, endpoint: Endpoint) -> None:
        """A serverless endpoint gives its instance back after SERVERLESS_IDLE_SECONDS without requests."""
        with endpoint.scaling:
            if endpoint.instances and endpoint.idle_for() >= SERVERLESS_IDLE_SECONDS:
                with endpoint.lock:
                    retired, endpoint.instances = endpoint.instances, []
                stop_all(retired)

    def _get(self, records: dict[str, dict[str, Any]], name: str, kind: str, region: str) -> dict[str, Any]:
        with self._lock:
            record = records.get(name)
        if record is None:
            label = {"model": "model", "endpoint-config": "endpoint configuration"}[kind]
            raise ValidationError(f'Could not find {label} "{arn(region, kind, name)}".')
        return dict(record)

    def _list(self, records: dict[str, dict[str, Any]], key: str, name_key: str, arn_key: str) -> dict[str, Any]:
        with self._lock:
            items = sorted(records.values(), key=lambda r: r["CreationTime"], reverse=True)
        return {key: [{name_key: r[name_key], arn_key: r[arn_key], "CreationTime": r["CreationTime"]} for r in items]}
