"""The data of a study: loaded and prepared once, by the pipeline's own functions, then shared by every trial.

A study's trials all train on the same rows. :func:`prepare_study_data` runs the forecast pipeline's ``load`` and
``prepare`` steps once, as a Ray task whose result stays in Ray's object store; every trial actor receives it by
``ObjectRef`` (numpy buffers are mapped from shared memory, not copied per actor). The split and the features are
exactly those of the final fit (``run_forecast_pipeline``), so a trial's validation score is the score the final
model would get on the same validation rows.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import ray

from trainforge.features.store import ParquetFeatureStore
from trainforge.pipeline._backtest import backtest_origins, window_rows
from trainforge.pipeline.config import TrainingConfig
from trainforge.pipeline.load import load_training_data
from trainforge.pipeline.prepare import ForecastRows, prepare_forecast
from trainforge.pipeline.request import PipelineRequest

__all__ = ["StudyData", "build_study_data", "prepare_study_data", "split_room"]


@dataclass
class StudyData:
    """The training and validation rows every trial of a study fits and scores on.

    The model learns the target relative to each series' level (see ``trainforge.models.forecaster``), so
    ``y_train`` and ``y_val`` are in those relative units, as LightGBM sees them; ``val_level`` turns a
    validation prediction back into the target's units (``prediction * val_level``), which is how a trial's
    score is reported.

    Attributes:
        X_train: The model's inputs for the training rows (``series_id`` categorical).
        y_train: The model's target for the training rows.
        X_val: The model's inputs for the validation rows.
        y_val: The model's target for the validation rows.
        val_level: Each validation row's level: ``y_val * val_level`` is the target in its own units.
        rows: Rows loaded from the feature set (before the lag warm-up and the split).
        series: Series in the loaded rows.
        target: The target column.
        feature_columns: The model's input columns, in order.
        backtest: With ``tuning.objective: backtest_mae``, the backtest windows' rows a finished trial is scored
            on (the windows lie in the validation split; trials are not refitted per window).
        split_room: Per input column, the most training rows the smaller side of any split on it can hold
            (:func:`split_room`): LightGBM drops a column with less room than ``min_data_in_leaf`` when it bins
            the data, which a trial actor must know to bin the data as the final fit does.
        seconds: Time spent loading and preparing.
    """

    X_train: pd.DataFrame
    y_train: np.ndarray
    X_val: pd.DataFrame
    y_val: np.ndarray
    val_level: np.ndarray
    rows: int
    series: int
    target: str
    feature_columns: list[str]
    split_room: dict[str, float]
    seconds: float
    backtest: list[ForecastRows] | None = None

    @property
    def train_rows(self) -> int:
        return len(self.X_train)

    @property
    def val_rows(self) -> int:
        return len(self.X_val)

    def describe(self) -> str:
        """One log line: what the trials train on."""
        return (
            f"Prepared {self.rows:,} rows of {self.series} series once for every trial in {self.seconds:.1f} s: "
            f"{self.train_rows:,} train and {self.val_rows:,} validation rows, {len(self.feature_columns)} features"
        )


def build_study_data(
    *, tenant_id: str, feature_set: str, config: TrainingConfig, feature_store_root: str, **_ignored: Any
) -> StudyData:
    """Load and prepare a study's rows in this process, as the pipeline's load and prepare steps do.

    Takes the keyword arguments of ``run_forecast_pipeline`` (the request of ``run_forecast_task``); the ones
    that only matter to fitting (``num_threads``, ``hyperparams``) are ignored.

    Raises:
        FeatureSetNotFound, InvalidInput, InsufficientData: As ``run_forecast_pipeline`` does for the same request.
    """
    clock = time.perf_counter()
    data = load_training_data(ParquetFeatureStore(feature_store_root), tenant_id, feature_set, config)
    frame = data.frame
    design = prepare_forecast(frame, data.target, config, data.covariates, data.frequency)
    train, val = design.sample("train"), design.sample("val")
    backtest = None
    if config.enable_hpo and config.tuning.objective == "backtest_mae" and config.backtest is not None:
        trial_windows = config.backtest.model_copy(update={"refit": False})
        backtest = window_rows(design, backtest_origins(design, trial_windows))
    return StudyData(
        X_train=train.inputs,
        y_train=train.model_target.astype(np.float64),
        X_val=val.inputs,
        y_val=val.model_target.astype(np.float64),
        val_level=val.level.astype(np.float64),
        rows=len(frame),
        series=int(frame["series_id"].nunique()),
        target=data.target,
        feature_columns=list(design.spec.feature_columns),
        split_room={column: split_room(train.inputs[column]) for column in train.inputs.columns},
        seconds=time.perf_counter() - clock,
        backtest=backtest,
    )


def split_room(column: pd.Series) -> float:
    """The most rows the smaller side of a split on ``column`` can hold: ``max over thresholds of min(left, right)``.

    LightGBM's ``feature_pre_filter`` drops a column when no split of its bins leaves ``min_data_in_leaf`` rows
    on both sides (a constant column has room 0). For a numeric column the best threshold sits next to the
    median; missing values always go right. A categorical column of three or more categories is never dropped.
    Computed on distinct values, it can exceed LightGBM's own figure (which splits between bins) by at most one
    bin's rows: nothing for columns with fewer distinct values than bins, and a rounding error next to the half
    of the rows that any column with more has room for.
    """
    n = len(column)
    if isinstance(column.dtype, pd.CategoricalDtype):
        counts = column.value_counts(dropna=False)
        counts = counts[counts > 0]
        if len(counts) >= 3:
            return math.inf
        return float(counts.min()) if len(counts) == 2 else 0.0
    values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    present = values[~np.isnan(values)]
    best = min(len(present), n - len(present))  # every present value left, the missing ones right
    if len(present):
        # Thresholds fall between distinct values; the two around the value at sorted position n // 2 leave the
        # left side just below and just above half the rows, and every other threshold is further from half.
        index = min(n // 2, len(present) - 1)
        middle = np.partition(present, index)[index]
        for left in (int(np.count_nonzero(present < middle)), int(np.count_nonzero(present <= middle))):
            best = max(best, min(left, n - left))
    return float(best)


@ray.remote(max_retries=0)
def prepare_study_data(request: PipelineRequest) -> StudyData:
    """Load and prepare a study's rows on Ray; the result stays in the object store for the trial actors.

    Args:
        request: The job's pipeline request (its fitting arguments are ignored).
    """
    return build_study_data(**request.arguments())
