"""The seasonal-naive baseline every forecast model must beat."""

from __future__ import annotations

import math

import pandas as pd

from trainforge.errors import InvalidInput

SERIES_ID = "series_id"
TIMESTAMP = "timestamp"


def seasonal_naive_lag(season: int, horizon: int) -> int:
    """Steps back to the latest value of the same season phase known ``horizon`` steps ahead.

    That is ``season * ceil(horizon / season)``: for hourly data with a daily season, 24 for horizons 1..24 and
    48 for horizons 25..48.
    """
    if season < 1 or horizon < 1:
        raise InvalidInput(f"season and horizon must be at least 1, got {season} and {horizon}", field="config.horizon")
    return season * math.ceil(horizon / season)


def seasonal_naive(
    history: pd.DataFrame,
    target: str,
    *,
    season: int,
    horizon: int,
    freq: str,
    at: pd.DataFrame | None = None,
) -> pd.Series:
    """Forecast ``y[t]`` as ``y[t - season * ceil(horizon / season)]`` of the same series.

    The lookup is by timestamp, not by row position, so gaps in the history give a missing forecast rather
    than a value from the wrong time.

    Args:
        history: Columns ``timestamp``, ``series_id`` and ``target``: the values forecasts are read from.
        target: Column to forecast.
        season: Season length in steps (24 for a daily season in hourly data).
        horizon: Steps between the forecast origin and the forecast time.
        freq: Pandas offset alias of one step.
        at: Rows (``timestamp``, ``series_id``) to forecast; ``history`` itself when ``None``.

    Returns:
        The forecasts, aligned with ``at``'s index; missing where the history has no value that far back.
    """
    at = history if at is None else at
    back = seasonal_naive_lag(season, horizon) * pd.Timedelta(pd.tseries.frequencies.to_offset(freq))
    source = pd.DataFrame(
        {
            TIMESTAMP: history[TIMESTAMP] + back,  # the time each past value is a forecast for
            SERIES_ID: history[SERIES_ID].astype("str"),
            "_forecast": history[target].astype(float),
        }
    )
    wanted = pd.DataFrame({TIMESTAMP: at[TIMESTAMP], SERIES_ID: at[SERIES_ID].astype("str")})
    merged = wanted.merge(source, on=[TIMESTAMP, SERIES_ID], how="left", validate="many_to_one")
    return pd.Series(merged["_forecast"].to_numpy(), index=at.index, name=f"{target}_seasonal_naive")
