"""An instance's CPU and memory in CloudWatch, as SageMaker's agents publish them for jobs and endpoints.

SageMaker's units: CPU in percent of one core (so up to 100 x cores), memory in percent of the
instance's memory. Here the instance is this machine. Training jobs publish per host
(namespace ``/aws/sagemaker/TrainingJobs``, ``Host=<job>/algo-1``), real-time endpoints per
variant (``/aws/sagemaker/Endpoints``, ``EndpointName`` and ``VariantName``); serverless endpoints
publish no instance metrics.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import psutil

SAMPLE_SECONDS = 0.5
STOP_SECONDS = 5.0


class UtilizationSampler:
    """Samples a process tree twice a second and publishes CPUUtilization and MemoryUtilization."""

    def __init__(self, cloudwatch: Any, pid: int, namespace: str, dimensions: dict[str, str]) -> None:
        self.cloudwatch, self.namespace = cloudwatch, namespace
        self.dimensions = [{"Name": name, "Value": value} for name, value in dimensions.items()]
        self.root = psutil.Process(pid)
        self.total_memory = psutil.virtual_memory().total
        self._known: dict[int, psutil.Process] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sampler:{pid}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling; a ``put_metric_data`` in flight gets a few seconds, then the thread is left to end."""
        self._stop.set()
        self._thread.join(timeout=STOP_SECONDS)

    def _tree(self) -> list[psutil.Process]:
        try:
            if self.root.status() == psutil.STATUS_ZOMBIE:  # exited; its parent has not reaped it yet
                return []
            current = [self.root, *self.root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []
        # psutil measures CPU between two calls on the same Process object: keep them.
        self._known = {p.pid: self._known.get(p.pid, p) for p in current}
        return list(self._known.values())

    def _sample(self) -> tuple[float, float] | None:
        cpu = rss = 0.0
        tree = self._tree()
        if not tree:
            return None
        for process in tree:
            try:
                cpu += process.cpu_percent(None)
                rss += process.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return cpu, 100.0 * rss / self.total_memory

    def _run(self) -> None:
        self._sample()  # primes cpu_percent
        while not self._stop.wait(SAMPLE_SECONDS):
            sample = self._sample()
            if sample is None:
                return
            stamp, dimensions = datetime.now(UTC), self.dimensions
            data = [
                {"MetricName": name, "Dimensions": dimensions, "Value": value, "Unit": "Percent", "Timestamp": stamp}
                for name, value in zip(("CPUUtilization", "MemoryUtilization"), sample, strict=True)
            ]
            self.cloudwatch.put_metric_data(Namespace=self.namespace, MetricData=data)
