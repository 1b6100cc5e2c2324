"""Forecast accuracy: MAE, RMSE, MAPE and sMAPE.

Every metric skips pairs where the actual or the forecast is missing, so a baseline with a few gaps is scored
on the rows it covers.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

# MAPE divides by the actual; values this close to zero (idle meters) would make it explode, so they are skipped.
MAPE_EPSILON = 1e-6

ArrayLike = npt.ArrayLike


def mae(actual: ArrayLike, forecast: ArrayLike) -> float:
    """Mean absolute error."""
    a, f = _pairs(actual, forecast)
    return float(np.mean(np.abs(f - a))) if a.size else float("nan")


def rmse(actual: ArrayLike, forecast: ArrayLike) -> float:
    """Root mean squared error."""
    a, f = _pairs(actual, forecast)
    return float(np.sqrt(np.mean((f - a) ** 2))) if a.size else float("nan")


def mape(actual: ArrayLike, forecast: ArrayLike, epsilon: float = MAPE_EPSILON) -> float:
    """Mean absolute percentage error, in percent, over the rows with ``|actual| > epsilon``.

    Rows whose actual is (nearly) zero have no meaningful percentage error and are left out; ``nan`` if no row
    remains.
    """
    a, f = _pairs(actual, forecast)
    usable = np.abs(a) > epsilon
    if not usable.any():
        return float("nan")
    return float(100.0 * np.mean(np.abs((f[usable] - a[usable]) / a[usable])))


def smape(actual: ArrayLike, forecast: ArrayLike) -> float:
    """Symmetric MAPE in percent (0..200): mean of ``2|f - a| / (|a| + |f|)``, skipping rows where both are 0."""
    a, f = _pairs(actual, forecast)
    scale = np.abs(a) + np.abs(f)
    usable = scale > 0
    if not usable.any():
        return float("nan")
    return float(100.0 * np.mean(2.0 * np.abs(f[usable] - a[usable]) / scale[usable]))


def forecast_metrics(actual: ArrayLike, forecast: ArrayLike, prefix: str = "") -> dict[str, float]:
    """``{prefix}mae``, ``rmse``, ``mape`` and ``smape`` of one forecast."""
    return {
        f"{prefix}mae": mae(actual, forecast),
        f"{prefix}rmse": rmse(actual, forecast),
        f"{prefix}mape": mape(actual, forecast),
        f"{prefix}smape": smape(actual, forecast),
    }


def compare_with_baseline(actual: ArrayLike, forecast: ArrayLike, baseline: ArrayLike) -> Mapping[str, float]:
    """The model's metrics and the baseline's (keys prefixed ``baseline_``), on the same actuals."""
    return {**forecast_metrics(actual, forecast), **forecast_metrics(actual, baseline, prefix="baseline_")}


def _pairs(actual: ArrayLike, forecast: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(actual, dtype=float)
    f = np.asarray(forecast, dtype=float)
    if a.shape != f.shape:
        raise ValueError(f"actual and forecast differ in shape: {a.shape} vs {f.shape}")
    present = np.isfinite(a) & np.isfinite(f)
    return a[present], f[present]
