"""The Optuna sampler of each optimization strategy."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import optuna

from trainforge.hpo.space import STRATEGIES, SearchSpace, check_space_fits_strategy, check_strategy

__all__ = ["STRATEGIES", "AskTellGridSampler", "make_sampler"]


class AskTellGridSampler(optuna.samplers.GridSampler):
    """Optuna's grid sampler, for a study driven by ask and tell.

    Optuna's ``GridSampler.after_trial`` calls ``study.stop()`` once the grid is exhausted, and ``study.stop()``
    raises ``RuntimeError`` outside ``study.optimize``: ``study.tell`` of the last grid point would raise (after
    storing the trial). This sampler does nothing after a trial; the caller asks :meth:`is_exhausted` instead.
    """

    def after_trial(
        self,
        study: optuna.Study,
        trial: optuna.trial.FrozenTrial,
        state: optuna.trial.TrialState,
        values: Sequence[float] | None,
    ) -> None:
        return None


def make_sampler(strategy: str, space: SearchSpace, seed: int | None) -> optuna.samplers.BaseSampler:
    """The sampler that searches ``space`` with ``strategy``.

    - ``tpe`` (the default): Tree-structured Parzen Estimator, models the trials so far.
    - ``random``: independent uniform (or log-uniform) draws.
    - ``grid``: every point of :meth:`SearchSpace.grid` once, in an order shuffled by the seed. An
      :class:`AskTellGridSampler`: ask ``sampler.is_exhausted(study)`` to know when the grid is done.
    - ``cmaes``: CMA-ES over the int and float ranges; categorical parameters are drawn independently at random.
    - ``qmc``: unscrambled Sobol points (the seed only draws the first trial at random).

    Args:
        strategy: One of :data:`STRATEGIES`.
        space: The parsed space (parse it with the same strategy, so that a grid is known to be valid).
        seed: Makes the sequence of sampled parameters reproducible (with one trial in flight at a time).

    Raises:
        InvalidInput: Unknown strategy, a strategy whose package is missing (``field="optimization_strategy"``),
            or a space the grid cannot enumerate (``field="search_space.<name>"`` or ``"search_space"``).
    """
    check_strategy(strategy)
    check_space_fits_strategy(space, strategy)
    if strategy == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if strategy == "random":
        return optuna.samplers.RandomSampler(seed)
    if strategy == "grid":
        return AskTellGridSampler(space.grid(), seed=seed)
    if strategy == "cmaes":
        # Categorical parameters fall back to the independent sampler by design: no warning on every trial.
        has_categorical = any(param.type == "categorical" for param in space.searched.values())
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=not has_categorical)
    if strategy == "qmc":
        # QMCSampler is marked experimental (since Optuna 3.0); we chose it knowingly, so no warning per study.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.QMCSampler(seed=seed)
    raise AssertionError(f"strategy {strategy!r} passed check_strategy but has no sampler")  # pragma: no cover
