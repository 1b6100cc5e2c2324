"""The Parquet feature store: round trips, filters, replace/append, atomic writes and safe names."""

from __future__ import annotations

import datetime as dt
import threading

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from trainforge.errors import FeatureSetNotFound, InvalidInput
from trainforge.features import store as store_module
from trainforge.features.store import ParquetFeatureStore


def frame(series=("a", "b"), start="2024-01-01", periods=48, tz=None, seed=0) -> pd.DataFrame:
    """Hourly rows per series with a target, a covariate and a text column, in scrambled order."""
    rng = np.random.default_rng(seed)
    times = pd.date_range(start, periods=periods, freq="h", tz=tz)
    parts = [
        pd.DataFrame(
            {
                "ts": times,
                "meter": name,
                "load": rng.normal(100, 10, periods),
                "temp": rng.normal(10, 3, periods),
                "note": "ok",
            }
        )
        for name in series
    ]
    return pd.concat(parts, ignore_index=True).sample(frac=1.0, random_state=seed)


@pytest.fixture
def store(tmp_path) -> ParquetFeatureStore:
    return ParquetFeatureStore(tmp_path / "features")


def write(store, df=None, name="load", tenant="t1", **kwargs):
    return store.write_frame(
        tenant, name, frame() if df is None else df, timestamp_col="ts", series_col="meter", **kwargs
    )


def test_write_then_load_round_trips_values_in_canonical_form(store):
    source = frame()
    info = write(store, source)
    loaded = store.load("t1", "load")

    assert list(loaded.columns) == ["timestamp", "series_id", "load", "temp", "note"]
    assert str(loaded["timestamp"].dtype) == "datetime64[us, UTC]"
    assert loaded.equals(loaded.sort_values(["series_id", "timestamp"], ignore_index=True))
    expected = source.sort_values(["meter", "ts"], ignore_index=True)
    np.testing.assert_array_equal(loaded["load"].to_numpy(), expected["load"].to_numpy())
    # Naive input timestamps are taken as UTC.
    assert loaded["timestamp"].iloc[0] == pd.Timestamp("2024-01-01", tz="UTC")
    schema = pq.read_schema(next((store.root / "t1" / "load").glob("part-*.parquet")))
    assert str(schema.field("timestamp").type) == "timestamp[us, tz=UTC]"
    assert str(schema.field("series_id").type) == "string"

    assert (info.row_count, info.series_count, info.version, info.frequency) == (96, 2, 1, "h")
    assert info.start == dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    assert info.end == dt.datetime(2024, 1, 2, 23, tzinfo=dt.UTC)
    assert info.numeric_columns == ["load", "temp"]
    assert (info.timestamp_column, info.series_column) == ("ts", "meter")
    assert info.columns["timestamp"] == "timestamp[us, tz=UTC]"
    assert store.info("t1", "load") == info


def test_timezone_aware_input_is_converted_to_utc(store):
    write(store, frame(tz="Europe/Paris"))
    loaded = store.load("t1", "load")
    assert loaded["timestamp"].iloc[0] == pd.Timestamp("2023-12-31 23:00", tz="UTC")


def test_meta_file_describes_the_set(store):
    write(store)
    meta = (store.root / "t1" / "load" / "_meta.json").read_text()
    for key in ('"row_count": 96', '"timestamp_column": "ts"', '"frequency": "h"', '"version": 1', "created_at"):
        assert key in meta


def test_load_pushes_down_time_series_and_column_filters(store):
    write(store)
    loaded = store.load(
        "t1",
        "load",
        start="2024-01-01T10:00",
        end=dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC),
        series=["b"],
        columns=["temp"],
    )
    assert list(loaded.columns) == ["timestamp", "series_id", "temp"]
    assert loaded["series_id"].tolist() == ["b", "b"]
    # start inclusive, end exclusive; a naive start is UTC
    assert loaded["timestamp"].tolist() == [
        pd.Timestamp("2024-01-01 10:00", tz="UTC"),
        pd.Timestamp("2024-01-01 11:00", tz="UTC"),
    ]
    tokyo = store.load("t1", "load", start=pd.Timestamp("2024-01-02 08:00", tz="Asia/Tokyo"), series=["a"])
    assert tokyo["timestamp"].min() == pd.Timestamp("2024-01-01 23:00", tz="UTC")


