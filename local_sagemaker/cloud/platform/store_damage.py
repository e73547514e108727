"""The S3 store's known damage, in ``<state>/s3/damaged.json``: written by the cloud, read by ``status``.

A file rather than a question to the cloud: ``status`` names the damage found at the last start whether
or not the cloud still runs, without importing moto (``durable_s3`` does, and takes a second to).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

FILE_NAME = "damaged.json"


def write(root: Path, damaged: dict[tuple[str, str], str]) -> None:
    """Record ``damaged`` ((bucket, key) -> what is wrong) in one step; no damage, no file."""
    path = root / FILE_NAME
    if not damaged:
        path.unlink(missing_ok=True)
        return
    entries = [{"bucket": bucket, "key": key, "damage": damage} for (bucket, key), damage in damaged.items()]
    temporary = root / f".{FILE_NAME}.{os.getpid()}"
    temporary.write_text(json.dumps(entries, indent=1))
    temporary.replace(path)


def read(root: Path) -> list[tuple[str, str, str]]:
    """(bucket, key, damage) of each object the store knows damaged; none if it knows of none."""
    try:
        entries = json.loads((root / FILE_NAME).read_text())
    except (OSError, ValueError):
        return []
    return [(entry["bucket"], entry["key"], entry["damage"]) for entry in entries]
