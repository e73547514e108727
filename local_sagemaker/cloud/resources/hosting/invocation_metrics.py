"""Endpoint invocation metrics in CloudWatch (namespace AWS/SageMaker), aggregated once a second.

Publishing each invocation on its own would put a CloudWatch call in every request's path; the
aggregate (sample count, sum, min, max per second) is what CloudWatch keeps anyway.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

NAMESPACE = "AWS/SageMaker"
FLUSH_SECONDS = 1.0
UNITS = {
    "ModelLatency": "Microseconds",
    "OverheadLatency": "Microseconds",
    "ModelSetupTime": "Microseconds",
    "MemoryUtilization": "Percent",
}


class InvocationMetrics:
    def __init__(self, cloudwatch_for: Any) -> None:
        self._cloudwatch_for = cloudwatch_for  # region -> client
        self._values: dict[tuple[str, str, str, str], list[float]] = defaultdict(list)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="invocation-metrics", daemon=True)
        self._thread.start()

    def record(self, region: str, endpoint: str, variant: str, name: str, value: float) -> None:
        with self._lock:
            self._values[(region, endpoint, variant, name)].append(value)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            self.flush()

    def flush(self) -> None:
        with self._lock:
            values, self._values = self._values, defaultdict(list)
        stamp = datetime.now(UTC)
        by_region: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for (region, endpoint, variant, name), samples in values.items():
            unit = UNITS.get(name, "None")
            by_region[region].append(
                {
                    "MetricName": name,
                    "Dimensions": [
                        {"Name": "EndpointName", "Value": endpoint},
                        {"Name": "VariantName", "Value": variant},
                    ],
                    "Timestamp": stamp,
                    "StatisticValues": {
                        "SampleCount": float(len(samples)),
                        "Sum": float(sum(samples)),
                        "Minimum": float(min(samples)),
                        "Maximum": float(max(samples)),
                    },
                    "Unit": unit,
                }
            )
        for region, data in by_region.items():
            client = self._cloudwatch_for(region)
            for start in range(0, len(data), 20):
                client.put_metric_data(Namespace=NAMESPACE, MetricData=data[start : start + 20])
