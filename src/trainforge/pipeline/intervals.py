"""Conformal prediction intervals: per lead, the quantiles of calibration residuals relative to the level.

Split conformal prediction (Vovk et al.; the residual approach of statsforecast's and mlforecast's
``PredictionIntervals``): the model forecasts rows it was not fitted on (the validation split, or the backtest
windows when there are some), and the distribution of its errors at each lead is what later forecasts at that lead
are given as intervals. Errors are divided by each row's level, as the model's target is, so one table serves
series of every size. Signed residuals, not absolute ones: load forecasts err more often on one side (a cold
morning), and a quantile ``q`` is read straight off the table.
"""

from __future__ import annotations

import numpy as np

from trainforge.models.forecaster import QUANTILE_GRID

# A lead with fewer calibration residuals than this borrows every lead's: a quantile of a handful is noise.
MIN_RESIDUALS_PER_LEAD = 30

__all__ = ["MIN_RESIDUALS_PER_LEAD", "interval_quantiles", "residual_quantiles"]


def residual_quantiles(relative_residuals: np.ndarray, lead: np.ndarray, horizon: int) -> list[list[float]]:
    """The quantile table of a forecaster: row ``k - 1`` holds lead ``k``'s residual quantiles at ``QUANTILE_GRID``.

    Args:
        relative_residuals: ``(actual - forecast) / level`` of the calibration rows.
        lead: Each row's lead.
        horizon: Leads 1..horizon get a row each.
    """
    finite = np.isfinite(relative_residuals)
    residuals, lead = relative_residuals[finite], lead[finite]
    if not len(residuals):
        return []
    pooled = np.quantile(residuals, QUANTILE_GRID)
    table = []
    for step in range(1, horizon + 1):
        at = residuals[lead == step]
        table.append((np.quantile(at, QUANTILE_GRID) if len(at) >= MIN_RESIDUALS_PER_LEAD else pooled).tolist())
    return table


def interval_quantiles(level: int) -> tuple[float, float]:
    """The lower and upper quantile of a central interval of ``level`` percent (80 → 0.1, 0.9)."""
    tail = (1 - level / 100) / 2
    return tail, 1 - tail
