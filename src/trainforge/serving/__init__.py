"""Forecasts of registered models, for the predict API: the request, which version answers, the loaded-model
cache and the history a forecast starts from.

Importing this package does not import MLflow or LightGBM: the registry is built, and models loaded, on the first
forecast.
"""

from __future__ import annotations

from trainforge.serving._cache import LoadingCache
from trainforge.serving._predictor import CHAMPION_ALIAS, Forecast, LoadedModel, Predictor
from trainforge.serving._request import HistoryRow, PredictRequest, quantile_key

__all__ = [
    "CHAMPION_ALIAS",
    "Forecast",
    "HistoryRow",
    "LoadedModel",
    "LoadingCache",
    "PredictRequest",
    "Predictor",
    "quantile_key",
]
