"""Rolling-origin backtest (``config.backtest``): forecast every lead from a few origins before the test split.

Like statsforecast's ``cross_validation``: ``n_windows`` origins ``step_size`` steps apart, the last one leaving
exactly ``horizon`` steps before the test split; each window forecasts every series for leads 1..horizon. With
``refit`` the model is refitted on everything up to each origin (with the rounds early stopping chose), so each
window is forecast as a model trained that day would have; without, the model fitted on the training split
forecasts every window, which must then lie in the validation period it never trained on.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from trainforge.errors import InsufficientData, InvalidInput
from trainforge.models.family import ModelFamily
from trainforge.pipeline.config import BacktestConfig
from trainforge.pipeline.evaluate import mae
from trainforge.pipeline.prepare import ForecastDesign, ForecastRows
from trainforge.pipeline.result import STEPS, StepEvent

__all__ = ["BacktestResult", "backtest_origins", "run_backtest"]


@dataclass
class BacktestResult:
    """The windows' scores, and their residuals relative to the level (the intervals' calibration)."""

    metrics: dict[str, Any] = field(default_factory=dict)
    residuals: np.ndarray = field(default_factory=lambda: np.empty(0))
    lead: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))


def backtest_origins(design: ForecastDesign, backtest: BacktestConfig) -> list[pd.Timestamp]:
    """The windows' origins, oldest first; the last one ``horizon`` steps before the test split.

    Raises:
        InvalidInput: without ``refit``, the first window would start before the validation split
            (``field="config.backtest.n_windows"``).
    """
    step, horizon = design.step, design.horizon
    last = design.test_start - (horizon + 1) * step
    size = backtest.step_size or horizon
    origins = [last - (backtest.n_windows - 1 - index) * size * step for index in range(backtest.n_windows)]
    if not backtest.refit and origins[0] + step < design.val_start:
        raise InvalidInput(
            f"without refit the backtest windows must lie in the validation split (from {design.val_start}), "
            f"but the first one starts at {origins[0] + step}: use fewer windows, a smaller step_size, or refit",
            field="config.backtest.n_windows",
        )
    return origins


def window_rows(design: ForecastDesign, origins: list[pd.Timestamp]) -> list[ForecastRows]:
    """Each window's rows (every series, every lead).

    Raises:
        InsufficientData: a window has no series with enough history at its origin.
    """
    windows = [design.window_rows(origin) for origin in origins]
    for origin, rows in zip(origins, windows, strict=True):
        if not len(rows):
            raise InsufficientData(
                f"the backtest window from {origin.isoformat()} has no series with enough history to forecast",
                field="config.backtest.n_windows",
            )
    return windows


def run_backtest(
    design: ForecastDesign,
    backtest: BacktestConfig,
    family: ModelFamily,
    params: Mapping[str, Any],
    fitted: Any,
    rounds: int,
    num_threads: int | None,
) -> Generator[StepEvent, None, BacktestResult]:
    """Score every window; yields one event per window and returns the scores and residuals.

    Metrics: ``backtest_mae`` and ``backtest_baseline_mae`` (means over the windows), and ``backtest_windows``:
    ``{"cutoff", "mae", "baseline_mae", "rows"}`` per window.
    """
    origins = backtest_origins(design, backtest)
    windows, residuals, leads = [], [], []
    for index, (origin, rows) in enumerate(zip(origins, window_rows(design, origins), strict=True), start=1):
        model = fitted
        if backtest.refit:
            history = design.sample_rows(design.usable[design.panel.times[design.usable] <= origin])
            model = family.refit(history.inputs, history.model_target, params, rounds, num_threads)
        forecast = rows.to_forecast(family.predict(model, rows.inputs))
        score = {
            "cutoff": origin.isoformat(),
            "mae": mae(rows.actual, forecast),
            "baseline_mae": mae(rows.actual, design.baseline(rows)),
            "rows": len(rows),
        }
        windows.append(score)
        residuals.append((rows.actual - forecast) / rows.level)
        leads.append(rows.lead)
        yield StepEvent(
            "evaluate",
            f"Backtest window {index}/{len(origins)} from {score['cutoff']}: MAE {score['mae']:.4g} vs "
            f"seasonal-naive {score['baseline_mae']:.4g}" + (" (refitted)" if backtest.refit else ""),
            progress=STEPS["fit"] + (STEPS["evaluate"] - STEPS["fit"]) * index / (len(origins) + 1),
        )
    metrics = {
        "backtest_mae": float(np.mean([w["mae"] for w in windows])),
        "backtest_baseline_mae": float(np.mean([w["baseline_mae"] for w in windows])),
        "backtest_windows": windows,
    }
    return BacktestResult(metrics, np.concatenate(residuals), np.concatenate(leads))
