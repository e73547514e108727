"""Hosting's records: a model, an endpoint config (both as created), and an endpoint with the instances serving it."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from local_sagemaker.cloud.compute.model_server import ModelServer
from local_sagemaker.cloud.platform.clock import now
from local_sagemaker.cloud.platform.resource import Resource, transient


@dataclass(kw_only=True)
class ModelRecord(Resource):
    """A model as created: it never changes (SageMaker has no UpdateModel)."""

    KIND: ClassVar[str] = "Model"

    request: dict[str, Any]  # CreateModel's request, its one container as PrimaryContainer, without Tags
    # For a container naming a model package: the package's container as it was at CreateModel, with the model's
    # own Environment over the package's. What the model's instances run; DescribeModel shows the request.
    package_container: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return self.request["ModelName"]

    @property
    def container(self) -> dict[str, Any]:
        """The container the model's instances run."""
        return self.package_container or self.request["PrimaryContainer"]

    def describe(self) -> dict[str, Any]:
        return {**self.request, "ModelArn": self.arn, "CreationTime": self.creation_time}

    def serving(self) -> dict[str, Any]:
        """DescribeModel's answer with the container the instances run in place of a model package's name."""
        return {**self.describe(), "PrimaryContainer": self.container}

    def summary(self) -> dict[str, Any]:
        return {"ModelName": self.name, "ModelArn": self.arn, "CreationTime": self.creation_time}


@dataclass(kw_only=True)
class EndpointConfigRecord(Resource):
    """An endpoint config as created: it never changes."""

    KIND: ClassVar[str] = "EndpointConfig"

    request: dict[str, Any]  # CreateEndpointConfig's request without Tags

    @property
    def name(self) -> str:
        return self.request["EndpointConfigName"]

    def describe(self) -> dict[str, Any]:
        return {**self.request, "EndpointConfigArn": self.arn, "CreationTime": self.creation_time}

    def summary(self) -> dict[str, Any]:
        return {"EndpointConfigName": self.name, "EndpointConfigArn": self.arn, "CreationTime": self.creation_time}


@dataclass(kw_only=True)
class EndpointRecord(Resource):
    """An endpoint: its config and status are kept; its instances and counters live as long as the process."""

    KIND: ClassVar[str] = "Endpoint"

    endpoint_name: str
    config: dict[str, Any]  # DescribeEndpointConfig of the config it runs
    status: str = "Creating"
    failure_reason: str | None = None
    last_modified_time: datetime = field(default_factory=now)
    instances: list[ModelServer] = transient(default_factory=list)
    in_flight: int = transient(default=0)
    replacing: int = transient(default=0)  # instances starting in place of dead ones
    last_used: float = transient(default_factory=time.monotonic)
    scaling: threading.Lock = transient(default_factory=threading.Lock)
    _turn: itertools.count = transient(default_factory=itertools.count)

    @property
    def name(self) -> str:
        return self.endpoint_name

    @property
    def variant(self) -> dict[str, Any]:
        return self.config["ProductionVariants"][0]

    @property
    def serverless(self) -> dict[str, Any] | None:
        return self.variant.get("ServerlessConfig")

    def admit(self) -> int | None:
        """Count a request in; None when a serverless endpoint is at its MaxConcurrency (throttled)."""
        with self.lock:
            if self.serverless and self.in_flight >= self.serverless["MaxConcurrency"]:
                return None
            self.in_flight += 1
            return self.in_flight

    def release(self) -> None:
        with self.lock:
            self.in_flight -= 1
            self.last_used = time.monotonic()

    def idle_for(self) -> float:
        with self.lock:
            return 0.0 if self.in_flight else time.monotonic() - self.last_used

    def candidates(self) -> list[ModelServer]:
        """The instances in the order a request tries them: round robin, as the endpoint's load balancer spreads
        requests, then the others in case the first is down."""
        with self.lock:
            if not self.instances:
                return []
            first = next(self._turn) % len(self.instances)
            return self.instances[first:] + self.instances[:first]

    def transition(self, expected: str, status: str) -> bool:
        """Move from ``expected`` to ``status`` in one step under the lock; False if the endpoint is elsewhere."""
        with self.lock:
            if self.status != expected:
                return False
            self.status, self.failure_reason, self.last_modified_time = status, None, now()
            self.changed()
            return True

    def set_status(self, status: str, failure_reason: str | None = None) -> None:
        with self.lock:
            self.status, self.failure_reason, self.last_modified_time = status, failure_reason, now()
            self.changed()

    def describe(self, image: Callable[[str], str | None]) -> dict[str, Any]:
        """``image(model name)``: the image a model specifies (None once the model is deleted: none is shown)."""
        specified = image(self.variant["ModelName"])
        with self.lock:
            variant: dict[str, Any] = {
                "VariantName": self.variant["VariantName"],
                **({"DeployedImages": [{"SpecifiedImage": specified}]} if specified else {}),
                "CurrentWeight": float(self.variant.get("InitialVariantWeight", 1.0)),
                "DesiredWeight": float(self.variant.get("InitialVariantWeight", 1.0)),
            }
            if self.serverless:
                variant["CurrentServerlessConfig"] = variant["DesiredServerlessConfig"] = dict(self.serverless)
            else:
                variant["CurrentInstanceCount"] = len(self.instances) if self.status == "InService" else 0
                variant["DesiredInstanceCount"] = self.variant.get("InitialInstanceCount", 1)
            out = {
                "EndpointName": self.name,
                "EndpointArn": self.arn,
                "EndpointConfigName": self.config["EndpointConfigName"],
                "ProductionVariants": [variant],
                "EndpointStatus": self.status,
                "CreationTime": self.creation_time,
                "LastModifiedTime": self.last_modified_time,
            }
            if self.failure_reason:
                out["FailureReason"] = self.failure_reason
            return out

    def summary(self) -> dict[str, Any]:
        with self.lock:
            return {
                "EndpointName": self.name,
                "EndpointArn": self.arn,
                "CreationTime": self.creation_time,
                "LastModifiedTime": self.last_modified_time,
                "EndpointStatus": self.status,
            }
