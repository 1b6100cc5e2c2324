"""The steps both forecast pipelines share: loading the data (or reusing an earlier attempt's), the prepare and
evaluate events, and the table of test predictions (:mod:`~trainforge.pipeline.forecast` and
:mod:`~trainforge.pipeline._baseline_only`)."""

from __future__ import annotations

import time
from collections.abc import Generator
from typing import Any

import numpy as np
import pandas as pd

from trainforge.features.store import ParquetFeatureStore
from trainforge.models.forecaster import forecast_keys
from trainforge.pipeline.checkpoints import DataSnapshot, StepCheckpoints
from trainforge.pipeline.config import TrainingConfig
from trainforge.pipeline.load import data_hash, load_training_data
from trainforge.pipeline.prepare import ForecastDesign, ForecastRows
from trainforge.pipeline.result import STEPS, StepEvent, scalar_metrics


def prediction_frame(
    design: ForecastDesign,
    rows: ForecastRows,
    forecast: np.ndarray,
    baseline: np.ndarray,
    bounds: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """The test forecasts, one row per (series, origin, lead): ``series_id``, ``origin``, ``timestamp``, ``step``,
    ``actual``, ``forecast``, ``baseline`` and the interval bounds (``lo_80``, ``hi_80``, ...)."""
    return pd.DataFrame(
        {
            **forecast_keys(design.panel, rows.rows, rows.lead),
            "actual": rows.actual,
            "forecast": forecast,
            "baseline": baseline,
            **(bounds or {}),
        }
    )


def prepare_event(design: ForecastDesign, sizes: dict[str, float]) -> StepEvent:
    """The ``prepare`` step's event: what the split holds and which baseline won on validation."""
    scores = ", ".join(f"season {season}: {mae:.4g}" for season, mae in design.baseline_val_mae.items())
    return StepEvent(
        "prepare",
        f"Prepared {len(design.spec.feature_columns)} features for leads 1..{design.horizon}: "
        f"{int(sizes['train_rows']):,} train, {int(sizes['val_rows']):,} validation, {int(sizes['test_rows']):,} "
        f"test rows (test from {design.test_start.isoformat()}); seasonal-naive baseline: season "
        f"{design.baseline_season} (validation MAE {scores})",
        progress=STEPS["prepare"],
        metrics={**sizes, "features": float(len(design.spec.feature_columns))},
    )


def evaluate_event(metrics: dict[str, Any], levels: list[int]) -> StepEvent:
    """The ``evaluate`` step's event: the test metrics against the baseline (scalars only: live metrics are
    numbers; ``per_step`` stays in the result)."""
    covered = ", ".join(f"{level}% interval covers {100 * metrics[f'coverage_{level}']:.1f}%" for level in levels)
    return StepEvent(
        "evaluate",
        f"Test MAE {metrics['mae']:.4g} vs seasonal-naive {metrics['baseline_mae']:.4g} "
        f"(RMSE {metrics['rmse']:.4g} vs {metrics['baseline_rmse']:.4g}, "
        f"MASE {metrics['mase']:.3f} vs {metrics['baseline_mase']:.3f})" + (f"; {covered}" if covered else ""),
        progress=STEPS["evaluate"],
        metrics=scalar_metrics(metrics),
    )


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
