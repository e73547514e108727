"""Jobs stopped because the local cloud stops (``python -m local_sagemaker down``, SIGTERM): their end says so.

AWS never stops a job for that reason, so it has no wording for it; without one, a participant who finds a job
``Stopped`` after a restart cannot tell it from a StopTrainingJob of theirs. A job its user already asked to stop
(``Stopping``) keeps the plain ending.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Protocol

REASON = (
    "The local cloud stopped (python -m local_sagemaker down) while the job ran, so the job was stopped; "
    "start the cloud again and create the job anew."
)


class StoppableJob(Protocol):
    status: str
    stop_requested: threading.Event

    @property
    def name(self) -> str: ...


class ShutdownStops:
    """What a runner's ``shutdown`` stopped: ``stop`` them, then ``reason`` tells each job's end."""

    def __init__(self) -> None:
        self._names: set[str] = set()
        self._lock = threading.Lock()

    def stop(self, jobs: Iterable[StoppableJob]) -> None:
        for job in jobs:
            if job.status == "InProgress":
                with self._lock:
                    self._names.add(job.name)
            job.stop_requested.set()

    def reason(self, job: StoppableJob) -> str | None:
        """REASON for a job the cloud's stop stopped, None for one its user stopped."""
        with self._lock:
            return REASON if job.name in self._names else None
