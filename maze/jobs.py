"""What the local cloud ran for a task: its training jobs and the metrics SageMaker recorded for them."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def training_jobs_since(sagemaker: Any, since: datetime) -> list[str]:
    """One line per training job created after ``since``: status and FinalMetricDataList's f1."""
    lines = []
    summaries = sagemaker.list_training_jobs(CreationTimeAfter=since, SortBy="CreationTime", MaxResults=100)
    for summary in summaries["TrainingJobSummaries"]:
        job = sagemaker.describe_training_job(TrainingJobName=summary["TrainingJobName"])
        metrics = {m["MetricName"]: m["Value"] for m in job.get("FinalMetricDataList", [])}
        figure = f"f1={metrics['f1']:.4f} (FinalMetricDataList)" if "f1" in metrics else "no metrics defined"
        lines.append(f"{job['TrainingJobName']}: {job['TrainingJobStatus']}, {figure}")
    return lines
