"""Forecast accuracy: MAE, RMSE, MAPE, sMAPE and MASE, overall and per lead, and interval coverage.

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


def mase(actual: ArrayLike, forecast: ArrayLike, scale: ArrayLike) -> float:
    """Mean absolute scaled error: the mean of ``|f - a| / scale``, where each row's ``scale`` is its series'
    in-sample MAE of the seasonal-naive forecast (Hyndman & Koehler, 2006); rows without a scale are skipped."""
    a, f, s = (np.asarray(values, dtype=float) for values in (actual, forecast, scale))
    usable = np.isfinite(a) & np.isfinite(f) & np.isfinite(s) & (s > 0)
    return float(np.mean(np.abs(f[usable] - a[usable]) / s[usable])) if usable.any() else float("nan")


def forecast_metrics(
    actual: ArrayLike, forecast: ArrayLike, prefix: str = "", scale: ArrayLike | None = None
) -> dict[str, float]:
    """``{prefix}mae``, ``rmse``, ``mape`` and ``smape`` of one forecast, and ``mase`` given each row's scale."""
    metrics = {
        f"{prefix}mae": mae(actual, forecast),
        f"{prefix}rmse": rmse(actual, forecast),
        f"{prefix}mape": mape(actual, forecast),
        f"{prefix}smape": smape(actual, forecast),
    }
    if scale is not None:
        metrics[f"{prefix}mase"] = mase(actual, forecast, scale)
    return metrics


def compare_with_baseline(
    actual: ArrayLike, forecast: ArrayLike, baseline: ArrayLike, scale: ArrayLike | None = None
) -> Mapping[str, float]:
    """The model's metrics and the baseline's (keys prefixed ``baseline_``), on the same actuals."""
    return {
        **forecast_metrics(actual, forecast, scale=scale),
        **forecast_metrics(actual, baseline, prefix="baseline_", scale=scale),
    }


def per_step_metrics(
    actual: np.ndarray, forecast: np.ndarray, baseline: np.ndarray, lead: np.ndarray, scale: np.ndarray | None = None
) -> list[dict[str, float]]:
    """One entry per lead present in ``lead``: ``{"step": k, **compare_with_baseline(...)}`` of its rows."""
    entries = []
    for step in np.unique(lead):
        at = lead == step
        metrics = compare_with_baseline(actual[at], forecast[at], baseline[at], None if scale is None else scale[at])
        entries.append({"step": int(step), "rows": int(np.count_nonzero(at)), **metrics})
    return entries


def coverage(actual: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> float:
    """Share of the rows (0..1) whose actual lies within ``[lower, upper]``; rows with a missing value skipped."""
    a, lo, hi = (np.asarray(values, dtype=float) for values in (actual, lower, upper))
    usable = np.isfinite(a) & np.isfinite(lo) & np.isfinite(hi)
    return float(np.mean((a[usable] >= lo[usable]) & (a[usable] <= hi[usable]))) if usable.any() else float("nan")


def _pairs(actual: ArrayLike, forecast: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(actual, dtype=float)
    f = np.asarray(forecast, dtype=float)
    if a.shape != f.shape:
        raise ValueError(f"actual and forecast differ in shape: {a.shape} vs {f.shape}")
    present = np.isfinite(a) & np.isfinite(f)
    return a[present], f[present]
