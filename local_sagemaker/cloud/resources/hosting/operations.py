"""SageMaker hosting's control plane: models, endpoint configs and endpoints; the fleet runs the instances."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from local_sagemaker.cloud.compute.framework_envs import FrameworkEnvs
from local_sagemaker.cloud.compute.framework_images import check_image
from local_sagemaker.cloud.platform.aws_clients import LocalAws
from local_sagemaker.cloud.platform.errors import ValidationError
from local_sagemaker.cloud.platform.listing import Listing
from local_sagemaker.cloud.platform.names import arn, check_name
from local_sagemaker.cloud.platform.quotas import Quotas
from local_sagemaker.cloud.platform.records import RecordStore, interrupted
from local_sagemaker.cloud.platform.resource import Action, PackageLookup, Registry
from local_sagemaker.cloud.platform.tags import TagStore
from local_sagemaker.cloud.resources.hosting.fleet import Fleet
from local_sagemaker.cloud.resources.hosting.record import EndpointConfigRecord, EndpointRecord, ModelRecord

MEMORY_SIZES = range(1024, 6145, 1024)
# Each sorted by CreationTime, newest first, unless asked otherwise (AWS's API reference).
MODELS = Listing("Models", ModelRecord.summary, ("Name", "CreationTime"), "Descending")
CONFIGS = Listing("EndpointConfigs", EndpointConfigRecord.summary, ("Name", "CreationTime"), "Descending")
ENDPOINTS = Listing("Endpoints", EndpointRecord.summary, ("Name", "CreationTime", "Status"), "Descending")


def _could_not_find(what: str, kind: str) -> Callable[[str, str], ValidationError]:
    """SageMaker's answer for a name it does not know: ``Could not find <what> "<arn>".``"""
    return lambda name, region: ValidationError(f'Could not find {what} "{arn(region, kind, name)}".')


def _already_exists(what: str, kind: str, name: str, region: str) -> Callable[[], ValidationError]:
    return lambda: ValidationError(f'Cannot create already existing {what} "{arn(region, kind, name)}".')


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


def _instances(config: dict[str, Any]) -> list[tuple[str, int]]:
    """The instances an endpoint config's variants ask for; a serverless variant has no instance type and counts
    against no instance quota."""
    return [
        (variant["InstanceType"], int(variant.get("InitialInstanceCount", 1)))
        for variant in config.get("ProductionVariants", [])
        if "ServerlessConfig" not in variant and variant.get("InstanceType")
    ]


