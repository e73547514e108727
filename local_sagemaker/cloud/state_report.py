"""What a state directory holds, for ``python -m local_sagemaker status`` and ``reset``.

People ask two things of it: how much disk it takes (the framework environments dominate: several
hundred MB per scikit-learn version) and, while the cloud runs, what the account holds (S3 objects,
jobs, endpoints). The second is asked of the cloud through its own API, as of AWS.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from local_sagemaker.cloud.compute.framework_envs import built_versions, frameworks_dir
from local_sagemaker.cloud.platform import store_damage
from local_sagemaker.kernel import launcher

MB = 1024 * 1024


def disk_usage(path: Path) -> int:
    """Bytes under ``path``, each file once however many hard links it has (as ``du`` counts)."""
    paths = [path] if path.is_file() else (Path(root, name) for root, _, files in os.walk(path) for name in files)
    seen: set[tuple[int, int]] = set()
    total = 0
    for file in paths:
        try:
            stat = os.lstat(file)
        except OSError:  # removed while we walk
            continue
        if (stat.st_dev, stat.st_ino) not in seen:
            seen.add((stat.st_dev, stat.st_ino))
            total += stat.st_blocks * 512
    return total


def parts(state: Path) -> dict[str, int]:
    """Disk per part of the state directory: framework environments, job and instance folders, the rest."""
    frameworks = frameworks_dir(state)
    out = {"framework environments": disk_usage(frameworks) if frameworks.is_relative_to(state) else 0}
    out["S3 objects"] = disk_usage(state / "s3")
    # The control plane's records and the CloudWatch journal (SQLite, with their -wal and -shm files).
    out["records, logs and metrics"] = sum(disk_usage(path) for path in state.glob("*.sqlite*"))
    out["jobs and instances"] = disk_usage(state / "jobs") + disk_usage(state / "endpoints")
    out["total"] = disk_usage(state)
    return out


def _pages(client: object, operation: str, key: str, **arguments: str) -> Iterator[dict]:
    for page in client.get_paginator(operation).paginate(**arguments):
        yield from page.get(key, [])


def account_summary(info: launcher.CloudInfo) -> list[str]:
    """What the running cloud's account holds: S3 buckets, objects and bytes; jobs; endpoints."""
    s3, sm = info.client("s3"), info.client("sagemaker")
    buckets = s3.list_buckets()["Buckets"]
    objects = size = 0
    for bucket in buckets:
        for item in _pages(s3, "list_objects_v2", "Contents", Bucket=bucket["Name"]):
            objects, size = objects + 1, size + item["Size"]
    counts = {
        "training jobs": sum(1 for _ in _pages(sm, "list_training_jobs", "TrainingJobSummaries")),
        "tuning jobs": sum(
            1 for _ in _pages(sm, "list_hyper_parameter_tuning_jobs", "HyperParameterTuningJobSummaries")
        ),
        "processing jobs": sum(1 for _ in _pages(sm, "list_processing_jobs", "ProcessingJobSummaries")),
        "transform jobs": sum(1 for _ in _pages(sm, "list_transform_jobs", "TransformJobSummaries")),
        "models": sum(1 for _ in _pages(sm, "list_models", "Models")),
        "endpoints": sum(1 for _ in _pages(sm, "list_endpoints", "Endpoints")),
    }
    return [
        f"S3: {len(buckets)} bucket(s), {objects} object(s), {size / MB:.1f} MB",
        "SageMaker: " + ", ".join(f"{count} {what}" for what, count in counts.items()),
    ]


def report(state: Path, info: launcher.CloudInfo | None) -> list[str]:
    lines = [f"state directory: {state}"]
    lines += [f"  {what}: {size / MB:.0f} MB" for what, size in parts(state).items()]
    frameworks = frameworks_dir(state)
    where = "" if frameworks.is_relative_to(state) else f" in {frameworks} (MAZE_FRAMEWORKS_DIR, not counted above)"
    lines.append(f"  framework environments built{where}: {', '.join(built_versions(frameworks)) or 'none'}")
    if info is not None:
        lines += [f"  {line}" for line in account_summary(info)]
    damaged = store_damage.read(state / "s3")
    if damaged:
        lines.append(
            f"  S3 objects damaged on disk: {len(damaged)} (found when the cloud last started; each answers 405 "
            "MethodNotAllowed until it is overwritten or deleted)"
        )
        lines += [f"    s3://{bucket}/{key}: {damage}" for bucket, key, damage in damaged]
    return lines


def wipe(state: Path) -> None:
    """Remove everything the state directory holds; the directory itself stays (0700)."""
    for entry in state.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
