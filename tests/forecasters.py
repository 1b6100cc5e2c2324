"""Small real forecasters for tests: a few hourly series and a model fitted on them by the pipeline's own code."""

from __future__ import annotations

import numpy as np
import pandas as pd

from trainforge.models import lightgbm_forecast
from trainforge.models.families import validate_hyperparams
from trainforge.models.forecaster import Forecaster, history_example
from trainforge.pipeline.config import TrainingConfig
from trainforge.pipeline.intervals import residual_quantiles
from trainforge.pipeline.prepare import prepare_forecast

TARGET = "load_kw"
COVARIATE = "temperature"


def hourly_history(n_series: int = 2, days: int = 28, seed: int = 0, start: str = "2024-01-01") -> pd.DataFrame:
    """Hourly load with a daily shape and a weekend drop, and a temperature, for ``meter-1``, ``meter-2``, ..."""
    rng = np.random.default_rng(seed)
    times = pd.date_range(start, periods=24 * days, freq="h", tz="UTC")
    frames = []
    for series in range(n_series):
        temperature = rng.normal(10, 5, len(times))
        load = (
            100 * (series + 1)
            + 20 * np.sin(2 * np.pi * times.hour / 24)
            - 15 * (times.day_of_week >= 5)
            + 0.5 * temperature
            + rng.normal(0, 2, len(times))
        )
        frames.append(
            pd.DataFrame({"timestamp": times, "series_id": f"meter-{series + 1}", TARGET: load, COVARIATE: temperature})
        )
    return pd.concat(frames, ignore_index=True)


def small_forecaster(history: pd.DataFrame | None = None, *, horizon: int = 24, rounds: int = 20) -> Forecaster:
    """A forecaster fitted for ``rounds`` rounds on the rows before the test split, with intervals calibrated on
    them (good enough to forecast with; not a model to judge)."""
    history = hourly_history() if history is None else history
    design = prepare_forecast(history, TARGET, TrainingConfig(horizon=horizon), [COVARIATE], "h")
    rows = design.sample("before_test")
    params = validate_hyperparams("lightgbm", {"num_leaves": 15})
    booster = lightgbm_forecast.fit_rounds(rows.inputs, rows.model_target, params, rounds, 1)
    residuals = rows.actual / rows.level - lightgbm_forecast.predict(booster, rows.inputs)
    design.spec.residual_quantiles = residual_quantiles(residuals, rows.lead, horizon)
    return Forecaster(design.spec, booster, example=history_example(design.panel, design.spec))
