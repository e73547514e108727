"""The team setting: what scopes every name, so ten teams can share one account."""

import json
import random
import re
import string

import nbformat
import pytest
from sagemaker.utils import name_from_base

from local_sagemaker.kernel import team
from tests.notebooks import NOTEBOOKS

# SageMaker's pattern for training job, model, endpoint (config) and transform job names.
SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
# Studio's pattern for a user profile or space name (CreateUserProfile, CreateSpace).
STUDIO_NAME = string.ascii_letters + string.digits + "-"


@pytest.fixture
def no_studio(monkeypatch, tmp_path):
    monkeypatch.setattr(team, "STUDIO_METADATA", tmp_path / "absent.json")
    monkeypatch.delenv("MAZE_TEAM", raising=False)
    return tmp_path


def test_off_studio_without_a_setting_the_team_is_solo(no_studio) -> None:
    assert team.team_name() == "solo"


def test_maze_team_wins_and_is_lowercased(no_studio, monkeypatch) -> None:
    monkeypatch.setenv("MAZE_TEAM", " Team7 ")
    assert team.team_name() == "team7"


@pytest.mark.parametrize("bad", ["team-7", "a b", "x" * 21, "é"])
def test_a_team_that_cannot_be_part_of_a_name_is_refused_with_the_fix(no_studio, monkeypatch, bad) -> None:
    monkeypatch.setenv("MAZE_TEAM", bad)
    with pytest.raises(ValueError, match="lowercase letters and digits, e.g. MAZE_TEAM=team7"):
        team.team_name()


def test_in_studio_the_user_profile_names_the_team(no_studio, monkeypatch) -> None:
    metadata = no_studio / "resource-metadata.json"
    monkeypatch.setattr(team, "STUDIO_METADATA", metadata)
    metadata.write_text(json.dumps({"UserProfileName": "team7", "SpaceName": "other"}))
    assert team.team_name() == "team7", "a profile that is a team name already is kept as it is"
    metadata.write_text(json.dumps({"UserProfileName": "Jane-Doe.Smith", "SpaceName": "other"}))
    assert re.fullmatch(r"janedoesmith[0-9a-f]{6}", team.team_name()), "readable, with a hash of the full name"
    metadata.write_text(json.dumps({"SpaceName": "space-of-team-3"}))
    assert re.fullmatch(r"spaceofteam3[0-9a-f]{6}", team.team_name())


def test_studio_quick_set_up_profiles_give_two_teams() -> None:
    first, second = team.team_from_profile("default-20241202T101500"), team.team_from_profile("default-20241202T101533")
    assert first != second
    assert first.startswith("default2024120") and second.startswith("default2024120"), "still readable"


def _random_profile(rng: random.Random) -> str:
    length = rng.randint(1, 63)
    middle = "".join(rng.choice(STUDIO_NAME) for _ in range(length - 2)) if length > 2 else ""
    ends = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(min(length, 2)))
    return ends[:1] + middle + ends[1:]


def test_distinct_profiles_give_distinct_valid_teams() -> None:
    rng = random.Random(16)
    profiles = {_random_profile(rng) for _ in range(20000)}
    # The near misses a hash must tell apart: case, punctuation, and differences past the cut.
    profiles |= {"Team7", "team7", "team-7", "TEAM7", "a" * 63, "a" * 62 + "b", "a-" * 31 + "a", "-".join("a" * 32)}
    teams = {profile: team.team_from_profile(profile) for profile in profiles}
    assert len(set(teams.values())) == len(profiles), "two profiles, one team"
    for profile, name in teams.items():
        assert 1 <= len(name) <= team.MAX_LENGTH and team.VALID.match(name), (profile, name)


def _base_names(team_name: str) -> set[str]:
    """Every base name the notebooks build for a team (their code, ``maze-{TEAM}-...``) or tell it to use (their
    text, ``maze-<team>-...``), with each other placeholder at its longest value."""
    # max_concurrency 1 or 20; the sweep's job number; the tuning job's stamp (base 36 seconds)
    longest = {"TEAM": team_name, "limit": "20", "n": "99", "stamp": "z" * 6}
    bases = set()
    for notebook in NOTEBOOKS:
        for cell in nbformat.read(notebook, as_version=4).cells:
            for template in re.findall(r"""f["'](maze-\{TEAM\}-[^"']*)["']""", cell.source):
                unknown = set(re.findall(r"\{(\w+)\}", template)) - set(longest)
                assert not unknown, f"{notebook}: add the longest value of {unknown} in {template!r} to this test"
                bases.add(re.sub(r"\{(\w+)\}", lambda m: longest[m.group(1)], template).rstrip("-"))
            bases |= {
                f"maze-{team_name}-{what}"
                for what in re.findall(r"maze-<team>-([a-z0-9]+(?:-[a-z0-9]+)*)", cell.source)
            }
    return bases


def test_every_name_of_the_longest_team_fits_sagemaker() -> None:
    longest = "z" * team.MAX_LENGTH
    bases = _base_names(longest)
    assert {f"maze-{longest}-train", f"maze-{longest}-batch-10files", f"maze-{longest}-maxconc-20"} <= bases, bases
    tuning = f"maze-{longest}-zzzzzz"  # chapter 1 task 4's tuning job: its whole name, at most 32 characters
    assert tuning in bases and len(tuning) <= 32
    for base in bases:
        name = name_from_base(base)  # what the SDK sends: the base, "-", a 23-character timestamp
        assert name.startswith(f"{base}-"), f"the SDK cut {base!r} to fit 63 characters: {name!r}"
        assert SAGEMAKER_NAME.match(name), name
