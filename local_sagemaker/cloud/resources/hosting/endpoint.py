"""An endpoint: its record as DescribeEndpoint shows it, and the instances that serve it."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from local_sagemaker.cloud.compute.model_server import ModelServer
from local_sagemaker.cloud.platform.clock import now

# What the store keeps of an endpoint (``state()``); its instances and counters live as long as the process.
PERSISTED = ("name", "arn", "config", "status", "failure_reason", "creation_time", "last_modified_time")


@dataclass
class Endpoint:
    """Each status change calls ``on_change(state())`` under the lock, in the order they happen."""

    name: str
    arn: str
    config: dict[str, Any]
    status: str = "Creating"
    failure_reason: str | None = None
    creation_time: datetime = field(default_factory=now)
    last_modified_time: datetime = field(default_factory=now)
    instances: list[ModelServer] = field(default_factory=list)
    in_flight: int = 0
    replacing: int = 0  # instances starting in place of dead ones
    last_used: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    scaling: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _turn: itertools.count = field(default_factory=itertools.count, repr=False)
    on_change: Callable[[dict[str, Any]], None] | None = field(default=None, repr=False, compare=False)

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
            self._changed()
            return True

    def set_status(self, status: str, failure_reason: str | None = None) -> None:
        with self.lock:
            self.status, self.failure_reason, self.last_modified_time = status, failure_reason, now()
            self._changed()

    def state(self) -> dict[str, Any]:
        """What the store keeps (the caller holds ``lock``, or the endpoint is not shared yet)."""
        return {name: getattr(self, name) for name in PERSISTED}

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self.state())

    def describe(self, images: dict[str, str]) -> dict[str, Any]:
        with self.lock:
            variant: dict[str, Any] = {
                "VariantName": self.variant["VariantName"],
                "DeployedImages": [{"SpecifiedImage": images.get(self.variant["ModelName"], "")}],
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
