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


@dataclass
class PipelineResult:
    """A fitted model, its hyperparameters and metrics, its lineage, and the test predictions for plots."""

    model_family: str  # the family's one name, e.g. "lightgbm"
    model: Any  # the fitted model object (picklable; a lightgbm.Booster for the forecast family)
    hyperparams: dict[str, Any]
    metrics: dict[str, float]  # {"mae", "rmse", "mape", "baseline_mae", "baseline_rmse", "baseline_mape", ...}
    lineage: Lineage
    # Test-split rows: columns timestamp, series_id, actual, forecast, baseline. None when the job registers no model
    # (config.registers_model is false): they only feed the registered version's plots and predictions table, and
    # building and shipping them was a tenth of a short evaluation job's work.
    test_predictions: pd.DataFrame | None
    step_seconds: dict[str, float] = field(default_factory=dict)
