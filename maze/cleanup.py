"""``python -m maze cleanup``: a facilitator removes a team's endpoints, endpoint configs, models and registered
model packages.

Endpoints bill by the hour; a notebook that stopped midway may leave one running. The deletion
itself is ``local_sagemaker.kernel.cleanup.delete_team_resources`` (the notebooks' own clean-up); this
command lists what it is about to delete and asks first, unless told ``--yes``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3

import local_sagemaker
from local_sagemaker.kernel.cleanup import KINDS, delete_team_resources, team_names


def clean(sagemaker: Any, team: str, yes: bool, ask: Callable[[str], str] = input) -> int:
    """List the team's resources, ask (unless ``yes``), delete them; 0 when done or nothing to do, 1 if declined."""
    found = [(kind, name) for kind in KINDS for name in team_names(sagemaker, kind, team)]
    if not found:
        print(f"team '{team}' has no endpoints, endpoint configs, models or model packages: nothing to delete")
        return 0
    print(f"team '{team}' has:")
    print("\n".join(f"  {kind:<20}{name}" for kind, name in found))
    if not yes and not _confirmed(ask, f"delete these {len(found)} resources? [y/N] "):
        print("nothing deleted")
        return 1
    deleted = delete_team_resources(sagemaker, team)
    print(f"deleted {len(deleted)}: " + ", ".join(deleted))
    return 0


def _confirmed(ask: Callable[[str], str], question: str) -> bool:
    """Only an explicit yes deletes; no terminal to answer (end of input) is a no."""
    try:
        return ask(question).strip().lower() in ("y", "yes")
    except EOFError:
        return False


def main(yes: bool) -> int:
    """Connect as a notebook does (AWS or the local cloud, per MAZE_TARGET; team per MAZE_TEAM) and clean up."""
    connection = local_sagemaker.connect()
    return clean(boto3.client("sagemaker"), connection.team, yes)
