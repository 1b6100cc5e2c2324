"""Time-ordered train/validation/test split."""

from __future__ import annotations

import pandas as pd
import pytest

from trainforge.errors import InsufficientData
from trainforge.pipeline.prepare import time_split


def rows(n_times: int = 100, series: tuple[str, ...] = ("a", "b", "c")) -> pd.DataFrame:
    times = pd.date_range("2024-01-01", periods=n_times, freq="h", tz="UTC")
    frame = pd.concat([pd.DataFrame({"timestamp": times, "series_id": s, "y": 1.0}) for s in series], ignore_index=True)
    return frame.sample(frac=1.0, random_state=0)  # the split must not depend on row order


def test_parts_are_in_time_order_and_cover_every_row_once():
    frame = rows()
    split = time_split(frame, validation_split=0.2, test_split=0.1)
    assert split.train["timestamp"].max() < split.val["timestamp"].min()
    assert split.val["timestamp"].max() < split.test["timestamp"].min()
    assert split.test["timestamp"].max() == frame["timestamp"].max()
    combined = pd.concat(split)
    assert len(combined) == len(frame) and combined.index.is_unique


def test_sizes_follow_the_fractions_of_unique_timestamps():
    split = time_split(rows(n_times=100), validation_split=0.2, test_split=0.1)
    assert [part["timestamp"].nunique() for part in split] == [70, 20, 10]
    assert [len(part) for part in split] == [210, 60, 30]


def test_every_series_is_cut_at_the_same_instants():
    frame = rows()
    late_starter = rows(n_times=40, series=("d",))
    late_starter["timestamp"] += pd.Timedelta(hours=60)
    split = time_split(pd.concat([frame, late_starter], ignore_index=True), 0.2, 0.1)
    cut = split.test["timestamp"].min()
    assert (split.test.groupby("series_id")["timestamp"].min() == cut).all()


def test_rows_are_never_shuffled_within_a_part():
    frame = rows().sort_values(["series_id", "timestamp"])
    split = time_split(frame, 0.2, 0.1)
    for part in split:
        members = set(part.index)
        assert list(part.index) == [label for label in frame.index if label in members]


@pytest.mark.parametrize(("n_times", "series"), [(30, ("a",)), (5, tuple("abcdefghijklmnopqrstuvwxyz"))])
def test_too_few_rows_say_how_many_there_were_and_are_needed(n_times, series):
    frame = rows(n_times=n_times, series=series)
    with pytest.raises(InsufficientData) as caught:
        time_split(frame, 0.2, 0.1)
    assert f"{len(frame)} usable rows over {n_times} timestamps" in caught.value.message
    assert "at least 100 rows over 10 timestamps" in caught.value.message
