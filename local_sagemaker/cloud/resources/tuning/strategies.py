"""How a tuning job chooses each training job's hyperparameters: Random, Grid and Bayesian search.

Random and Grid are what AWS documents ("How hyperparameter tuning works"): Random draws every value on its range's
scale independently of earlier results; Grid runs every combination of the categorical values once. Bayesian search
is AWS's own model, which is not published: here optuna's TPE sampler (Tree-structured Parzen Estimator) proposes
the next values from the objectives reported so far, through optuna's ask-and-tell interface. Both learn from the
results, but they propose different values: a Bayesian tuning job here and on AWS explores differently.
"""

from __future__ import annotations

import itertools
import random
from typing import Any, Protocol

from local_sagemaker.cloud.resources.tuning.ranges import Range

Tuned = dict[str, str]
# Random search draws again this often for values it has not tried yet before it repeats some.
FRESH_DRAWS = 100


class Strategy(Protocol):
    def ask(self) -> Tuned:
        """The next training job's hyperparameters."""
        ...

    def tell(self, tuned: Tuned, objective: float | None) -> None:
        """The objective that a training job launched with ``tuned`` reached (None: it failed or reported none)."""
        ...


class RandomSearch:
    def __init__(self, ranges: list[Range], seed: int | None) -> None:
        self._ranges, self._rng = ranges, random.Random(seed)
        self._tried: set[tuple[str, ...]] = set()

    def ask(self) -> Tuned:
        for _ in range(FRESH_DRAWS):
            values = tuple(one.sample(self._rng) for one in self._ranges)
            if values not in self._tried:
                break
        self._tried.add(values)
        return dict(zip((one.name for one in self._ranges), values, strict=True))

    def tell(self, tuned: Tuned, objective: float | None) -> None:
        """Random search does not learn."""


class GridSearch:
    def __init__(self, ranges: list[Range]) -> None:
        self._names = [one.name for one in ranges]
        self._combinations = itertools.product(*(one.values for one in ranges))

    def ask(self) -> Tuned:
        return dict(zip(self._names, next(self._combinations), strict=True))

    def tell(self, tuned: Tuned, objective: float | None) -> None:
        """Grid search does not learn."""


class BayesianSearch:
    """optuna's TPE sampler, asked for one trial per training job and told each job's objective."""

    def __init__(self, ranges: list[Range], seed: int | None, maximize: bool) -> None:
        import optuna  # imported on first use: it takes a second, and only Bayesian tuning jobs need it

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._optuna = optuna
        self._ranges = ranges
        sampler = optuna.samplers.TPESampler(seed=seed)
        self._study = optuna.create_study(direction="maximize" if maximize else "minimize", sampler=sampler)
        self._pending: list[tuple[Tuned, Any]] = []

    def ask(self) -> Tuned:
        trial = self._study.ask()
        tuned = {one.name: one.suggest(trial) for one in self._ranges}
        self._pending.append((tuned, trial))
        return tuned

    def tell(self, tuned: Tuned, objective: float | None) -> None:
        for index, (asked, trial) in enumerate(self._pending):
            if asked == tuned:
                del self._pending[index]
                if objective is None:
                    self._study.tell(trial, state=self._optuna.trial.TrialState.FAIL)
                else:
                    self._study.tell(trial, objective)
                return


def grid_size(ranges: list[Range]) -> int:
    size = 1
    for one in ranges:
        size *= len(one.values)
    return size


def strategy_for(config: dict[str, Any], ranges: list[Range]) -> Strategy:
    """The strategy a (validated) HyperParameterTuningJobConfig asks for."""
    seed = config.get("RandomSeed")
    if config["Strategy"] == "Grid":
        return GridSearch(ranges)
    if config["Strategy"] == "Bayesian":
        return BayesianSearch(ranges, seed, config["HyperParameterTuningJobObjective"]["Type"] == "Maximize")
    return RandomSearch(ranges, seed)
