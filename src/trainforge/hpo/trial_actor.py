"""Trial actors: long-lived Ray workers that train one trial at a time on a study's shared, pre-binned data.

Building LightGBM's binned ``Dataset`` (bin boundaries for every feature, then every row mapped to its bins) is
a fixed cost of every fit: on ~1M rows it takes seconds, a large share of a short trial. A trial actor builds it
once and trains every trial it is given on it, so each trial pays for boosting only. The data itself arrives
once per actor, by ``ObjectRef`` from Ray's object store (:mod:`trainforge.hpo.study_data`).

A trial trains the model the final fit would train with the same hyperparameters: the same native parameters
(``lightgbm_forecast.native_params``, objective and metric l1), the same thread rule (``threads_for``) and the
same early stopping on the validation l1 (stop after ``early_stopping_rounds`` rounds without a strictly lower
value; the best round is the model). The loop is written out (``Booster.update`` per round rather than
``lightgbm.train``) so that it can report as it goes and stop when the coordinator prunes the trial.

An actor never talks to Optuna's storage or to the metadata database: it streams what happened and the
coordinator records it (SQLite has one writer, and an actor may run on a machine that cannot reach either).
"""

from __future__ import annotations

import math
import os
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import ray

# Import order matters: lightgbm_forecast sets OMP_WAIT_POLICY before LightGBM (and its OpenMP) loads.
from trainforge.models.lightgbm_forecast import native_params, threads_for  # isort: skip
import lightgbm as lgb  # isort: skip

from trainforge.hpo.study_data import StudyData
from trainforge.pipeline.evaluate import mae

__all__ = ["DATASET_CACHE_SIZE", "TrialActor", "TrialRunner"]

# Binned datasets kept per actor (see TrialRunner._datasets_for for what needs another). Each costs about a byte
# per row and column (more above max_bin 255); a study that searches max_bin over many values rebuilds on a miss.
DATASET_CACHE_SIZE = 4
# Trial events streamed to the coordinator.
Report = tuple[str, int, float]  # ("report", step, validation MAE in the target's units)
Pruned = tuple[str, int]  # ("pruned", step)
Done = tuple[str, dict[str, Any]]  # ("done", {"value", "rmse", "best_iteration", "seconds"})


