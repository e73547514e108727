"""What a training job reports to CloudWatch from its log: the metrics its MetricDefinitions scrape."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

NAMESPACE = "/aws/sagemaker/TrainingJobs"


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
