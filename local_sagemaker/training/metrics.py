"""What a training job reports to CloudWatch: metrics scraped from its log, and its instance's CPU and memory."""

from __future__ import annotations

import math
import re
import threading
from datetime import UTC, datetime
from typing import Any

import psutil

NAMESPACE = "/aws/sagemaker/TrainingJobs"
SAMPLE_SECONDS = 0.5


class MetricScraper:
    """Applies every metric definition to every log line, as SageMaker does.

    The first capture group must be a number; anything else on a matching line is dropped
    silently, and a regex that never matches simply produces no metric.
    """

    def __init__(self, definitions: list[dict[str, str]]) -> None:
        self.definitions = [(d["Name"], re.compile(d["Regex"])) for d in definitions]

    def scan(self, line: str) -> list[tuple[str, float]]:
        found = []
        for name, regex in self.definitions:
            match = regex.search(line)
            if not match or not match.groups():
                continue
            try:
                value = float(match.group(1))
            except (TypeError, ValueError):
                continue
            if math.isfinite(value):
                found.append((name, value))
        return found


def put_metric(cloudwatch: Any, name: str, value: float, dimension: tuple[str, str], unit: str = "None") -> None:
    cloudwatch.put_metric_data(
        Namespace=NAMESPACE,
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [{"Name": dimension[0], "Value": dimension[1]}],
                "Value": value,
                "Unit": unit,
                "Timestamp": datetime.now(UTC),
            }
        ],
    )


class UtilizationSampler:
    """Samples the job's process tree and publishes CPUUtilization and MemoryUtilization per host.

    SageMaker's units: CPU in percent of one core (so up to 100 x cores), memory in percent of
    the instance's memory. Here the instance is this machine.
    """

    def __init__(self, cloudwatch: Any, pid: int, host_dimension: str) -> None:
        self.cloudwatch, self.host = cloudwatch, host_dimension
        self.root = psutil.Process(pid)
        self.total_memory = psutil.virtual_memory().total
        self._known: dict[int, psutil.Process] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sampler:{host_dimension}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _tree(self) -> list[psutil.Process]:
        try:
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
            for name, value in zip(("CPUUtilization", "MemoryUtilization"), sample, strict=True):
                put_metric(self.cloudwatch, name, value, ("Host", self.host), unit="Percent")
