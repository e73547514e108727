"""A tuning job's ranges and strategies without a cloud: each scaling type draws where AWS's definition puts the
values, Grid runs each combination once, and the TPE sampler (Bayesian) proposes within the ranges."""

from __future__ import annotations

import random
import statistics

import pytest

from local_sagemaker.cloud.platform.errors import ValidationError
from local_sagemaker.cloud.resources.tuning.ranges import parse
from local_sagemaker.cloud.resources.tuning.strategies import BayesianSearch, GridSearch, RandomSearch


def one(kind: str, low: str, high: str, scaling: str) -> dict:
    return {f"{kind}ParameterRanges": [{"Name": "p", "MinValue": low, "MaxValue": high, "ScalingType": scaling}]}


@pytest.mark.parametrize(
    "kind, low, high, scaling, expected_median",
    [
        ("Integer", "1", "10000", "Linear", 5000),
        ("Integer", "1", "10000", "Logarithmic", 100),  # the geometric middle of 1 and 10000
        ("Continuous", "0.001", "1000", "Logarithmic", 1),
        ("Continuous", "0.0", "0.9999", "ReverseLogarithmic", 0.99),  # 1 - the geometric middle of 1 and 0.0001
        ("Continuous", "0", "10", "Auto", 5),  # Auto is Linear here
    ],
)
def test_each_scaling_draws_around_its_middle(kind, low, high, scaling, expected_median) -> None:
    [parsed] = parse(one(kind, low, high, scaling))
    rng = random.Random(3)
    draws = [float(parsed.sample(rng)) for _ in range(2000)]
    assert all(float(low) <= value <= float(high) for value in draws)
    assert statistics.median(draws) == pytest.approx(expected_median, rel=0.25)
    if kind == "Integer":
        assert all(value == int(value) for value in draws)


def test_grid_runs_each_combination_once() -> None:
    ranges = parse(
        {"CategoricalParameterRanges": [{"Name": "a", "Values": ["1", "2"]}, {"Name": "b", "Values": ["x", "y", "z"]}]}
    )
    grid = GridSearch(ranges)
    asked = [grid.ask() for _ in range(6)]
    assert sorted((tuned["a"], tuned["b"]) for tuned in asked) == sorted((a, b) for a in "12" for b in "xyz")


def test_random_search_repeats_no_value_of_a_small_space_before_it_must() -> None:
    search = RandomSearch(parse({"CategoricalParameterRanges": [{"Name": "a", "Values": list("abcd")}]}), seed=1)
    assert sorted(search.ask()["a"] for _ in range(4)) == list("abcd")


def test_the_tpe_sampler_proposes_within_the_ranges_and_learns_from_what_it_is_told() -> None:
    ranges = parse(
        {
            "ContinuousParameterRanges": [
                {"Name": "p", "MinValue": "0.0001", "MaxValue": "0.9", "ScalingType": "ReverseLogarithmic"}
            ],
            "IntegerParameterRanges": [{"Name": "q", "MinValue": "1", "MaxValue": "9", "ScalingType": "Logarithmic"}],
        }
    )
    search = BayesianSearch(ranges, seed=5, maximize=True)
    for _ in range(15):
        tuned = search.ask()
        assert 0.0001 <= float(tuned["p"]) <= 0.9 and 1 <= int(tuned["q"]) <= 9
        search.tell(tuned, None if tuned["q"] == "9" else -abs(int(tuned["q"]) - 3))
    late = [int(search.ask()["q"]) for _ in range(5)]
    assert statistics.median(late) == pytest.approx(3, abs=1), "TPE proposes near the best value told"


@pytest.mark.parametrize(
    "ranges, message",
    [
        (one("Integer", "1", "2.5", "Linear"), "not a valid integer value"),
        (one("Continuous", "0.5", "1.0", "ReverseLogarithmic"), "0 <= x < 1.0"),
        ({"CategoricalParameterRanges": [{"Name": "a", "Values": ["x", "x"]}]}, "must be unique"),
        (
            {**one("Integer", "1", "2", "Linear"), "CategoricalParameterRanges": [{"Name": "p", "Values": ["x"]}]},
            "one range only",
        ),
        ({"AutoParameters": [{"Name": "p", "ValueHint": "1"}]}, "AutoParameters (Autotune) are not supported"),
    ],
)
def test_ranges_aws_refuses_are_refused_naming_the_fix(ranges, message) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(ranges)
