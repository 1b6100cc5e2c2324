"""Prepare a panel of series for a direct forecast: features that only look back, and a split by time.

For a horizon ``h``, the row for time ``t`` of series ``s`` holds ``y[s, t]`` and features built only from
values at or before ``t - h`` (the forecast origin), plus the calendar of ``t`` itself, which is known in
advance. One global model is fitted over all series, with ``series_id`` as a categorical feature.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from trainforge.errors import InsufficientData, InvalidInput
from trainforge.features.frequency import infer_frequency, steps_per
from trainforge.pipeline._calendar import calendar_features

SERIES_ID = "series_id"
TIMESTAMP = "timestamp"
# Fewer rows than this cannot give a model, its early stopping and its test a row each worth the name.
MIN_ROWS = 100
MIN_TIMESTAMPS = 10
# Levels below this are treated as zero (no scale to divide by).
_TINY = 1e-9

__all__ = [
    "MIN_ROWS",
    "ForecastFeatures",
    "TimeSplit",
    "build_features",
    "feature_lags",
    "infer_frequency",
    "time_split",
]


@dataclass(frozen=True)
class ForecastFeatures:
    """The output of :func:`build_features`.

    The model does not learn the target itself but the target divided by the series' level at the forecast
    origin: the latest value at the same time of day (the seasonal-naive forecast), or the mean absolute value
    over the last week where that is missing or zero. Target-derived features are divided by the same level. The
    model thus learns a correction of the seasonal-naive forecast that is the same for series of any size, and
    stays close to that forecast in regimes it has not seen (a first summer); on real load data this is the
    difference between beating the baseline and not. Use :meth:`inputs`, :meth:`model_target` and
    :meth:`to_forecast` rather than the columns directly.

    Attributes:
        frame: One row per usable (series, time): ``timestamp``, ``series_id`` (categorical), the target,
            ``level_column`` and the feature columns. Its index holds the labels the rows had in the input frame.
        target: Name of the target column.
        feature_columns: The model's inputs, in order (``series_id`` and the level included).
        level_column: Column holding the level each row's target-derived features and model target are
            divided by.
        horizon: Steps between the forecast origin and the forecast time.
        warmup: Steps of history a series needs before its first usable row.
    """

    frame: pd.DataFrame
    target: str
    feature_columns: list[str]
    level_column: str
    horizon: int
    warmup: int

    def inputs(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The model's input matrix for ``rows`` (a subset of :attr:`frame`)."""
        return rows[self.feature_columns]

    def model_target(self, rows: pd.DataFrame) -> pd.Series:
        """What the model learns for ``rows``: the target relative to the level at the forecast origin."""
        return rows[self.target] / rows[self.level_column]

    def to_forecast(self, rows: pd.DataFrame, model_output: np.ndarray) -> np.ndarray:
        """Turn the model's output for ``rows`` back into forecasts in the target's units."""
        return np.asarray(model_output, dtype=float) * rows[self.level_column].to_numpy(dtype=float)


class TimeSplit(NamedTuple):
    """Train, validation and test rows, in time order (test is the most recent)."""

    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame


def feature_lags(horizon: int, freq: str) -> tuple[list[int], list[int]]:
    """The target lags and rolling-window lengths (in steps) used for ``horizon`` at frequency ``freq``.

    Lags are ``h, h+1, h+2`` (the latest values at the origin), the latest same-hour-of-day value and the one a
    day before it, and the latest same-hour-of-week value (each the smallest multiple of the season that is at
    least ``h``). Rolling windows span one day and one week. Seasons that are not a whole number of steps
    (e.g. for monthly data) are left out.
    """
    day, week = steps_per("1D", freq), steps_per("7D", freq)
    lags = {horizon, horizon + 1, horizon + 2}
    if day:
        same_hour = day * math.ceil(horizon / day)
        lags |= {same_hour, same_hour + day}
    if week:
        lags.add(week * math.ceil(horizon / week))
    windows = [w for w in (day, week) if w > 1] or [3]
    return sorted(lags), windows


def _anchor_lag(horizon: int, freq: str) -> int:
    """The lag of the seasonal-naive forecast with a daily season (the latest value known at the same hour)."""
    day = steps_per("1D", freq)
    return day * math.ceil(horizon / day) if day else horizon