class TrialRunner:
    """Trains trials on one study's data; Ray runs it as :data:`TrialActor` (a plain class, so tests can
    subclass it).

    Args:
        data: The study's prepared rows (passed as an ``ObjectRef``: Ray hands the actor the object itself).
        num_threads: Most threads per fit; fewer on small data (``threads_for``), as in the final fit.
    """

    def __init__(self, data: StudyData, num_threads: int | None = 1) -> None:
        self._data = data
        self._threads = threads_for(data.train_rows, num_threads)
        self._datasets: OrderedDict[tuple[int, frozenset[str]], tuple[lgb.Dataset, lgb.Dataset]] = OrderedDict()
        # Trial numbers the coordinator asked to stop. Written by prune() on the actor's second thread and read
        # by run() between boosting rounds; adding to and testing a set are atomic under the GIL.
        self._prune: set[int] = set()
        self._datasets_built = 0
        self._trials_run = 0

    @ray.method(num_returns="streaming")
    def run(self, trial_number: int, params: Mapping[str, Any], report_every: int) -> Iterator[Report | Pruned | Done]:
        """Train one trial, streaming its progress.

        Args:
            trial_number: Optuna's number of the trial (what :meth:`prune` names).
            params: Every hyperparameter of the family (``SearchSpace.hyperparams``).
            report_every: Boosting rounds between two ``("report", step, value)`` events.

        Yields:
            ``("report", step, val_mae)`` every ``report_every`` rounds (``step``: rounds done so far);
            then either ``("pruned", step)`` if :meth:`prune` was called for this trial, or ``("done", result)``
            with ``value`` (validation MAE at the best round, in the target's units), ``rmse`` (validation RMSE at
            that round), ``best_iteration`` (1-based) and ``seconds``.

        Raises:
            Whatever LightGBM raises: the coordinator records the trial as failed.
        """
        clock = time.perf_counter()
        try:
            yield from self._train(trial_number, params, max(1, int(report_every)), clock)
        finally:
            self._prune.discard(trial_number)
            self._trials_run += 1

    def prune(self, trial_number: int) -> None:
        """Ask the running trial ``trial_number`` to stop after its current round (it then yields ``pruned``)."""
        self._prune.add(trial_number)

    def stats(self) -> dict[str, int]:
        """How much work this actor has done: ``datasets_built`` (binned datasets constructed), ``trials_run``,
        and its process id ``pid``."""
        return {"datasets_built": self._datasets_built, "trials_run": self._trials_run, "pid": os.getpid()}

    # -- internals -----------------------------------------------------------------------------------------
    def _train(
        self, trial_number: int, params: Mapping[str, Any], report_every: int, clock: float
    ) -> Iterator[Report | Pruned | Done]:
        train_set, val_set = self._datasets_for(params)
        booster = lgb.Booster(native_params(params, self._threads), train_set)
        booster.add_valid(val_set, "val")
        units = _UnitsMetric(self._data.y_val, self._data.val_level)
        rounds = int(params["n_estimators"])
        patience = int(params["early_stopping_rounds"])
        best_l1, best_iteration, best_mae, best_rmse = math.inf, 0, math.nan, math.nan
        for round_index in range(rounds):
            if trial_number in self._prune:
                yield ("pruned", round_index)
                return
            booster.update()
            # [0]: LightGBM's l1 on the model's relative target, what the final fit's early stopping watches;
            # [1]: the same error in the target's units, what the study minimises and reports.
            l1, mae = (result[2] for result in booster.eval_valid(feval=units))
            step = round_index + 1
            if l1 < best_l1:
                best_l1, best_iteration, best_mae, best_rmse = l1, step, mae, units.rmse
            elif step - best_iteration >= patience:
                break
            if step % report_every == 0:
                yield ("report", step, float(mae))
        if self._data.backtest:
            # objective backtest_mae: the study minimises the mean MAE of the windows, at the best round.
            best_mae = float(np.mean([_window_mae(booster, rows, best_iteration) for rows in self._data.backtest]))
        yield (
            "done",
            {
                "value": float(best_mae),
                "rmse": float(best_rmse),
                "best_iteration": best_iteration,
                "seconds": time.perf_counter() - clock,
            },
        )

    def _datasets_for(self, params: Mapping[str, Any]) -> tuple[lgb.Dataset, lgb.Dataset]:
        """The binned train and validation datasets for ``params``, built on first use.

        Two things in a trial's parameters change the binned data: ``max_bin`` (the bins themselves) and, through
        LightGBM's ``feature_pre_filter``, ``min_child_samples``: a column with less room for a split than
        ``min_data_in_leaf`` rows (a constant one, a flag set on few rows) is dropped when the data is binned.
        Keeping such a column would change which columns ``colsample_bytree`` draws, and so the model, against
        the final fit's. The cache key is therefore ``max_bin`` and the set of columns dropped; on a few
        thousand rows that set changes with ``min_child_samples``, on ~1M rows it does not (only constant
        columns are dropped), so every trial of a study reuses one dataset.
        """
        max_bin = int(params["max_bin"])
        min_rows = int(params["min_child_samples"])
        dropped = frozenset(name for name, room in self._data.split_room.items() if room < min_rows)
        key = (max_bin, dropped)
        cached = self._datasets.get(key)
        if cached is not None:
            self._datasets.move_to_end(key)
            return cached
        # The native parameters the final fit's dataset gets: max_bin, seed and threads decide the binning, and
        # min_data_in_leaf what is dropped.
        dataset_params = native_params(params, self._threads)
        data = self._data
        train_set = lgb.Dataset(data.X_train, label=data.y_train, params=dataset_params, free_raw_data=False)
        val_set = lgb.Dataset(data.X_val, label=data.y_val, reference=train_set, params=dataset_params)
        train_set.construct()
        val_set.construct()
        self._datasets_built += 1
        self._datasets[key] = (train_set, val_set)
        while len(self._datasets) > DATASET_CACHE_SIZE:
            self._datasets.popitem(last=False)
        return train_set, val_set


def _window_mae(booster: lgb.Booster, rows: Any, iteration: int) -> float:
    """MAE in the target's units of a backtest window (``ForecastRows``) at boosting round ``iteration``."""
    return mae(rows.actual, rows.to_forecast(booster.predict(rows.inputs, num_iteration=iteration)))


class _UnitsMetric:
    """A LightGBM eval function: validation MAE in the target's units (prediction x level vs target x level).

    It also keeps the RMSE of the same predictions in :attr:`rmse`, so that one pass over the predictions gives
    both numbers a finished trial reports.
    """

    __name__ = "mae_units"

    def __init__(self, y_val: np.ndarray, level: np.ndarray) -> None:
        self._y = y_val
        self._level = level
        self._error = np.empty_like(y_val)
        self.rmse = math.nan

    def __call__(self, predictions: np.ndarray, _data: lgb.Dataset) -> tuple[str, float, bool]:
        error = self._error
        np.subtract(predictions, self._y, out=error)
        np.multiply(error, self._level, out=error)
        self.rmse = math.sqrt(float(np.dot(error, error)) / len(error))
        np.abs(error, out=error)
        return "mae_units", float(error.mean()), False


TrialActor = ray.remote(max_concurrency=2, max_restarts=0)(TrialRunner)
"""The Ray actor class of :class:`TrialRunner`. Two threads: ``run`` streams on one while ``prune`` lands on the
other. Each actor runs one trial at a time (the coordinator never gives a busy actor a second trial)."""
