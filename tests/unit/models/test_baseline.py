"""The seasonal-naive baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trainforge.errors import InvalidInput
from trainforge.models.baseline import seasonal_naive, seasonal_naive_lag


def periodic(season: int = 24, periods: int = 24 * 14) -> pd.DataFrame:
    times = pd.date_range("2024-01-01", periods=periods, freq="h", tz="UTC")
    shape = np.sin(np.arange(season) / season * 2 * np.pi) * 10 + np.arange(season)
    return pd.concat(
        [
            pd.DataFrame({"timestamp": times, "series_id": s, "y": np.resize(shape, periods) * scale})
            for s, scale in (("a", 1.0), ("b", 3.0))
        ],
        ignore_index=True,
    )


@pytest.mark.parametrize(
    ("season", "horizon", "lag"), [(24, 1, 24), (24, 24, 24), (24, 25, 48), (168, 24, 168), (1, 7, 7)]
)
def test_lag_is_the_latest_same_phase_known_at_the_origin(season, horizon, lag):
    assert seasonal_naive_lag(season, horizon) == lag


@pytest.mark.parametrize("horizon", [1, 24, 30])
def test_exact_on_a_periodic_series(horizon):
    data = periodic()
    forecast = seasonal_naive(data, "y", season=24, horizon=horizon, freq="h")
    known = forecast.notna()
    # Every row but the first lag's worth per series has a forecast, and it is exact.
    assert known.sum() == len(data) - 2 * seasonal_naive_lag(24, horizon)
    np.testing.assert_array_equal(forecast[known], data.loc[known, "y"])


def test_forecasts_only_the_requested_rows_and_keeps_their_index():
    data = periodic()
    at = data.iloc[[400, 100, 500]].set_axis(["x", "y", "z"])
    forecast = seasonal_naive(data, "y", season=24, horizon=3, freq="h", at=at)
    assert list(forecast.index) == ["x", "y", "z"]
    np.testing.assert_array_equal(forecast.to_numpy(), at["y"].to_numpy())


def test_a_gap_gives_a_missing_forecast_not_a_wrong_one():
    data = periodic().drop(index=[50])
    forecast = seasonal_naive(data, "y", season=24, horizon=1, freq="h")
    assert np.isnan(forecast.loc[74])
    assert forecast.loc[75] == data.loc[75, "y"]


def test_a_series_without_history_gets_missing_forecasts():
    data = periodic()
    at = data.iloc[[400, 500]].assign(series_id="c")
    forecast = seasonal_naive(data, "y", season=24, horizon=1, freq="h", at=at)
    assert forecast.isna().all()


def test_a_repeated_timestamp_is_refused_naming_the_series():
    data = periodic()
    data = pd.concat([data, data.iloc[[10]]], ignore_index=True)
    with pytest.raises(InvalidInput, match="'a' repeats a timestamp"):
        seasonal_naive(data, "y", season=24, horizon=1, freq="h")
