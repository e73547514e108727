"""The team setting: what scopes every name, so ten teams can share one account."""

import json

import pytest

from local_sagemaker import team


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
    metadata.write_text(json.dumps({"UserProfileName": "Jane-Doe.Smith", "SpaceName": "other"}))
    monkeypatch.setattr(team, "STUDIO_METADATA", metadata)
    assert team.team_name() == "janedoesmith"
    metadata.write_text(json.dumps({"SpaceName": "space-of-team-3"}))
    assert team.team_name() == "spaceofteam3"
