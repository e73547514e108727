"""A tuning job's hyperparameter ranges as AWS defines them: integer, continuous and categorical, with their scaling.

AWS's "Define hyperparameter ranges" page: ``Linear`` searches uniformly, ``Logarithmic`` uniformly in log space
(only for ranges of values greater than 0), ``ReverseLogarithmic`` densely near 1 (continuous ranges only, entirely
within 0 <= x < 1), and ``Auto`` lets SageMaker choose; here ``Auto`` is ``Linear``. A range turns into the
hyperparameter value a training job receives: integers and floats as their decimal text, categorical values exactly
as sent (the SDK JSON-quotes them for framework estimators, and the container JSON-decodes every value).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from local_sagemaker.cloud.platform.errors import ValidationError

KINDS = ("Integer", "Continuous", "Categorical")


@dataclass(frozen=True)
class Range:
    """One tunable hyperparameter: its kind, its bounds and scaling (numbers) or its values (categorical)."""

    name: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    scaling: str = "Linear"
    values: tuple[str, ...] = ()

    def size(self) -> float:
        """How many distinct values the range holds (infinite for a continuous one)."""
        if self.kind == "Categorical":
            return len(self.values)
        if self.kind == "Integer":
            return self.high - self.low + 1
        return math.inf

    def sample(self, rng: random.Random) -> str:
        """A value drawn on the range's scale (Random search)."""
        if self.kind == "Categorical":
            return rng.choice(self.values)
        if self.scaling == "Logarithmic":
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        elif self.scaling == "ReverseLogarithmic":
            value = 1 - math.exp(rng.uniform(math.log(1 - self.high), math.log(1 - self.low)))
        else:
            value = rng.uniform(self.low, self.high)
        return self.text(value)

    def suggest(self, trial: Any) -> str:
        """A value an optuna trial proposes on the range's scale (Bayesian search)."""
        if self.kind == "Categorical":
            return trial.suggest_categorical(self.name, list(self.values))
        log = self.scaling == "Logarithmic"
        if self.kind == "Integer":
            return self.text(trial.suggest_int(self.name, int(self.low), int(self.high), log=log))
        if self.scaling == "ReverseLogarithmic":  # log-uniform in 1 - x
            return self.text(1 - trial.suggest_float(self.name, 1 - self.high, 1 - self.low, log=True))
        return self.text(trial.suggest_float(self.name, self.low, self.high, log=log))

    def text(self, value: float) -> str:
        """The hyperparameter's value as a training job receives it, kept within the range."""
        value = min(max(value, self.low), self.high)
        return str(int(round(value))) if self.kind == "Integer" else repr(float(value))


def _number(kind: str, name: str, member: str, text: str) -> float:
    try:
        return int(text) if kind == "Integer" else float(text)
    except ValueError:
        raise ValidationError(
            f"The {member} '{text}' of hyperparameter '{name}' is not a valid {kind.lower()} value."
        ) from None


def _numeric(kind: str, spec: dict[str, Any]) -> Range:
    name, scaling = spec["Name"], spec.get("ScalingType", "Auto")
    low = _number(kind, name, "MinValue", spec["MinValue"])
    high = _number(kind, name, "MaxValue", spec["MaxValue"])
    if not math.isfinite(low) or not math.isfinite(high) or low > high:
        raise ValidationError(
            f"The MinValue '{spec['MinValue']}' of hyperparameter '{name}' must be less than or equal to its "
            f"MaxValue '{spec['MaxValue']}'."
        )
    if scaling == "Logarithmic" and low <= 0:
        raise ValidationError(
            f"Hyperparameter '{name}': Logarithmic scaling works only for ranges that have only values greater "
            "than 0. Raise MinValue above 0, or use Linear scaling."
        )
    if scaling == "ReverseLogarithmic":
        if kind == "Integer":
            raise ValidationError(
                f"Hyperparameter '{name}': ReverseLogarithmic scaling is supported only for continuous ranges, "
                "not integer ones. Use Linear or Logarithmic scaling."
            )
        if low < 0 or high >= 1:
            raise ValidationError(
                f"Hyperparameter '{name}': ReverseLogarithmic scaling works only for ranges entirely within "
                "0 <= x < 1.0. Narrow the range, or use Linear scaling."
            )
    effective = "Linear" if scaling == "Auto" else scaling
    return Range(name, kind, float(low), float(high), effective)


def parse(ranges: dict[str, Any]) -> list[Range]:
    """The ranges of a ParameterRanges member, checked as CreateHyperParameterTuningJob checks them."""
    if ranges.get("AutoParameters"):
        raise ValidationError(
            "AutoParameters (Autotune) are not supported by the local cloud: give the ranges explicitly in "
            "IntegerParameterRanges, ContinuousParameterRanges or CategoricalParameterRanges, or run on AWS "
            "(MAZE_TARGET=aws)."
        )
    parsed = [
        _numeric(kind, spec) for kind in ("Integer", "Continuous") for spec in ranges.get(f"{kind}ParameterRanges", [])
    ]
    for spec in ranges.get("CategoricalParameterRanges", []):
        values = tuple(spec["Values"])
        if len(set(values)) != len(values):
            raise ValidationError(f"The values of categorical hyperparameter '{spec['Name']}' must be unique.")
        parsed.append(Range(spec["Name"], "Categorical", values=values))
    if not parsed:
        raise ValidationError(
            "The hyperparameter tuning job has no hyperparameter ranges to search: give at least one in "
            "HyperParameterTuningJobConfig.ParameterRanges."
        )
    names = [one.name for one in parsed]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValidationError(f"Each hyperparameter may have one range only; these have more: {repeated}.")
    return parsed
