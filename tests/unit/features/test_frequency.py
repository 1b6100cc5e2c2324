"""Frequency inference over a panel of series."""

from __future__ import annotations

import pandas as pd
import pytest

from trainforge.errors import InvalidInput
from trainforge.features.frequency import infer_frequency, steps_per


def panel(freq: str, periods: int = 50, drop: tuple[int, ...] = ()) -> pd.DataFrame:
    times = pd.date_range("2024-01-01", periods=periods, freq=freq, tz="UTC")
    rows = pd.concat([pd.DataFrame({"timestamp": times, "series_id": s}) for s in ("a", "b")], ignore_index=True)
    return rows.drop(index=list(drop)).sample(frac=1.0, random_state=0)


@pytest.mark.parametrize(("freq", "expected"), [("h", "h"), ("15min", "15min"), ("D", "D"), ("MS", "MS")])
def test_regular_panels(freq, expected):
    rows = panel(freq)
    assert infer_frequency(rows["timestamp"], rows["series_id"]) == expected


def test_gaps_do_not_change_the_step():
    rows = panel("h", drop=(3, 4, 10, 20, 21, 22, 60))
    assert infer_frequency(rows["timestamp"], rows["series_id"]) == "h"


def test_series_are_not_mixed_when_timestamps_interleave():
    # Two 2-hourly series offset by one hour: a pooled diff would say "h".
    times = pd.date_range("2024-01-01", periods=30, freq="2h")
    rows = pd.concat(
        [
            pd.DataFrame({"timestamp": times, "series_id": "a"}),
            pd.DataFrame({"timestamp": times + pd.Timedelta("1h"), "series_id": "b"}),
        ],
        ignore_index=True,
    )
    assert infer_frequency(rows["timestamp"], rows["series_id"]) == "2h"


def test_a_single_timestamp_per_series_has_no_frequency():
    rows = pd.DataFrame({"timestamp": pd.to_datetime(["2024-01-01", "2024-01-02"]), "series_id": ["a", "b"]})
    with pytest.raises(InvalidInput):
        infer_frequency(rows["timestamp"], rows["series_id"])


@pytest.mark.parametrize(
    ("period", "freq", "expected"),
    [
        ("1D", "h", 24),
        ("7D", "h", 168),
        ("1D", "15min", 96),
        ("1D", "D", 1),
        ("1D", "7D", 0),
        ("1D", "MS", 0),
        ("1D", "7h", 0),
    ],
)
def test_steps_per(period, freq, expected):
    assert steps_per(period, freq) == expected