def build_features(
    df: pd.DataFrame,
    target: str,
    horizon: int,
    covariates: Sequence[str] = (),
    freq: str | None = None,
    *,
    holiday_country: str = "US",
) -> ForecastFeatures:
    """Features for predicting ``target`` at time ``t`` from values at or before ``t - horizon``.

    Features: target lags (:func:`feature_lags`), the mean and standard deviation of the target over windows
    ending at ``t - horizon``, each covariate at ``t - horizon``, the calendar of ``t`` (hour, day of week,
    month, day of year, holiday flag) and ``series_id``. Target-derived features are divided by the series'
    level at the origin, which is a feature itself (see :class:`ForecastFeatures`). Gaps in a series are
    filled with missing values before shifting, so a lag is always the value exactly ``k`` steps back (or
    missing, which LightGBM handles).

    Rows are dropped when the series has less than ``warmup`` steps of history before them (their lags would
    reach before the series began) and when their target is missing (nothing to learn or score).

    Args:
        df: Columns ``timestamp``, ``series_id``, the target and the covariates (any order, any index).
        target: Column to forecast.
        horizon: Steps ahead (``h`` ≥ 1).
        covariates: Numeric columns to use, lagged by ``horizon``.
        freq: Pandas offset alias of the data; inferred when ``None``.
        holiday_country: Country whose public holidays set ``is_holiday``.

    Returns:
        The feature frame (rows sorted by series, then time) and its description.

    Raises:
        InvalidInput: A column is missing or not numeric, or timestamps are off the frequency's grid.
        InsufficientData: No row has enough history.
    """
    if horizon < 1:
        raise InvalidInput(f"horizon must be at least 1, got {horizon}", field="config.horizon")
    for column in (TIMESTAMP, SERIES_ID, target, *covariates):
        if column not in df.columns:
            raise InvalidInput(f"column {column!r} not found; the columns are {list(df.columns)}", field=column)
    for column in (target, *covariates):
        if not pd.api.types.is_numeric_dtype(df[column]) or pd.api.types.is_bool_dtype(df[column]):
            raise InvalidInput(f"column {column!r} has type {df[column].dtype}; it must be numeric", field=column)
    freq = freq or infer_frequency(df[TIMESTAMP], df[SERIES_ID])
    lags, windows = feature_lags(horizon, freq)
    warmup = max(max(lags), horizon + max(windows) - 1)

    grid = _regular_grid(df, [target, *covariates], freq)
    by_series = grid.groupby(SERIES_ID, sort=False, observed=True)
    # Every kept row has pos >= warmup >= h + w - 1, so a rolling window over the whole (series-sorted) column
    # lies inside the row's own series; earlier rows, whose windows cross into the previous series, are dropped.
    at_origin = by_series[target].shift(horizon)
    anchor = by_series[target].shift(_anchor_lag(horizon, freq)).abs()
    typical = at_origin.abs().rolling(max(windows), min_periods=1).mean()
    # A series that was zero (or missing) for a whole window has no level: it is forecast in its own units.
    level = anchor.where(anchor > _TINY, typical.where(typical > _TINY, 1.0))
    relative: dict[str, pd.Series] = {}
    for lag in lags:
        relative[f"{target}_lag_{lag}"] = by_series[target].shift(lag)
    for window in windows:
        rolling = at_origin.rolling(window, min_periods=max(1, window // 2))
        relative[f"{target}_mean_{window}"] = rolling.mean()
        relative[f"{target}_std_{window}"] = rolling.std()
    columns = {name: values / level for name, values in relative.items()}
    level_column = f"{target}_level"
    columns[level_column] = level
    for covariate in covariates:
        columns[f"{covariate}_lag_{horizon}"] = by_series[covariate].shift(horizon)

    keep = (grid["_pos"].to_numpy() >= warmup) & grid["_observed"].to_numpy() & grid[target].notna().to_numpy()
    if not keep.any():
        longest = int(grid["_pos"].max()) + 1
        raise InsufficientData(
            f"no usable rows: with horizon {horizon} each series needs more than {warmup} steps of history, "
            f"and the longest has {longest}",
            field="config.horizon",
        )
    # Select the kept rows on plain arrays: one take per column instead of building the full frame first.
    lagged = pd.DataFrame({name: values.to_numpy(dtype=np.float32)[keep] for name, values in columns.items()})
    kept = grid.loc[keep].reset_index(drop=True)
    calendar = calendar_features(kept[TIMESTAMP], country=holiday_country, with_hour=steps_per("1D", freq) > 1)
    frame = pd.concat([kept[[TIMESTAMP, SERIES_ID, target]], lagged, calendar], axis=1)
    frame.index = df.index[kept["_row"].to_numpy()]
    feature_columns = [SERIES_ID, *lagged.columns, *calendar.columns]
    return ForecastFeatures(frame, target, feature_columns, level_column, horizon, warmup)


def time_split(frame: pd.DataFrame, validation_split: float, test_split: float) -> TimeSplit:
    """Split rows by global time cut-offs over the unique timestamps, never shuffling.

    The last ``test_split`` of the timestamps are the test rows, the ``validation_split`` before them the
    validation rows, and the rest the training rows; every series is cut at the same instants.

    Args:
        frame: Rows with a ``timestamp`` column.
        validation_split: Fraction of timestamps for validation (0 < x < 1).
        test_split: Fraction of timestamps for test (0 < x < 1).

    Returns:
        ``TimeSplit(train, val, test)``.

    Raises:
        InsufficientData: Too few rows or timestamps to give each part some.
    """
    if not (0 < validation_split < 1 and 0 < test_split < 1 and validation_split + test_split < 1):
        raise InvalidInput(
            "validation_split and test_split must be in (0, 1) and sum to less than 1", field="config.validation_split"
        )
    # Integer ticks: a tz-aware column's to_numpy() would be an array of Timestamp objects, 50x slower.
    ticks = pd.DatetimeIndex(frame[TIMESTAMP]).as_unit("us").asi8
    timestamps = np.unique(ticks)
    n = len(timestamps)
    if len(frame) < MIN_ROWS or n < MIN_TIMESTAMPS:
        raise InsufficientData(
            f"{len(frame)} usable rows over {n} timestamps are too few to split into train, validation and test; "
            f"at least {MIN_ROWS} rows over {MIN_TIMESTAMPS} timestamps are needed",
            field="config.start_date",
        )
    n_test = max(1, round(n * test_split))
    n_val = max(1, round(n * validation_split))
    val_start, test_start = timestamps[n - n_test - n_val], timestamps[n - n_test]
    return TimeSplit(
        train=frame.loc[ticks < val_start],
        val=frame.loc[(ticks >= val_start) & (ticks < test_start)],
        test=frame.loc[ticks >= test_start],
    )


def _regular_grid(df: pd.DataFrame, value_columns: list[str], freq: str) -> pd.DataFrame:
    """The panel on a gap-free grid per series: row ``pos`` of a series is ``pos`` steps after its first time.

    Returns columns ``timestamp``, ``series_id`` (categorical), the value columns as float64 (missing where
    a step was absent), ``_pos``, ``_observed`` (the row came from ``df``) and ``_row`` (its position in ``df``).
    """
    tick = pd.Timedelta(pd.tseries.frequencies.to_offset(freq)) // pd.Timedelta(microseconds=1)
    series = pd.Categorical(df[SERIES_ID].astype("str"))
    stamps = pd.DatetimeIndex(df[TIMESTAMP]).as_unit("us")
    order = np.lexsort((stamps.asi8, series.codes))
    codes = series.codes[order]
    ticks = stamps.asi8[order]

    first = np.full(len(series.categories), np.iinfo(np.int64).max)
    np.minimum.at(first, codes, ticks)
    offset = ticks - first[codes]
    off_grid = int(np.count_nonzero(offset % tick))
    if off_grid:
        raise InvalidInput(f"{off_grid} timestamps are not on the {freq!r} grid of their series", field=TIMESTAMP)
    pos = offset // tick
    if np.any((np.diff(pos) == 0) & (np.diff(codes) == 0)):
        raise InvalidInput("some (series_id, timestamp) pairs repeat", field=TIMESTAMP)

    span = np.zeros(len(series.categories), dtype=np.int64)
    np.maximum.at(span, codes, pos + 1)
    starts = np.concatenate([[0], np.cumsum(span)[:-1]])
    slot = starts[codes] + pos  # where each input row lands on the grid
    size = int(span.sum())
    grid_pos = np.arange(size) - np.repeat(starts, span)
    times = pd.DatetimeIndex((np.repeat(first, span) + grid_pos * tick).astype("datetime64[us]"))
    if stamps.tz is not None:
        times = times.tz_localize("UTC").tz_convert(stamps.tz)

    grid = pd.DataFrame(
        {
            TIMESTAMP: times,
            SERIES_ID: pd.Categorical.from_codes(np.repeat(np.arange(len(span)), span), dtype=series.dtype),
        }
    )
    for column in value_columns:
        values = np.full(size, np.nan)
        values[slot] = df[column].to_numpy(dtype=float, na_value=np.nan)[order]
        grid[column] = values
    observed = np.zeros(size, dtype=bool)
    observed[slot] = True
    row = np.full(size, -1, dtype=np.int64)
    row[slot] = order
    grid["_pos"] = grid_pos
    grid["_observed"] = observed
    grid["_row"] = row
    return grid