class HostingService:
    """The records of models, endpoint configs and endpoints, kept in the store: read back at start, each change
    written before it is answered (an endpoint's status changes too, whichever thread makes them)."""

    def __init__(
        self,
        root: Path,
        aws: LocalAws,
        tags: TagStore,
        frameworks: FrameworkEnvs,
        store: RecordStore,
        quotas: Quotas,
        packages: PackageLookup,
    ) -> None:
        """``packages``: the Model Registry's container of a model package, for CreateModel naming one."""
        self._quotas, self._packages = quotas, packages
        self.models = Registry(store, tags, ModelRecord, _could_not_find("model", "model"))
        self.configs = Registry(
            store, tags, EndpointConfigRecord, _could_not_find("endpoint configuration", "endpoint-config")
        )
        self.endpoints = Registry(store, tags, EndpointRecord, _could_not_find("endpoint", "endpoint"))
        for endpoint in self.endpoints.all():
            self._restore(endpoint)
        self.fleet = Fleet(root, aws, frameworks, self.serving_model, self.endpoints.all)
        quotas.count_with("endpoint", self._instances_in_use)

    @staticmethod
    def _restore(endpoint: EndpointRecord) -> None:
        """An endpoint of an earlier run, whose instances went with that run's process.

        InService stays InService with no instance yet: the fleet's watcher starts the missing ones in the
        background and invocations meanwhile get the retryable ServiceUnavailable; a serverless endpoint is
        cold until its next request. An update that was under way rolls back to the previous config, as a
        failed update does; a creation that was under way fails.
        """
        if endpoint.status == "Updating":
            endpoint.set_status("InService", f"Update failed: {interrupted('the update ran')}")
        elif endpoint.status == "Creating":
            endpoint.set_status("Failed", interrupted("the endpoint was being created"))

    def actions(self) -> dict[str, Action]:
        return {
            "CreateModel": self.create_model,
            "DescribeModel": lambda request, region: self.models.get(request["ModelName"], region).describe(),
            "DeleteModel": lambda request, region: self._delete(self.models, request["ModelName"], region),
            "ListModels": lambda request, region: MODELS.answer(self.models.all(), request),
            "CreateEndpointConfig": self.create_endpoint_config,
            "DescribeEndpointConfig": lambda request, region: self.configs.get(
                request["EndpointConfigName"], region
            ).describe(),
            "DeleteEndpointConfig": lambda request, region: self._delete(
                self.configs, request["EndpointConfigName"], region
            ),
            "ListEndpointConfigs": lambda request, region: CONFIGS.answer(self.configs.all(), request),
            "CreateEndpoint": self.create_endpoint,
            "DescribeEndpoint": self.describe_endpoint,
            "UpdateEndpoint": self.update_endpoint,
            "DeleteEndpoint": self.delete_endpoint,
            "ListEndpoints": lambda request, region: ENDPOINTS.answer(self.endpoints.all(), request),
        }

    # models -------------------------------------------------------------------------------
    def create_model(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        name = check_name(request.get("ModelName", ""), "modelName")
        containers = [request["PrimaryContainer"]] if "PrimaryContainer" in request else request.get("Containers", [])
        if len(containers) != 1:
            raise ValidationError("The local cloud hosts models with exactly one container (PrimaryContainer).")
        container = containers[0]
        package_container = self._from_package(container, region) if "ModelPackageName" in container else None
        check_image((package_container or container).get("Image", ""))
        kept = {key: value for key, value in request.items() if key not in ("Tags", "Containers")}
        kept.update(PrimaryContainer=container, EnableNetworkIsolation=request.get("EnableNetworkIsolation", False))
        record = ModelRecord(request=kept, arn=arn(region, "model", name), package_container=package_container)
        self.models.add(record, request.get("Tags"), _already_exists("model", "model", name, region))
        return {"ModelArn": record.arn}

    def _from_package(self, container: dict[str, Any], region: str) -> dict[str, Any]:
        """What a model of a model package runs: the package's container (the registry refuses one that is unknown
        or not Approved), with the model's own Environment over the package's."""
        given = [key for key in ("Image", "ModelDataUrl", "ModelDataSource") if key in container]
        if given:
            raise ValidationError(
                f"The container names model package {container['ModelPackageName']}, whose inference specification "
                f"gives the image and the model data: leave out {', '.join(given)}."
            )
        package = self._packages(container["ModelPackageName"], container.get("InferenceSpecificationName"), region)
        environment = {**package.get("Environment", {}), **container.get("Environment", {})}
        return {**package, **({"Environment": environment} if environment else {})}

    def serving_model(self, name: str, region: str) -> dict[str, Any]:
        """DescribeModel with the container the model's instances run: what the fleet and batch read of a model."""
        return self.models.get(name, region).serving()

    @staticmethod
    def _delete(registry: Registry, name: str, region: str) -> dict[str, Any]:
        registry.remove(registry.get(name, region))
        return {}

    # endpoint configs ---------------------------------------------------------------------
    def create_endpoint_config(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        name = check_name(request.get("EndpointConfigName", ""), "endpointConfigName")
        variants = request.get("ProductionVariants", [])
        if len(variants) != 1:
            raise ValidationError("The local cloud hosts endpoint configs with exactly one production variant.")
        _validate_variant(variants[0])
        self.models.get(variants[0].get("ModelName", ""), region)  # Could not find model "..."
        kept = {key: value for key, value in request.items() if key != "Tags"}
        record = EndpointConfigRecord(request=kept, arn=arn(region, "endpoint-config", name))
        exists = _already_exists("endpoint configuration", "endpoint-config", name, region)
        self.configs.add(record, request.get("Tags"), exists)
        return {"EndpointConfigArn": record.arn}

    # endpoints ----------------------------------------------------------------------------
    def create_endpoint(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        name = check_name(request.get("EndpointName", ""), "endpointName")
        config = self.configs.get(request["EndpointConfigName"], region).describe()
        endpoint = EndpointRecord(endpoint_name=name, arn=arn(region, "endpoint", name), config=config)
        with self._quotas.admitting("endpoint", _instances(config)):
            self.endpoints.add(endpoint, request.get("Tags"), _already_exists("endpoint", "endpoint", name, region))
        self.fleet.deploy(endpoint, config)
        return {"EndpointArn": endpoint.arn}

    def update_endpoint(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        endpoint = self.endpoints.get(request["EndpointName"], region)
        config = self.configs.get(request["EndpointConfigName"], region).describe()
        # The new config's instances come up beside the old ones (blue/green), so both count, as on AWS.
        with self._quotas.admitting("endpoint", _instances(config)):
            if not endpoint.transition("InService", "Updating"):
                raise ValidationError(f'Cannot update in-progress endpoint "{endpoint.arn}".')
        self.fleet.deploy(endpoint, config)
        return {"EndpointArn": endpoint.arn}

    def describe_endpoint(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        def image(model: str) -> str | None:
            found = self.models.find(model)
            return found.container.get("Image") if found else None

        return self.endpoint(request["EndpointName"], region).describe(image)

    def delete_endpoint(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        endpoint = self.endpoints.get(request["EndpointName"], region)
        # Gone from the store first: a status change under way (an instance that came up) writes before the
        # record goes, and none writes after.
        self.endpoints.remove(endpoint)
        endpoint.set_status("Deleting")
        self.fleet.retire(endpoint)
        return {}

    def endpoint(self, name: str, region: str) -> EndpointRecord:
        """The endpoint InvokeEndpoint routes to; ValidationException if there is none of that name."""
        return self.endpoints.get(name, region)

    def warm(self, endpoint: EndpointRecord) -> float | None:
        return self.fleet.warm(endpoint)

    def _instances_in_use(self) -> list[tuple[str, int]]:
        """Every endpoint but a Failed one holds its config's instances (Creating, Updating, InService...)."""
        return [
            pair
            for endpoint in self.endpoints.all()
            if endpoint.status != "Failed"
            for pair in _instances(endpoint.config)
        ]

    def busy(self) -> bool:
        return False  # an endpoint in service does not keep an idle cloud up (the kernels that use it do)

    def shutdown(self) -> None:
        self.fleet.shutdown()