def test_load_refuses_unknown_columns_and_bad_bounds(store):
    write(store)
    with pytest.raises(InvalidInput) as caught:
        store.load("t1", "load", columns=["nope"])
    assert caught.value.field == "columns" and "nope" in caught.value.message
    with pytest.raises(InvalidInput) as caught:
        store.load("t1", "load", end="next tuesday")
    assert caught.value.field == "end"


def test_missing_feature_set_is_not_found(store):
    with pytest.raises(FeatureSetNotFound):
        store.info("t1", "absent")
    with pytest.raises(FeatureSetNotFound):
        store.load("t1", "absent")


def test_list_by_tenant_and_for_all(store):
    write(store, name="one", tenant="t1")
    write(store, name="two", tenant="t1")
    write(store, name="three", tenant="t2")
    assert [i.feature_set for i in store.list("t1")] == ["one", "two"]
    assert [(i.tenant_id, i.feature_set) for i in store.list()] == [("t1", "one"), ("t1", "two"), ("t2", "three")]
    assert store.list("nobody") == []
    assert ParquetFeatureStore(store.root / "missing").list() == []


def test_replace_is_the_default_and_bumps_the_version(store):
    write(store)
    info = write(store, frame(series=("c",), periods=24))
    assert (info.version, info.row_count, info.series_count) == (2, 24, 1)
    assert set(store.load("t1", "load")["series_id"]) == {"c"}
    assert len(list((store.root / "t1" / "load").glob("part-*.parquet"))) == 1


def test_append_adds_rows(store):
    first = write(store, frame(periods=24))
    later = frame(start="2024-01-02", periods=24, seed=1)
    info = write(store, later, append=True)
    assert (info.version, info.row_count, info.series_count) == (2, 96, 2)
    assert info.created_at == first.created_at and info.updated_at >= first.updated_at
    loaded = store.load("t1", "load")
    assert len(loaded) == 96
    assert loaded["timestamp"].max() == pd.Timestamp("2024-01-02 23:00", tz="UTC")
    assert loaded.groupby("series_id")["timestamp"].is_monotonic_increasing.all()


def test_append_to_a_new_set_creates_it(store):
    assert write(store, append=True).version == 1


def test_append_refuses_overlapping_pairs(store):
    write(store, frame(periods=24))
    with pytest.raises(InvalidInput) as caught:
        write(store, frame(start="2024-01-01 20:00", periods=10, seed=2), append=True)
    assert "already stored" in caught.value.message and "'a'" in caught.value.message
    assert store.info("t1", "load").row_count == 48


def test_append_refuses_a_schema_mismatch(store):
    write(store)
    renamed = frame(start="2024-02-01").rename(columns={"temp": "temperature"})
    with pytest.raises(InvalidInput) as caught:
        write(store, renamed, append=True)
    assert "temp" in caught.value.message and "temperature" in caught.value.message
    retyped = frame(start="2024-02-01").assign(temp=lambda d: d["temp"].round().astype("int64"))
    with pytest.raises(InvalidInput) as caught:
        write(store, retyped, append=True)
    assert caught.value.field == "temp"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda d: d.drop(columns="ts"), "timestamp_col", "'ts' not found"),
        (lambda d: d.drop(columns="meter"), "series_col", "'meter' not found"),
        (lambda d: d.assign(ts=d["ts"].astype(str).where(d.index != 3, "not a time")), "ts", "not timestamps"),
        (lambda d: d.assign(ts=d["ts"].where(d.index != 3)), "ts", "1 empty timestamps"),
        (lambda d: d.assign(meter=d["meter"].where(d.index != 3)), "meter", "empty series ids"),
        (lambda d: pd.concat([d, d.iloc[:2]]), "ts", "2 rows repeat"),
        (lambda d: d[["ts", "meter", "note"]], "data", "no numeric column"),
        (lambda d: d.assign(ts=np.arange(len(d))), "ts", "expected datetimes"),
        (lambda d: d.assign(series_id=1.0), "series_id", "clashes"),
        (lambda d: d.iloc[:0], "data", "no rows"),
    ],
)
def test_bad_data_is_refused_naming_the_column(store, change, field, words):
    with pytest.raises(InvalidInput) as caught:
        write(store, change(frame()))
    assert caught.value.field == field
    assert words in caught.value.message


