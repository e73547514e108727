"""Which team a notebook works for: the one setting that scopes every S3 prefix and resource name.

Ten teams share one AWS account in a workshop. Without a team in the names, one team's
``list_training_jobs`` finds another team's model and one team's upload overwrites another's
data. ``MAZE_TEAM`` sets it; in SageMaker Studio it defaults to the user profile (or space) the
kernel runs in, elsewhere to ``solo``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

STUDIO_METADATA = Path("/opt/ml/metadata/resource-metadata.json")
DEFAULT_TEAM = "solo"
# The SDK appends a 24-character timestamp ("-" and 2024-12-02-10-15-00-123) to a base name and
# SageMaker allows 63 characters: "maze-" + team + "-batch-10files" + timestamp must fit (tests/test_team.py
# checks every base name the notebooks build). No hyphens: names are matched by the prefix "maze-<team>-",
# which for a team "a" would also match a team "a-b".
MAX_LENGTH = 20
VALID = re.compile(r"^[a-z0-9]+$")
# A profile name that is not a team name as it stands keeps a readable start and gets this many hex
# characters of the SHA-256 of the whole name: two profiles then share a team with odds of 1 in 16.7 million.
HASH_LENGTH = 6


def team_name() -> str:
    """``MAZE_TEAM``, else the Studio user profile or space, else ``solo``; always a valid name part."""
    explicit = os.environ.get("MAZE_TEAM", "").strip()
    if explicit:
        name = explicit.lower()
        if len(name) > MAX_LENGTH or not VALID.match(name):
            raise ValueError(
                f"MAZE_TEAM={explicit!r} cannot be part of SageMaker names: use 1 to {MAX_LENGTH} lowercase "
                "letters and digits, e.g. MAZE_TEAM=team7."
            )
        return name
    return _studio_team() or DEFAULT_TEAM


def team_from_profile(profile: str) -> str:
    """A Studio user profile (or space) name as a team name; distinct profiles give distinct teams.

    A name that already is a team name (1 to 20 lowercase letters and digits) is kept as it is.
    Any other is cut, not just cleaned: Studio's quick set-up names profiles ``default-<timestamp>``,
    and ``default-20241202T101500`` and ``default-20241202T101533`` differ only past 20 characters.
    So it keeps its first letters and digits (lowercased, up to 14) and ends with 6 hex characters of
    the SHA-256 of the full name: ``default2024120cc5f23`` and ``default2024120eb7b3a``.
    """
    if len(profile) <= MAX_LENGTH and VALID.match(profile):
        return profile
    readable = re.sub(r"[^a-z0-9]+", "", profile.lower())[: MAX_LENGTH - HASH_LENGTH]
    return readable + hashlib.sha256(profile.encode()).hexdigest()[:HASH_LENGTH]


def _studio_team() -> str | None:
    """The Studio user profile (or space) name, made a team name; None off Studio."""
    try:
        metadata = json.loads(STUDIO_METADATA.read_text())
    except (OSError, ValueError):
        return None
    raw = metadata.get("UserProfileName") or metadata.get("SpaceName") or ""
    return team_from_profile(raw) if raw else None
