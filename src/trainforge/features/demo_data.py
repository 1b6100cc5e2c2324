"""Synthetic but realistic hourly electricity load for a few sites: the data of ``trainforge demo`` and of tests.

The load of a site is its size times a daily profile (a morning and an evening peak; flatter on weekends and
public holidays), plus a heating response below ~15 °C and a cooling response above ~22 °C to a synthetic
temperature (annual and daily cycles plus weather that persists for days), times a little autocorrelated noise.
"""

from __future__ import annotations

import holidays
import numpy as np
import pandas as pd
from scipy.signal import lfilter

HEATING_BELOW_C = 15.0
COOLING_ABOVE_C = 22.0


def generate_demo_load(
    n_series: int = 4,
    start: str = "2023-01-01",
    periods: int = 24 * 365,
    freq: str = "h",
    seed: int = 0,
) -> pd.DataFrame:
    """Generate hourly load and temperature for ``n_series`` sites.

    Args:
        n_series: Number of sites (``site_id`` ``"site-01"``, ...).
        start: First timestamp (UTC).
        periods: Timestamps per site.
        freq: Pandas frequency of the timestamps.
        seed: Seed of every random draw; the same seed gives the same frame.

    Returns:
        Columns ``timestamp`` (UTC), ``site_id``, ``load_kw``, ``temperature_c``; sorted by site, then time.
    """
    rng = np.random.default_rng(seed)
    times = pd.date_range(start, periods=periods, freq=freq, tz="UTC")
    hour = (times.hour + times.minute / 60).to_numpy(dtype=float)
    day_of_year = times.day_of_year.to_numpy(dtype=float)
    off_day = (times.day_of_week >= 5) | _is_holiday(times)

    # Weather shared by all sites (they are in one region), so sites correlate as real ones do.
    shared_weather = _red_noise(rng, periods, steps_per_day=_steps_per_day(freq), persistence_days=3.0, std=3.0)
    profile = np.where(off_day, _off_day_profile(hour), _work_day_profile(hour))

    frames = []
    for site in range(n_series):
        climate_offset = rng.normal(0.0, 2.0)
        temperature = (
            12.0
            + climate_offset
            - 11.0 * np.cos(2 * np.pi * (day_of_year - 20) / 365.25)  # coldest around 20 January
            - 4.0 * np.cos(2 * np.pi * (hour - 3) / 24)  # coolest before dawn, warmest mid-afternoon
            + shared_weather
            + _red_noise(rng, periods, steps_per_day=_steps_per_day(freq), persistence_days=1.0, std=1.0)
        )
        size_kw = rng.uniform(200.0, 2000.0)
        heating = rng.uniform(0.015, 0.03) * np.clip(HEATING_BELOW_C - temperature, 0, None)
        cooling = rng.uniform(0.02, 0.05) * np.clip(temperature - COOLING_ABOVE_C, 0, None)
        # Winter evenings need light: a small annual term on top of the temperature response.
        lighting = 0.04 * np.cos(2 * np.pi * (day_of_year - 355) / 365.25)
        noise = 1 + _red_noise(rng, periods, steps_per_day=_steps_per_day(freq), persistence_days=0.1, std=0.03)
        load = size_kw * (profile + heating + cooling + lighting) * noise
        frames.append(
            pd.DataFrame(
                {
                    "timestamp": times,
                    "site_id": f"site-{site + 1:02d}",
                    "load_kw": load.round(2),
                    "temperature_c": temperature.round(2),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _work_day_profile(hour: np.ndarray) -> np.ndarray:
    return 0.55 + 0.25 * _bump(hour, 8.5, 2.0) + 0.40 * _bump(hour, 18.5, 2.5) + 0.10 * _bump(hour, 13.0, 3.0)


def _off_day_profile(hour: np.ndarray) -> np.ndarray:
    return 0.50 + 0.12 * _bump(hour, 11.0, 3.0) + 0.30 * _bump(hour, 19.0, 2.5)


def _bump(hour: np.ndarray, centre: float, width: float) -> np.ndarray:
    # Distance on the 24-hour circle, so an evening bump does not end abruptly at midnight.
    distance = (hour - centre + 12) % 24 - 12
    return np.exp(-0.5 * (distance / width) ** 2)


def _is_holiday(times: pd.DatetimeIndex) -> np.ndarray:
    years = range(times.min().year, times.max().year + 1)
    dates = pd.DatetimeIndex(list(holidays.country_holidays("US", years=years)))
    return times.tz_localize(None).normalize().isin(dates)


def _steps_per_day(freq: str) -> float:
    return pd.Timedelta("1D") / pd.Timedelta(pd.tseries.frequencies.to_offset(freq))


def _red_noise(
    rng: np.random.Generator, n: int, *, steps_per_day: float, persistence_days: float, std: float
) -> np.ndarray:
    """AR(1) noise whose correlation decays over ``persistence_days``, with stationary standard deviation ``std``."""
    phi = float(np.exp(-1.0 / max(persistence_days * steps_per_day, 1e-9)))
    shocks = rng.normal(0.0, std * np.sqrt(1 - phi**2), n)
    shocks[0] = rng.normal(0.0, std)  # start in the stationary distribution, not at zero
    return lfilter([1.0], [1.0, -phi], shocks)
