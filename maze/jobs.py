"""What the local cloud ran for a task: its training jobs and the metrics SageMaker recorded for them."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

PROCESSED = re.compile(r"^Processed \S+: (\d+) records")


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


def transform_jobs_since(sagemaker: Any, logs: Any, since: datetime) -> list[str]:
    """One line per transform job created after ``since``: status and the records each instance processed."""
    lines = []
    jobs = sagemaker.list_transform_jobs(CreationTimeAfter=since, MaxResults=100)["TransformJobSummaries"]
    for job in sorted(jobs, key=lambda j: j["CreationTime"]):
        name = job["TransformJobName"]
        group = "/aws/sagemaker/TransformJobs"
        counts = []
        for stream in logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{name}/")["logStreams"]:
            events = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])["events"]
            found = (PROCESSED.search(event["message"]) for event in events)
            counts.append(sum(int(match[1]) for match in found if match))
        per_instance = ", ".join(str(count) for count in counts)
        lines.append(f"{name}: {job['TransformJobStatus']}, records per instance: {per_instance}")
    return lines
