"""The latest history of a feature set: each series' latest rows, however its rows end; and the predict API's
view of it (the request's rows, the feature set's errors blamed on ``history``)."""

from __future__ import annotations

import pandas as pd
import pytest

from trainforge.errors import InvalidInput
from trainforge.features import ParquetFeatureStore, latest_history
from trainforge.serving import PredictRequest
from trainforge.serving._history import rows_to_frame, stored_history

STEPS = 10


@pytest.fixture
def store(tmp_path) -> ParquetFeatureStore:
    """Hourly series: ``full`` up to the set's end, ``early`` ending two days before it, ``gappy`` up to the end
    with every other hour of its last day missing, ``young`` with only 4 rows."""
    end = pd.Timestamp("2024-03-31 23:00", tz="UTC")
    frames = []
    for name, last in (("full", end), ("early", end - pd.Timedelta(days=2)), ("gappy", end)):
        times = pd.date_range(last - pd.Timedelta(days=5), last, freq="h")
        frame = pd.DataFrame({"ts": times, "id": name, "y": range(len(times)), "x": 1.0})
        if name == "gappy":
            frame = frame[~((frame["ts"] > end - pd.Timedelta(days=1)) & (frame.index % 2 == 1))]
        frames.append(frame)
    frames.append(
        pd.DataFrame({"ts": pd.date_range(end, periods=4, freq="-1h")[::-1], "id": "young", "y": 1, "x": 0.0})
    )
    features = ParquetFeatureStore(tmp_path)
    features.write_frame("t1", "fs", pd.concat(frames), timestamp_col="ts", series_col="id")
    return features


def expected(store: ParquetFeatureStore, series: str) -> pd.DataFrame:
    return store.load("t1", "fs", series=[series], columns=["y"]).tail(STEPS).reset_index(drop=True)


FOUR = ["gappy", "early", "full", "young"]


@pytest.mark.parametrize("series", [None, FOUR, ["early", "absent"], ["full"], ["absent"]])
def test_each_series_gets_its_own_latest_rows(store, series):
    history = latest_history(store, "t1", "fs", columns=["y"], freq="h", steps=STEPS, series=series)
    assert list(history.columns) == ["timestamp", "series_id", "y"]
    present = sorted(history["series_id"].unique())
    assert present == sorted(set(FOUR) & set(series or FOUR))
    for name in present:
        got = history[history["series_id"] == name].reset_index(drop=True)
        pd.testing.assert_frame_equal(got, expected(store, name), check_dtype=False)
    assert history.equals(history.sort_values(["series_id", "timestamp"], ignore_index=True))


def test_a_series_that_ends_early_keeps_its_own_last_rows(store):
    history = latest_history(store, "t1", "fs", columns=["y"], freq="h", steps=STEPS)
    early = history[history["series_id"] == "early"]
    assert len(early) == STEPS
    assert early["timestamp"].max() == pd.Timestamp("2024-03-29 23:00", tz="UTC")


def test_a_column_the_set_lacks_is_named_and_for_a_forecast_the_history_is_at_fault(store):
    with pytest.raises(InvalidInput) as caught:
        latest_history(store, "t1", "fs", columns=["load_kw"], freq="h", steps=STEPS, series=["full"])
    assert caught.value.field == "columns"
    with pytest.raises(InvalidInput) as caught:
        stored_history(store, "t1", "fs", columns=["load_kw"], freq="h", steps=STEPS, series=["full"])
    assert caught.value.field == "history" and "load_kw" in caught.value.message


def test_request_rows_become_a_frame_with_utc_times_and_float_columns():
    request = PredictRequest.model_validate(
        {
            "tenant_id": "t1",
            "history": [
                {"timestamp": "2024-01-01T00:00:00", "series_id": "a", "y": 1},
                {"timestamp": "2024-01-01T02:00:00+01:00", "series_id": "a", "y": None, "x": 2.5},
            ],
        }
    )
    frame = rows_to_frame(request.history)
    assert list(frame.columns) == ["timestamp", "series_id", "y", "x"]
    assert list(frame["timestamp"]) == [
        pd.Timestamp("2024-01-01 00:00", tz="UTC"),
        pd.Timestamp("2024-01-01 01:00", tz="UTC"),
    ]
    assert frame["y"].dtype == "float64" and frame["y"].isna().tolist() == [False, True]
    assert frame["x"].isna().tolist() == [True, False]
