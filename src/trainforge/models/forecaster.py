"""A multi-step forecaster that travels on its own: features, level scaling, calendar, model and intervals.

This module is the one place where a forecast model's inputs are built, for training (the pipeline calls
:func:`make_panel` and :func:`gather_features`) and for forecasting (:class:`Forecaster`). It is also the code of
the registered MLflow model ("models from code"): MLflow copies this file beside the model's artifacts and runs it
when the model is loaded, so it imports only numpy, pandas, LightGBM, ``holidays`` and MLflow, never trainforge. A
user can ``mlflow.pyfunc.load_model(uri).predict(history)`` with none of trainforge's code installed, and the
service forecasts through the very same functions. ``tests/unit/models/test_forecaster_portable.py`` checks the
imports.

Strategy: **one global model, the lead time as a feature** ("stacked direct"). A row is a (series, forecast
origin ``o``, lead ``k``) triple whose target is ``y[o + k]``; its features are built only from values at or before
``o`` (the latest values, rolling statistics, covariates at ``o``), the latest value of the same phase of each
season known at ``o`` (``y[o + k - L * ceil(k / L)]``), and the calendar of ``o + k`` (known in advance). One
model serves every lead, so a 24-step forecast costs one fit, not 24 (mlforecast's direct ``max_horizon`` mode fits
one model per lead); training draws a few leads per target time (:data:`LEADS_PER_TARGET`) so that the training set
stays the size of the data rather than ``horizon`` times it.

Level scaling: the model learns the target divided by the series' *level* at the origin: the seasonal-naive
forecast of the row (the season chosen on validation), or the mean absolute value over the longest window where
that is missing or zero. Target-derived features are divided by the same level. The model thus learns a
correction of the seasonal-naive forecast that is the same for series of any size.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import holidays as holiday_calendars

# OpenMP threads that wait for each other spin by default, which on a shared machine made fits several times slower
# (see trainforge.models.lightgbm_forecast); libgomp reads this once, when LightGBM loads it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import lightgbm as lgb
import mlflow.models
import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema
from mlflow.types.schema import AnyType

SERIES_ID = "series_id"
TIMESTAMP = "timestamp"
ORIGIN = "origin"
STEP = "step"
VALUE = "value"
CALENDAR_FEATURES = ("hour", "day_of_week", "month", "day_of_year", "is_holiday")
# Training rows per target time: each gets this many leads drawn at random (1 would be as many rows as the data;
# all ``horizon`` leads would make a 24-step model fit 24x the rows for little gain: see docs/forecasting.md).
LEADS_PER_TARGET = 2
# The table of residual quantiles each lead keeps for its intervals: 0%, 0.5%, ..., 100%.
QUANTILE_GRID = np.linspace(0.0, 1.0, 201)
# Levels below this are treated as zero (no scale to divide by).
_TINY = 1e-9
BOOSTER_FILE = "booster.txt"
SPEC_FILE = "spec.json"


class ForecastInputError(ValueError):
    """Input a forecast cannot be made from; ``field`` names the offending input (``history``, ``horizon``, ...)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass
class FeatureSpec:
    """Everything that turns a history into model inputs, as JSON-friendly values (saved as ``spec.json``).

    Attributes:
        target: Column forecast.
        freq: Pandas offset alias of one step.
        horizon: Most steps ahead the model was trained for.
        covariates: Numeric columns used at the origin.
        recent_lags: Steps before the origin whose values are features (0: the origin itself).
        seasons: Season lengths in steps (a day, a week) whose latest same-phase values are features.
        windows: Rolling-window lengths (steps) of the mean and standard deviation at the origin.
        anchor_season: Season of the seasonal-naive forecast the level is taken from (1: the last value).
        timezone: IANA zone the calendar features are computed in (the series' local time).
        holiday_country: ISO country of the ``is_holiday`` flag, or ``None`` for no flag.
        holiday_subdivision: State/province code within the country, or ``None``.
        series: Series ids seen in training (others are forecast with ``series_id`` unknown).
        residual_quantiles: Per lead (row ``k - 1``), the quantiles at :data:`QUANTILE_GRID` of the calibration
            residuals ``(actual - forecast) / level``; empty when the model has no intervals.
        metadata: Where the model came from (tenant, feature set, model id, ...), for the service.
    """

    target: str
    freq: str
    horizon: int
    covariates: list[str] = field(default_factory=list)
    recent_lags: list[int] = field(default_factory=lambda: [0, 1, 2])
    seasons: list[int] = field(default_factory=list)
    windows: list[int] = field(default_factory=list)
    anchor_season: int = 1
    timezone: str = "UTC"
    holiday_country: str | None = "US"
    holiday_subdivision: str | None = None
    yearly: bool = True
    series: list[str] = field(default_factory=list)
    residual_quantiles: list[list[float]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def level_column(self) -> str:
        return f"{self.target}_level"

    @property
    def with_hour(self) -> bool:
        return _step(self.freq) < pd.Timedelta(days=1)

    @property
    def history_steps(self) -> int:
        """Steps of history (the origin included) every feature of every lead needs."""
        back = [max(self.recent_lags, default=0), max(self.windows, default=1) - 1]
        for index, season in enumerate(self.seasons):
            # Lead 1 reaches furthest back: y[o + 1 - L], and one season more for the first season's "prev".
            back.append(season - 1 + (season if index == 0 else 0))
        if self.anchor_season > 1:
            back.append(self.anchor_season - 1)
        return 1 + max(back)

    @property
    def feature_columns(self) -> list[str]:
        """The model's inputs, in order."""
        t = self.target
        columns = [SERIES_ID, STEP]
        columns += [f"{t}_origin" if lag == 0 else f"{t}_origin_minus_{lag}" for lag in self.recent_lags]
        for index, season in enumerate(self.seasons):
            columns.append(f"{t}_season_{season}")
            if index == 0:
                columns.append(f"{t}_season_{season}_prev")
        for window in self.windows:
            columns += [f"{t}_mean_{window}", f"{t}_std_{window}"]
        columns.append(self.level_column)
        columns += [f"{c}_origin" for c in self.covariates]
        return columns + self.calendar_columns

    @property
    def calendar_columns(self) -> list[str]:
        """The calendar features this spec uses, of :data:`CALENDAR_FEATURES`."""
        left_out = set() if self.with_hour else {"hour"}
        if not self.yearly:
            left_out |= {"month", "day_of_year"}
        return [name for name in CALENDAR_FEATURES if name not in left_out]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> FeatureSpec:
        return cls(**json.loads(text))


def season_lengths(freq: str) -> list[int]:
    """The daily and weekly seasons in steps of ``freq`` that are whole numbers of steps above one."""
    step = _step(freq)
    seasons = []
    for period in (pd.Timedelta(days=1), pd.Timedelta(days=7)):
        steps = period / step
        if steps > 1 and float(steps).is_integer():
            seasons.append(int(steps))
    return seasons


def default_windows(freq: str) -> list[int]:
    """Rolling windows of a day and a week (or 3 steps when neither is a whole number of steps)."""
    return season_lengths(freq) or [3]


@dataclass
class Panel:
    """Series on a gap-free grid: grid row ``starts[s] + p`` of series ``s`` is ``p`` steps after its first time.

    Attributes:
        times: UTC timestamp of every grid row.
        codes: Series code of every grid row (index into ``categories``).
        pos: Position of every grid row within its series.
        categories: Series ids, as strings.
        values: Per value column, float64 values (NaN where the step is missing).
        observed: Whether a grid row came from the input.
        row: Position of the grid row's input row (-1 where it did not come from the input).
        starts: First grid row of each series.
        spans: Grid rows of each series.
        freq: The grid's step.
    """

    times: pd.DatetimeIndex
    codes: np.ndarray
    pos: np.ndarray
    categories: pd.Index
    values: dict[str, np.ndarray]
    observed: np.ndarray
    row: np.ndarray
    starts: np.ndarray
    spans: np.ndarray
    freq: str

    def last_rows(self) -> np.ndarray:
        """Grid row of each series' last observed time."""
        last = np.full(len(self.categories), -1, dtype=np.int64)
        observed = np.flatnonzero(self.observed)
        np.maximum.at(last, self.codes[observed], observed)
        return last


def make_panel(frame: pd.DataFrame, value_columns: Sequence[str], freq: str, *, extend: int = 0) -> Panel:
    """Lay ``frame`` (columns ``timestamp``, ``series_id`` and ``value_columns``) on a regular grid per series.

    Args:
        frame: The rows, in any order.
        value_columns: Numeric columns to carry.
        freq: Pandas offset alias of one step.
        extend: Steps added after each series' last time, with missing values (the times to forecast).

    Raises:
        ForecastInputError: A column is missing or not numeric, a timestamp is off its series' grid, a
            (series, timestamp) pair repeats.
    """
    for column in (TIMESTAMP, SERIES_ID, *value_columns):
        if column not in frame.columns:
            raise ForecastInputError(f"column {column!r} not found; the columns are {list(frame.columns)}", column)
    for column in value_columns:
        values = frame[column]
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            raise ForecastInputError(f"column {column!r} has type {values.dtype}; it must be numeric", column)
    tick = _step(freq) // pd.Timedelta(microseconds=1)
    series = pd.Categorical(frame[SERIES_ID].astype("str"))
    stamps = _utc(frame[TIMESTAMP])
    order = np.lexsort((stamps.asi8, series.codes))
    codes = series.codes[order]
    ticks = stamps.asi8[order]
    first = np.full(len(series.categories), np.iinfo(np.int64).max)
    np.minimum.at(first, codes, ticks)
    offset = ticks - first[codes]
    off_grid = int(np.count_nonzero(offset % tick))
    if off_grid:
        raise ForecastInputError(f"{off_grid} timestamps are not on the {freq!r} grid of their series", TIMESTAMP)
    pos = offset // tick
    if np.any((np.diff(pos) == 0) & (np.diff(codes) == 0)):
        raise ForecastInputError("some (series_id, timestamp) pairs repeat", TIMESTAMP)

    span = np.zeros(len(series.categories), dtype=np.int64)
    np.maximum.at(span, codes, pos + 1)
    span += extend
    starts = np.concatenate([[0], np.cumsum(span)[:-1]]).astype(np.int64)
    slot = starts[codes] + pos
    size = int(span.sum())
    grid_pos = np.arange(size) - np.repeat(starts, span)
    grid_codes = np.repeat(np.arange(len(span)), span)
    times = pd.DatetimeIndex((np.repeat(first, span) + grid_pos * tick).astype("datetime64[us]")).tz_localize("UTC")
    values = {}
    for column in value_columns:
        column_values = np.full(size, np.nan)
        column_values[slot] = frame[column].to_numpy(dtype=float, na_value=np.nan)[order]
        values[column] = column_values
    observed = np.zeros(size, dtype=bool)
    observed[slot] = True
    row = np.full(size, -1, dtype=np.int64)
    row[slot] = order
    return Panel(
        times=times,
        codes=grid_codes,
        pos=grid_pos,
        categories=pd.Index(series.categories.astype(str)),
        values=values,
        observed=observed,
        row=row,
        starts=starts,
        spans=span,
        freq=freq,
    )


class PanelStatistics:
    """Per-grid-row statistics of a panel that rows share (rolling windows, calendar), computed once."""

    def __init__(self, panel: Panel, spec: FeatureSpec) -> None:
        y = pd.Series(panel.values[spec.target])
        # Windows over the concatenated series: a row whose window would reach into the previous series is never
        # used (every used origin has at least history_steps - 1 steps before it in its own series).
        self.rolling = {}
        for window in spec.windows:
            rolling = y.rolling(window, min_periods=max(1, window // 2))
            self.rolling[window] = (rolling.mean().to_numpy(), rolling.std().to_numpy())
        longest = max(spec.windows, default=1)
        self.typical = y.abs().rolling(longest, min_periods=1).mean().to_numpy()
        self.calendar = calendar_features(panel.times, spec)


def calendar_features(times: pd.DatetimeIndex, spec: FeatureSpec) -> dict[str, np.ndarray]:
    """Hour, day of week, month, day of year and a public-holiday flag, on the local time of ``spec.timezone``.

    Local time, not UTC: load follows the clock on the wall, and a holiday is a local date (a UTC date would flag
    the evening before a holiday in the Americas and miss its last hours).
    """
    local = times.tz_convert(spec.timezone)
    columns = {
        "hour": local.hour.to_numpy().astype(np.int8),
        "day_of_week": local.day_of_week.to_numpy().astype(np.int8),
        "month": local.month.to_numpy().astype(np.int8),
        "day_of_year": local.day_of_year.to_numpy().astype(np.int16),
    }
    dates = local.tz_localize(None).normalize()
    flag = np.zeros(len(times), dtype=np.int8)
    if spec.holiday_country and len(times):
        years = range(int(dates.year.min()), int(dates.year.max()) + 1)
        calendar = holiday_calendars.country_holidays(
            spec.holiday_country, subdiv=spec.holiday_subdivision, years=years
        )
        flag = dates.isin(pd.DatetimeIndex(list(calendar))).astype(np.int8)
    columns["is_holiday"] = np.asarray(flag, dtype=np.int8)
    return {name: columns[name] for name in spec.calendar_columns}


def seasonal_lag(season: int, lead: np.ndarray) -> np.ndarray:
    """Steps from the forecast time back to the latest same-phase value known at the origin: ``L * ceil(k / L)``."""
    return season * -(-lead // season)


def seasonal_naive_values(panel: Panel, target: str, rows: np.ndarray, lead: np.ndarray, season: int) -> np.ndarray:
    """The seasonal-naive forecast of grid rows ``rows`` at leads ``lead``: ``y[row - L * ceil(k / L)]``."""
    return panel.values[target][rows - seasonal_lag(season, lead)]


def gather_features(
    panel: Panel, spec: FeatureSpec, stats: PanelStatistics, rows: np.ndarray, lead: np.ndarray
) -> tuple[pd.DataFrame, np.ndarray]:
    """The model's inputs for forecasting grid rows ``rows`` from ``lead`` steps before each.

    Every index used is at or before the origin ``rows - lead`` except the calendar, which is of the forecast
    time itself. Callers make sure each origin has ``spec.history_steps - 1`` steps of its series before it.

    Returns:
        The input frame (columns :attr:`FeatureSpec.feature_columns`, ``series_id`` categorical) and each row's
        level (what the model's output is multiplied by).
    """
    y = panel.values[spec.target]
    origin = rows - lead
    anchor = np.abs(y[rows - seasonal_lag(spec.anchor_season, lead)])
    typical = stats.typical[origin]
    level = np.where(anchor > _TINY, anchor, np.where(typical > _TINY, typical, 1.0))
    relative: dict[str, np.ndarray] = {}
    t = spec.target
    for lag in spec.recent_lags:
        relative[f"{t}_origin" if lag == 0 else f"{t}_origin_minus_{lag}"] = y[origin - lag]
    for index, season in enumerate(spec.seasons):
        same = rows - seasonal_lag(season, lead)
        relative[f"{t}_season_{season}"] = y[same]
        if index == 0:
            relative[f"{t}_season_{season}_prev"] = y[same - season]
    for window, (mean, std) in stats.rolling.items():
        relative[f"{t}_mean_{window}"] = mean[origin]
        relative[f"{t}_std_{window}"] = std[origin]
    columns: dict[str, Any] = {
        SERIES_ID: pd.Categorical.from_codes(panel.codes[rows], categories=panel.categories),
        STEP: lead.astype(np.int16),
    }
    columns.update({name: (values / level).astype(np.float32) for name, values in relative.items()})
    columns[spec.level_column] = level.astype(np.float32)
    for covariate in spec.covariates:
        columns[f"{covariate}_origin"] = panel.values[covariate][origin].astype(np.float32)
    for name, values in stats.calendar.items():
        columns[name] = values[rows]
    return pd.DataFrame(columns)[spec.feature_columns], level


def forecast_keys(panel: Panel, rows: np.ndarray, lead: np.ndarray) -> dict[str, Any]:
    """The columns that say which forecast a row is: ``series_id``, ``origin``, ``timestamp``, ``step``."""
    return {
        SERIES_ID: np.asarray(panel.categories)[panel.codes[rows]],
        ORIGIN: panel.times[rows - lead],
        TIMESTAMP: panel.times[rows],
        STEP: lead.astype(np.int64),
    }


def quantile_offsets(spec: FeatureSpec, lead: np.ndarray, quantile: float) -> np.ndarray:
    """The relative residual at ``quantile`` for each lead (multiply by the level and add to the forecast)."""
    table = np.asarray(spec.residual_quantiles, dtype=float)
    return np.array([np.interp(quantile, QUANTILE_GRID, table[k - 1]) for k in range(1, spec.horizon + 1)])[lead - 1]


def quantile_column(quantile: float) -> str:
    """Name of a quantile's column in a forecast table: ``q0.1``, ``q0.9``."""
    return f"q{quantile:g}"


@dataclass
class Forecaster:
    """A fitted model with everything it needs to forecast from raw history.

    Attributes:
        spec: How inputs are built, and the intervals' residual quantiles.
        booster: The fitted LightGBM model.
        example: A history it forecasts from (the registered model's input example); not saved.
    """

    spec: FeatureSpec
    booster: lgb.Booster
    example: pd.DataFrame | None = None

    def predict_relative(self, inputs: pd.DataFrame) -> np.ndarray:
        """The model's output for ``inputs`` (relative to each row's level)."""
        return np.asarray(self.booster.predict(inputs, num_iteration=self.booster.best_iteration or None), float)

    def forecast(
        self, history: pd.DataFrame, horizon: int | None = None, quantiles: Sequence[float] = ()
    ) -> pd.DataFrame:
        """Forecast steps ``1..horizon`` after each series' last timestamp in ``history``.

        Args:
            history: Columns ``timestamp`` (UTC; naive means UTC), ``series_id``, the target and the covariates; at
                least ``spec.history_steps`` steps of each series (older rows are not needed).
            horizon: Steps to forecast; default (``None``) the trained horizon, at most that.
            quantiles: Quantiles in (0, 1) to add as columns ``q<quantile>``.

        Returns:
            Columns ``series_id``, ``origin``, ``timestamp``, ``step``, ``value`` and one per quantile; rows by series,
            then step.

        Raises:
            ForecastInputError: a bad horizon, quantile or history.
        """
        spec = self.spec
        horizon = self._check_horizon(horizon)
        quantiles = self._check_quantiles(quantiles)
        if not isinstance(history, pd.DataFrame) or history.empty:
            raise ForecastInputError("history is empty: it needs rows of every series to forecast", "history")
        panel = make_panel(history, [spec.target, *spec.covariates], spec.freq, extend=horizon)
        last = panel.last_rows()
        short = [str(s) for s, p in zip(panel.categories, panel.pos[last], strict=True) if p + 1 < spec.history_steps]
        if short:
            raise ForecastInputError(
                f"series {', '.join(short[:5])}{' ...' if len(short) > 5 else ''} have fewer than "
                f"{spec.history_steps} steps of history before the forecast origin (the features' warm-up)",
                "history",
            )
        if np.isnan(panel.values[spec.target][last]).any():
            raise ForecastInputError(f"the last {spec.target!r} of some series is missing", spec.target)
        lead = np.tile(np.arange(1, horizon + 1), len(last))
        rows = np.repeat(last, horizon) + lead
        inputs, level = gather_features(panel, spec, PanelStatistics(panel, spec), rows, lead)
        value = self.predict_relative(inputs) * level
        table = pd.DataFrame({**forecast_keys(panel, rows, lead), VALUE: value})
        for quantile in quantiles:
            table[quantile_column(quantile)] = value + quantile_offsets(spec, lead, quantile) * level
        return table

    def _check_horizon(self, horizon: int | None) -> int:
        if horizon is None:
            return self.spec.horizon
        if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer):
            raise ForecastInputError(f"horizon must be a whole number, got {horizon!r}", "horizon")
        if not 1 <= horizon <= self.spec.horizon:
            raise ForecastInputError(
                f"horizon must be between 1 and {self.spec.horizon} (the horizon the model was trained for), "
                f"got {horizon}",
                "horizon",
            )
        return int(horizon)

    def _check_quantiles(self, quantiles: Sequence[float]) -> list[float]:
        values = [float(q) for q in (quantiles or ())]
        if any(not 0.0 < q < 1.0 for q in values):
            raise ForecastInputError(f"quantiles must lie strictly between 0 and 1, got {values}", "quantiles")
        if values and not self.spec.residual_quantiles:
            raise ForecastInputError("this model has no prediction intervals to give quantiles from", "quantiles")
        return values

    def save(self, directory: str | Path) -> dict[str, str]:
        """Write the booster and the spec into ``directory``; returns MLflow's ``artifacts`` mapping."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        booster, spec = directory / BOOSTER_FILE, directory / SPEC_FILE
        self.booster.save_model(str(booster), num_iteration=self.booster.best_iteration or None)
        spec.write_text(self.spec.to_json())
        return {"booster": str(booster), "spec": str(spec)}

    @classmethod
    def load(cls, booster_path: str | Path, spec_path: str | Path) -> Forecaster:
        return cls(FeatureSpec.from_json(Path(spec_path).read_text()), lgb.Booster(model_file=str(booster_path)))


def model_signature(spec: FeatureSpec) -> ModelSignature:
    """The registered model's signature: history columns in, forecast table out, ``horizon`` and ``quantiles`` as
    parameters."""
    # Any type for the timestamp: MLflow's "datetime" refuses tz-aware columns, and strings are fine too (parsed
    # with pandas; naive means UTC).
    inputs = [ColSpec(AnyType(), TIMESTAMP), ColSpec("string", SERIES_ID), ColSpec("double", spec.target)]
    inputs += [ColSpec("double", covariate) for covariate in spec.covariates]
    outputs = [
        ColSpec("string", SERIES_ID),
        ColSpec("datetime", ORIGIN),
        ColSpec("datetime", TIMESTAMP),
        ColSpec("long", STEP),
        ColSpec("double", VALUE),
    ]
    params = ParamSchema(
        [ParamSpec("horizon", "long", spec.horizon), ParamSpec("quantiles", "double", [], shape=(-1,))]
    )
    return ModelSignature(inputs=Schema(inputs), outputs=Schema(outputs), params=params)


def history_example(panel: Panel, spec: FeatureSpec) -> pd.DataFrame:
    """The last ``history_steps`` rows of the panel's first series: the smallest history the model forecasts from
    (the registered model's input example)."""
    end = int(panel.starts[0] + panel.spans[0])
    rows = np.arange(max(int(panel.starts[0]), end - spec.history_steps), end)
    rows = rows[panel.observed[rows]]
    example = pd.DataFrame({TIMESTAMP: panel.times[rows].tz_localize(None), SERIES_ID: str(panel.categories[0])})
    for column in (spec.target, *spec.covariates):
        example[column] = panel.values[column][rows]
    return example


class ForecastModel(mlflow.pyfunc.PythonModel):
    """The MLflow ``pyfunc`` face of a :class:`Forecaster`: input the history, output the forecast table.

    ``predict(history, params={"horizon": 24, "quantiles": [0.1, 0.9]})``; the service calls :meth:`forecast`,
    the same code without MLflow's wrapping of errors.
    """

    def load_context(self, context) -> None:
        self._forecaster = Forecaster.load(context.artifacts["booster"], context.artifacts["spec"])

    @property
    def forecaster(self) -> Forecaster:
        return self._forecaster

    @property
    def spec(self) -> dict[str, Any]:
        """The model's :class:`FeatureSpec` as a dict, plus ``history_steps``."""
        return {**asdict(self._forecaster.spec), "history_steps": self._forecaster.spec.history_steps}

    def forecast(self, history: pd.DataFrame, horizon: int | None = None, quantiles: Sequence[float] = ()):
        return self._forecaster.forecast(history, horizon, quantiles)

    def predict(self, context, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        # The pd.DataFrame hint tells MLflow there is no schema to infer from hints (the signature has one).
        params = params or {}
        horizon = params.get("horizon")
        return self.forecast(model_input, None if horizon is None else int(horizon), params.get("quantiles") or ())


def _utc(values: pd.Series) -> pd.DatetimeIndex:
    stamps = pd.DatetimeIndex(pd.to_datetime(values)).as_unit("us")
    return stamps.tz_localize("UTC") if stamps.tz is None else stamps.tz_convert("UTC")


def _step(freq: str) -> pd.Timedelta:
    return pd.Timedelta(pd.tseries.frequencies.to_offset(freq))


# MLflow runs this file under a module name of its own ("code_model_<hex>") when it loads the model; imported as
# part of trainforge, the file only defines things.
if __name__.startswith("code_model_"):
    mlflow.models.set_model(ForecastModel())
