"""The seasonal-naive baseline every forecast model must beat."""

from __future__ import annotations

import math

import numpy as np
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
    source_times = _nanoseconds(history[TIMESTAMP] + back)  # the time each past value is a forecast for
    wanted_times = _nanoseconds(at[TIMESTAMP])
    values = history[target].to_numpy(dtype=float)
    codes, _ = pd.factorize(np.concatenate([_labels(history[SERIES_ID]), _labels(at[SERIES_ID])]))
    source_rows = _rows_by_code(codes[: len(history)])
    forecast = np.full(len(at), np.nan)
    # One hash lookup per series rather than a merge on (timestamp, series_id): the merge cost a few milliseconds
    # even on a short series, most of a seasonal-naive job's own work.
    for code, wanted in _rows_by_code(codes[len(history) :]).items():
        rows = source_rows.get(code)
        if rows is None:
            continue
        times = pd.Index(source_times[rows])
        if not times.is_unique:
            raise InvalidInput(f"series {at[SERIES_ID].iloc[wanted[0]]!r} repeats a timestamp", field=TIMESTAMP)
        found = times.get_indexer(wanted_times[wanted])
        hit = found >= 0
        forecast[wanted[hit]] = values[rows[found[hit]]]
    return pd.Series(forecast, index=at.index, name=f"{target}_seasonal_naive")


def _nanoseconds(times: pd.Series) -> np.ndarray:
    return pd.DatetimeIndex(times).as_unit("ns").asi8


def _labels(series_ids: pd.Series) -> np.ndarray:
    return series_ids.astype("str").to_numpy()


def _rows_by_code(codes: np.ndarray) -> dict[int, np.ndarray]:
    """The row positions of each code, in row order."""
    order = np.argsort(codes, kind="stable")
    starts = np.flatnonzero(np.diff(codes[order])) + 1
    return {int(codes[group[0]]): group for group in np.split(order, starts) if len(group)}
