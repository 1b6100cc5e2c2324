"""What the pipeline emits: progress events while it runs, and one result at the end.

The pipeline is a generator (so Ray can stream its events back to the worker, which alone writes to the database):
it yields :class:`StepEvent` objects and, last, a :class:`PipelineResult`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

# The steps of a forecast job, in order, with the share of the job's progress each one ends at.
STEPS: dict[str, float] = {"load": 0.15, "prepare": 0.30, "fit": 0.80, "evaluate": 0.90, "register": 1.0}


@dataclass(frozen=True)
class StepEvent:
    """Something the worker should record: a log line, and optionally progress and live metrics."""

    step: str
    message: str
    progress: float | None = None  # 0..1 of the whole job
    level: str = "INFO"
    metrics: dict[str, float] | None = None


@dataclass
class Lineage:
    """Where a model came from: enough to reproduce its training data."""

    tenant_id: str
    feature_set: str
    target_variable: str
    start: str  # ISO timestamps of the rows actually used
    end: str
    row_count: int
    series_count: int
    data_hash: str  # sha256 of the loaded rows (values and timestamps)
    feature_columns: list[str]
    refit_on_all: bool = False  # the registered model was fitted on the test rows too (config.refit_on_all)


@dataclass
class PipelineResult:
    """A fitted model, its hyperparameters and metrics, its lineage, and the test predictions for plots."""

    model_family: str  # the family's one name, e.g. "lightgbm"
    model: Any  # the fitted model (a trainforge.models.forecaster.Forecaster), None for seasonal_naive
    hyperparams: dict[str, Any]
    # Scalars {"mae", "rmse", "mape", "smape", "mase", "baseline_mae", ..., "coverage_80", ...}, and lists:
    # "per_step" (one dict per lead) and, with a backtest, "backtest_windows" (one dict per window).
    metrics: dict[str, Any]
    lineage: Lineage
    # Test forecasts, one row per (series, origin, lead): series_id, origin, timestamp, step, actual, forecast,
    # baseline, lo_<level>, hi_<level> (pipeline._steps.prediction_frame). None when the job registers no model
    # (config.registers_model is false): they only feed the registered version's plots and predictions table, and
    # building and shipping them was a tenth of a short evaluation job's work.
    test_predictions: pd.DataFrame | None
    step_seconds: dict[str, float] = field(default_factory=dict)


def scalar_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """The numeric entries of a metrics dict, without the lists (``per_step``, ``backtest_windows``): what live
    metrics, MLflow run metrics and version tags hold."""
    return {name: float(value) for name, value in metrics.items() if isinstance(value, int | float)}
