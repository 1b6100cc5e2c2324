"""The steps both forecast pipelines share: loading the data (or reusing an earlier attempt's), the seasonal-naive
forecast of the test rows, and the table of test predictions (:mod:`~trainforge.pipeline.forecast` and
:mod:`~trainforge.pipeline._baseline_only`)."""

from __future__ import annotations

import time
from collections.abc import Generator

import numpy as np
import pandas as pd

from trainforge.features.frequency import steps_per
from trainforge.features.store import ParquetFeatureStore
from trainforge.models.baseline import seasonal_naive
from trainforge.pipeline.checkpoints import DataSnapshot, StepCheckpoints
from trainforge.pipeline.config import TrainingConfig
from trainforge.pipeline.load import TrainingData, data_hash, load_training_data
from trainforge.pipeline.result import STEPS, StepEvent


def prediction_frame(test: pd.DataFrame, actual: np.ndarray, forecast: np.ndarray, baseline: np.ndarray):
    """The test rows' ``timestamp``, ``series_id``, ``actual``, ``forecast`` and ``baseline`` (for the plots)."""
    return pd.DataFrame(
        {
            "timestamp": test["timestamp"].to_numpy(),
            "series_id": test["series_id"].astype("str").to_numpy(),
            "actual": actual,
            "forecast": forecast,
            "baseline": baseline,
        }
    )


def baseline_season(data: TrainingData, config: TrainingConfig) -> int:
    """The baseline's season in steps: ``config.seasonal_period``, else one day at the data's frequency."""
    return config.seasonal_period or steps_per("1D", data.frequency) or 1


def baseline_forecast(data: TrainingData, config: TrainingConfig, at: pd.DataFrame) -> np.ndarray:
    """The seasonal-naive forecast of ``at``'s rows from ``data`` (season: :func:`baseline_season`)."""
    season = baseline_season(data, config)
    return seasonal_naive(
        data.frame, data.target, season=season, horizon=config.horizon, freq=data.frequency, at=at
    ).to_numpy()


def load_step(
    store: ParquetFeatureStore,
    tenant_id: str,
    feature_set: str,
    config: TrainingConfig,
    checkpoints: StepCheckpoints | None,
    seconds: dict[str, float],
) -> Generator[StepEvent, None, DataSnapshot]:
    """The ``load`` step, or its checkpoint: yields its events and returns the data."""
    clock = time.perf_counter()
    snapshot = checkpoints.load_data() if checkpoints else None
    yield from checkpoint_notices(checkpoints)
    if snapshot is None:
        yield StepEvent("load", f"Loading feature set {feature_set!r} of tenant {tenant_id!r}")
        clock = time.perf_counter()  # after the yield: the time the caller spends on an event is not the step's
        data = load_training_data(store, tenant_id, feature_set, config)
        snapshot = DataSnapshot(data, data_hash(data.frame))
        seconds["load"] = time.perf_counter() - clock
        if checkpoints:
            checkpoints.save_data(snapshot)
        done = "Loaded"
    else:
        seconds["load"] = time.perf_counter() - clock
        done = "Reused the checkpoint of step 'load' from an earlier attempt:"
    yield from checkpoint_notices(checkpoints)
    data, frame = snapshot.data, snapshot.data.frame
    yield StepEvent(
        "load",
        f"{done} {len(frame):,} rows of {data.series_count} series from {data.start.isoformat()} to "
        f"{data.end.isoformat()} "
        f"(version {data.info.version} of the feature set, frequency {data.frequency}, covariates "
        f"{data.covariates or 'none'})",
        progress=STEPS["load"],
        metrics={
            "rows": float(len(frame)),
            "series": float(data.series_count),
            "feature_set_version": float(data.info.version),
        },
    )
    return snapshot


def checkpoint_notices(checkpoints: StepCheckpoints | None) -> list[StepEvent]:
    return checkpoints.take_notices() if checkpoints else []
