"""The time every record is stamped with: UTC, as AWS's APIs answer."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)