def test_a_failed_import_leaves_the_previous_version_intact(store, tmp_path):
    write(store)
    before = store.load("t1", "load")
    bad = tmp_path / "bad.csv"
    frame().assign(ts="garbage").to_csv(bad, index=False)
    with pytest.raises(InvalidInput):
        store.import_file("t1", "load", bad, timestamp_col="ts", series_col="meter")
    assert store.load("t1", "load").equals(before)
    assert store.info("t1", "load").version == 1


def test_a_write_that_fails_midway_leaves_no_trace(store, monkeypatch):
    write(store)
    before = store.load("t1", "load")

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_module.pq, "write_table", disk_full)
    with pytest.raises(OSError, match="No space"):
        write(store, frame(series=("z",)))
    with pytest.raises(OSError, match="No space"):
        write(store, frame(start="2024-03-01"), append=True)
    assert store.load("t1", "load").equals(before)
    assert store.info("t1", "load").version == 1
    leftovers = [p.name for p in (store.root / "t1").iterdir() if p.name.startswith((".staging", ".trash"))]
    assert leftovers == []


def test_import_csv_and_parquet(store, tmp_path):
    source = frame()
    csv_path, parquet_path = tmp_path / "in.csv", tmp_path / "in.parquet"
    source.to_csv(csv_path, index=False)
    source.to_parquet(parquet_path)
    from_csv = store.import_file("t1", "csv", csv_path, timestamp_col="ts", series_col="meter")
    from_parquet = store.import_file("t1", "pq", parquet_path, timestamp_col="ts", series_col="meter")
    assert from_csv.row_count == from_parquet.row_count == 96
    np.testing.assert_allclose(store.load("t1", "csv")["load"], store.load("t1", "pq")["load"])


@pytest.mark.parametrize(("name", "field"), [("in.txt", "path"), ("missing.csv", "path")])
def test_import_refuses_unknown_or_missing_files(store, tmp_path, name, field):
    (tmp_path / "in.txt").write_text("x")
    with pytest.raises(InvalidInput) as caught:
        store.import_file("t1", "x", tmp_path / name, timestamp_col="ts", series_col="meter")
    assert caught.value.field == field


UNSAFE = ["../escape", "..", "/etc", "a/b", "a\x00b", "", ".hidden", "x" * 200]


@pytest.mark.parametrize("name", UNSAFE)
def test_unsafe_names_are_refused_before_any_path_is_built(store, tmp_path, name):
    for call, field in [
        (lambda: write(store, tenant=name), "tenant_id"),
        (lambda: write(store, name=name), "feature_set"),
        (lambda: store.info(name, "load"), "tenant_id"),
        (lambda: store.load("t1", name), "feature_set"),
        (lambda: store.list(name), "tenant_id"),
    ]:
        with pytest.raises(InvalidInput) as caught:
            call()
        assert caught.value.field == field
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written anywhere, not even the root


def test_concurrent_appends_are_serialised_and_none_is_lost(store):
    write(store, frame(periods=24))
    errors: list[Exception] = []

    def append(day: int) -> None:
        try:
            write(store, frame(start=f"2024-01-{day:02d}", periods=24, seed=day), append=True)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(day,)) for day in range(2, 8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    info = store.info("t1", "load")
    assert (info.version, info.row_count) == (7, 7 * 48)
    assert len(store.load("t1", "load")) == 7 * 48
