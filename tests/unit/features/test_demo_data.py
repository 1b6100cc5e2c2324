"""The demo load data behaves like electricity load: seasons, weekends, holidays and weather."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from trainforge.features.demo_data import COOLING_ABOVE_C, HEATING_BELOW_C, generate_demo_load


@pytest.fixture(scope="module")
def demo() -> pd.DataFrame:
    return generate_demo_load(n_series=4, periods=24 * 365, seed=0)


@pytest.fixture(scope="module")
def site(demo) -> pd.DataFrame:
    one = demo[demo["site_id"] == "site-01"].set_index("timestamp")
    return one.assign(hour=one.index.hour, weekday=one.index.day_of_week)


def test_shape_columns_and_determinism(demo):
    assert list(demo.columns) == ["timestamp", "site_id", "load_kw", "temperature_c"]
    assert len(demo) == 4 * 24 * 365 and demo["site_id"].nunique() == 4
    assert isinstance(demo["timestamp"].dtype, pd.DatetimeTZDtype) and str(demo["timestamp"].dt.tz) == "UTC"
    assert (demo["load_kw"] > 0).all() and demo.notna().all().all()
    pd.testing.assert_frame_equal(generate_demo_load(seed=0), demo)
    assert not generate_demo_load(seed=1)["load_kw"].equals(demo["load_kw"])


def test_a_year_of_four_sites_is_fast():
    generate_demo_load()  # first call pays for lazy imports (holidays' country tables)
    started = time.perf_counter()
    generate_demo_load(n_series=4, periods=24 * 365)
    assert time.perf_counter() - started < 1.0


def test_daily_cycle(site):
    by_hour = site.groupby("hour")["load_kw"].mean()
    assert by_hour.max() / by_hour.min() > 1.2
    assert by_hour.idxmax() in range(16, 22)  # evening peak
    assert by_hour.idxmin() in range(0, 6)  # night trough
    assert site["load_kw"].autocorr(24) > site["load_kw"].autocorr(12) + 0.1


def test_weekly_cycle(site):
    weekday = site.loc[site["weekday"] < 5, "load_kw"].mean()
    weekend = site.loc[site["weekday"] >= 5, "load_kw"].mean()
    assert weekend < 0.92 * weekday
    assert site["load_kw"].autocorr(168) > site["load_kw"].autocorr(72)


def test_public_holidays_look_like_weekends(site):
    # 2023-07-04 (Tuesday) and 2023-12-25 (Monday) against the same weekday a week before.
    for holiday, week_before in (("2023-07-04", "2023-06-27"), ("2023-12-25", "2023-12-18")):
        day_hours = slice(9, 20)
        assert (
            site.loc[holiday, "load_kw"].iloc[day_hours].mean()
            < 0.95 * site.loc[week_before, "load_kw"].iloc[day_hours].mean()
        )


def test_temperature_has_annual_and_daily_cycles_and_persistent_weather(site):
    temperature = site["temperature_c"]
    by_month = temperature.groupby(temperature.index.month).mean()
    assert by_month[7] - by_month[1] > 15
    by_hour = temperature.groupby(site["hour"]).mean()
    assert by_hour.max() - by_hour.min() > 4
    anomaly = temperature - temperature.rolling(24 * 30, center=True, min_periods=1).mean()
    assert anomaly.autocorr(48) > 0.3  # weather spells last days


def test_load_responds_to_heating_and_cooling(site):
    # Compare hours of the same kind (working-day afternoons) so the daily and weekly cycles cancel out.
    afternoons = site[(site["weekday"] < 5) & site["hour"].between(13, 17)]
    heating_degrees = np.clip(HEATING_BELOW_C - afternoons["temperature_c"], 0, None)
    cooling_degrees = np.clip(afternoons["temperature_c"] - COOLING_ABOVE_C, 0, None)
    assert np.corrcoef(heating_degrees, afternoons["load_kw"])[0, 1] > 0.5
    hot = afternoons.loc[afternoons["temperature_c"] > COOLING_ABOVE_C + 5, "load_kw"].mean()
    mild = afternoons.loc[afternoons["temperature_c"].between(16, 21), "load_kw"].mean()
    assert hot > 1.1 * mild
    assert cooling_degrees.gt(0).sum() > 50
