"""The sampling frequency of a panel of time series (many series, one timestamp column)."""

from __future__ import annotations

import pandas as pd

from trainforge.errors import InvalidInput

# pd.infer_freq needs a run of regular timestamps; one long enough run per series is plenty to name calendar
# frequencies (month starts, business days) that a single time step cannot describe.
_INFER_SAMPLE = 1000


def infer_frequency(timestamps: pd.Series, series: pd.Series | None = None) -> str:
    """Name the sampling frequency of a panel, as a pandas offset alias (``"h"``, ``"15min"``, ``"D"``, ``"MS"``).

    The step is the most common positive gap between consecutive timestamps of the same series, so gaps and
    missing hours do not change the answer. When the first series is regular enough, ``pd.infer_freq`` names it
    (which tells month starts from "31 days").

    Args:
        timestamps: Timestamps of every row (any order).
        series: Series id of every row, aligned with ``timestamps``; ``None`` for a single series.

    Returns:
        An offset alias that ``pd.tseries.frequencies.to_offset`` accepts.

    Raises:
        InvalidInput: If no series has two distinct timestamps.
    """
    frame = pd.DataFrame(
        {"series": series.to_numpy() if series is not None else 0, "timestamp": timestamps.to_numpy()}
    ).sort_values(["series", "timestamp"], kind="stable")
    gaps = frame.groupby("series", sort=False)["timestamp"].diff()
    gaps = gaps[gaps > pd.Timedelta(0)]
    if gaps.empty:
        raise InvalidInput("cannot infer a frequency: no series has two distinct timestamps", field="timestamp")
    step = gaps.mode().iloc[0]
    first = frame.loc[frame["series"] == frame["series"].iloc[0], "timestamp"].iloc[:_INFER_SAMPLE]
    if len(first) >= 3:
        # Ask for pandas 4's behaviour (an offset, not a string) now: it does not warn and will not change.
        with pd.option_context("future.infer_freq_returns_offset", True):
            named = pd.infer_freq(pd.DatetimeIndex(first))
        if named is not None:
            return named.freqstr
    return pd.tseries.frequencies.to_offset(step).freqstr


def steps_per(period: str | pd.Timedelta, freq: str) -> int:
    """How many steps of ``freq`` fit in ``period`` (e.g. 24 hours in a day), or 0 if not a whole number ≥ 1.

    Calendar frequencies without a fixed length (months) return 0: they have no daily or weekly season.
    """
    try:
        step = pd.Timedelta(pd.tseries.frequencies.to_offset(freq))
    except ValueError:
        return 0
    ratio, remainder = divmod(pd.Timedelta(period), step)
    return int(ratio) if remainder == pd.Timedelta(0) and ratio >= 1 else 0
