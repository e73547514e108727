"""Which team a notebook works for: the one setting that scopes every S3 prefix and resource name.

Ten teams share one AWS account in a workshop. Without a team in the names, one team's
``list_training_jobs`` finds another team's model and one team's upload overwrites another's
data. ``MAZE_TEAM`` sets it; in SageMaker Studio it defaults to the user profile (or space) the
kernel runs in, elsewhere to ``solo``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

STUDIO_METADATA = Path("/opt/ml/metadata/resource-metadata.json")
DEFAULT_TEAM = "solo"
# The SDK appends a 24-character timestamp to a base name and SageMaker allows 63 characters:
# "maze-" + team + "-serverless" + timestamp must fit. No hyphens: names are matched by the prefix
# "maze-<team>-", which for a team "a" would also match a team "a-b".
MAX_LENGTH = 20
VALID = re.compile(r"^[a-z0-9]+$")


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


def _studio_team() -> str | None:
    """The Studio user profile (or space) name, made a valid name part; None off Studio."""
    try:
        metadata = json.loads(STUDIO_METADATA.read_text())
    except (OSError, ValueError):
        return None
    raw = metadata.get("UserProfileName") or metadata.get("SpaceName") or ""
    name = re.sub(r"[^a-z0-9]+", "", raw.lower())[:MAX_LENGTH]
    return name or None
