"""Experiment tracking on MLflow: runs of training jobs, their plots, and the boundary with MLflow's API.

Everything is loaded on first access, so importing the package costs nothing until MLflow or matplotlib is needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trainforge._lazy import lazy_exports

if TYPE_CHECKING:
    from trainforge.tracking.mlflow_backend import MlflowBackend
    from trainforge.tracking.mlflow_errors import mlflow_errors
    from trainforge.tracking.mlflow_runs import TrainingRuns
    from trainforge.tracking.naming import experiment_name
    from trainforge.tracking.plots import forecast_vs_actual

_EXPORTS = {
    "MlflowBackend": "trainforge.tracking.mlflow_backend",
    "TrainingRuns": "trainforge.tracking.mlflow_runs",
    "experiment_name": "trainforge.tracking.naming",
    "forecast_vs_actual": "trainforge.tracking.plots",
    "mlflow_errors": "trainforge.tracking.mlflow_errors",
}

__all__ = ["MlflowBackend", "TrainingRuns", "experiment_name", "forecast_vs_actual", "mlflow_errors"]

__getattr__ = lazy_exports(__name__, _EXPORTS)
