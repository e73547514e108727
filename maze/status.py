"""What the board says of one task: its state, in four words, and the evidence behind it."""

from __future__ import annotations

from dataclasses import dataclass

DONE = "done"
NOT_DONE = "not done"  # something of the task is there (a file, a job, an endpoint), the "done when" does not hold
NOT_STARTED = "not started"  # nothing of the task is there
NO_REPOSITORY = "no repository"  # a task read from the team's files, and the board was given none
STATES = (DONE, NOT_DONE, NOT_STARTED, NO_REPOSITORY)


@dataclass(frozen=True)
class Status:
    """One task of one team on the board."""

    task: str
    state: str
    evidence: str

    @property
    def done(self) -> bool:
        return self.state == DONE
