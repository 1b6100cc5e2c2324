"""The portable forecaster: features that never look past the origin, its calendar, and forecasting from history."""

from __future__ import annotations

import ast
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from trainforge.models import forecaster as forecaster_module
from trainforge.models.forecaster import (
    FeatureSpec,
    Forecaster,
    ForecastInputError,
    PanelStatistics,
    calendar_features,
    gather_features,
    make_panel,
    quantile_column,
)

HORIZON = 24


def history(n_series: int = 2, periods: int = 24 * 21, seed: int = 0, start: str = "2024-01-01") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    times = pd.date_range(start, periods=periods, freq="h", tz="UTC")
    frames = []
    for series in range(n_series):
        load = 100 * (series + 1) + 20 * np.sin(2 * np.pi * times.hour / 24) + rng.normal(0, 2, periods)
        frames.append(
            pd.DataFrame(
                {"timestamp": times, "series_id": f"s{series}", "load": load, "temp": rng.normal(size=periods)}
            )
        )
    return pd.concat(frames, ignore_index=True)


def spec(**overrides) -> FeatureSpec:
    fields = {
        "target": "load",
        "freq": "h",
        "horizon": HORIZON,
        "covariates": ["temp"],
        "seasons": [24, 168],
        "windows": [24, 168],
        "anchor_season": 24,
    }
    return FeatureSpec(**{**fields, **overrides})


def fitted(spec_: FeatureSpec, frame: pd.DataFrame) -> Forecaster:
    """A small booster trained on rows of ``frame`` (every origin with enough history, every lead)."""
    panel = make_panel(frame, ["load", "temp"], "h")
    stats = PanelStatistics(panel, spec_)
    origins = np.flatnonzero(panel.pos >= spec_.history_steps - 1)
    lead = np.tile(np.arange(1, HORIZON + 1), len(origins))
    rows = np.repeat(origins, HORIZON) + lead
    inside = panel.pos[rows - lead] + lead < panel.spans[panel.codes[rows - lead]]
    rows, lead = rows[inside], lead[inside]
    inputs, level = gather_features(panel, spec_, stats, rows, lead)
    target = panel.values["load"][rows] / level
    params = {"objective": "l1", "verbosity": -1, "num_threads": 1, "seed": 0, "deterministic": True}
    booster = lgb.train(params, lgb.Dataset(inputs, label=target), num_boost_round=20)
    spec_.residual_quantiles = [np.linspace(-0.1, 0.1, 201).tolist()] * HORIZON
    return Forecaster(spec_, booster)


def test_features_of_a_forecast_ignore_every_value_after_its_origin():
    frame = history()
    spec_ = spec()
    panel = make_panel(frame, ["load", "temp"], "h")
    origin = int(panel.starts[1] + 300)  # series s1, well past the warm-up
    lead = np.arange(1, HORIZON + 1)
    rows = origin + lead
    before, level = gather_features(panel, spec_, PanelStatistics(panel, spec_), rows, lead)

    rng = np.random.default_rng(1)
    after_origin = (panel.codes == 1) & (panel.pos > panel.pos[origin])
    for column in ("load", "temp"):
        panel.values[column][after_origin] = rng.normal(1000, 500, after_origin.sum())
    perturbed, perturbed_level = gather_features(panel, spec_, PanelStatistics(panel, spec_), rows, lead)

    assert np.isfinite(before.drop(columns="series_id").to_numpy(dtype=float)).all()
    pd.testing.assert_frame_equal(before, perturbed)
    np.testing.assert_array_equal(level, perturbed_level)


def test_each_lead_reads_the_latest_values_known_at_the_origin():
    frame = history(n_series=1)
    spec_ = spec()
    panel = make_panel(frame, ["load", "temp"], "h")
    y = panel.values["load"]
    origin, lead = 400, np.array([1, 5, 24])
    inputs, level = gather_features(panel, spec_, PanelStatistics(panel, spec_), origin + lead, lead)
    np.testing.assert_allclose(inputs["load_origin"] * level, y[origin], rtol=1e-6)
    np.testing.assert_allclose(inputs["load_origin_minus_2"] * level, y[origin - 2], rtol=1e-6)
    # The latest same hour of the day known at the origin: 24 steps before the forecast time for leads 1..24.
    np.testing.assert_allclose(inputs["load_season_24"] * level, y[origin + lead - 24], rtol=1e-6)
    np.testing.assert_allclose(inputs["load_season_168"] * level, y[origin + lead - 168], rtol=1e-6)
    np.testing.assert_allclose(level, np.abs(y[origin + lead - 24]), rtol=1e-6)
    np.testing.assert_allclose(inputs["temp_origin"], panel.values["temp"][origin], rtol=1e-6)
    assert inputs["step"].tolist() == [1, 5, 24]


def test_history_steps_cover_the_furthest_feature_of_the_first_lead():
    # Lead 1 reads one week back (168 - 1 steps before the origin) and the previous day's same hour (47 steps).
    assert spec().history_steps == 168
    assert spec(seasons=[48, 336], windows=[48, 336], anchor_season=48, freq="30min").history_steps == 336
    assert spec(seasons=[], windows=[3], anchor_season=1, freq="MS").history_steps == 3


def test_calendar_is_of_the_local_time_and_date():
    times = pd.date_range("2024-07-04 00:00", periods=30, freq="h", tz="UTC")
    local = calendar_features(times, spec(timezone="America/New_York"))
    utc = calendar_features(times, spec())
    assert local["hour"][:5].tolist() == [20, 21, 22, 23, 0]
    # July 4th in New York runs from 04:00 UTC on the 4th to 03:00 UTC on the 5th.
    assert local["is_holiday"].tolist() == [0] * 4 + [1] * 24 + [0] * 2
    assert utc["is_holiday"].tolist() == [1] * 24 + [0] * 6


def test_holidays_follow_the_subdivision():
    times = pd.date_range("2024-03-31 12:00", periods=1, freq="h", tz="UTC")  # Cesar Chavez Day, California only
    assert calendar_features(times, spec(holiday_subdivision="CA"))["is_holiday"].tolist() == [1]
    assert calendar_features(times, spec())["is_holiday"].tolist() == [0]
    assert calendar_features(times, spec(holiday_country=None))["is_holiday"].tolist() == [0]


def test_forecast_table_has_a_row_per_series_and_step_with_ordered_quantiles():
    frame = history()
    table = fitted(spec(), frame).forecast(frame, horizon=6, quantiles=[0.1, 0.9])
    assert list(table.columns) == ["series_id", "origin", "timestamp", "step", "value", "q0.1", "q0.9"]
    assert len(table) == 2 * 6
    assert table.groupby("series_id")["step"].apply(list).tolist() == [[1, 2, 3, 4, 5, 6]] * 2
    last = frame["timestamp"].max()
    assert (table["timestamp"] == table["origin"] + table["step"] * pd.Timedelta(hours=1)).all()
    assert (table["origin"] == last).all()
    assert (table["q0.1"] < table["value"]).all() and (table["value"] < table["q0.9"]).all()


def test_a_saved_forecaster_loads_and_forecasts_the_same(tmp_path):
    frame = history()
    model = fitted(spec(), frame)
    artifacts = model.save(tmp_path)
    loaded = Forecaster.load(artifacts["booster"], artifacts["spec"])
    assert loaded.spec == model.spec
    pd.testing.assert_frame_equal(loaded.forecast(frame, quantiles=[0.5]), model.forecast(frame, quantiles=[0.5]))


def test_a_series_the_model_has_not_seen_is_forecast_with_the_fallback():
    model = fitted(spec(), history())
    stranger = history(n_series=1, seed=5).assign(series_id="new-site")
    table = model.forecast(stranger)
    assert set(table["series_id"]) == {"new-site"}
    assert np.isfinite(table["value"]).all()


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda m, h: m.forecast(h, horizon=HORIZON + 1), "horizon"),
        (lambda m, h: m.forecast(h, horizon=0), "horizon"),
        (lambda m, h: m.forecast(h, horizon=2.5), "horizon"),
        (lambda m, h: m.forecast(h, quantiles=[1.0]), "quantiles"),
        (lambda m, h: m.forecast(h.tail(100)), "history"),
        (lambda m, h: m.forecast(h.iloc[0:0]), "history"),
        (lambda m, h: m.forecast(h.drop(columns="temp")), "temp"),
        (lambda m, h: m.forecast(h.assign(load="x")), "load"),
        (lambda m, h: m.forecast(pd.concat([h, h.tail(1)])), "timestamp"),
    ],
)
def test_bad_forecast_input_names_the_field(call, field):
    frame = history()
    with pytest.raises(ForecastInputError) as caught:
        call(fitted(spec(), frame), frame)
    assert caught.value.field == field


def test_quantile_columns_are_named_by_the_quantile():
    assert [quantile_column(q) for q in (0.1, 0.5, 0.025)] == ["q0.1", "q0.5", "q0.025"]


def test_the_module_imports_nothing_of_trainforge():
    """MLflow loads the registered model from this file alone: it may import only what the model's pip
    requirements install."""
    allowed = {"__future__", "json", "os", "collections", "dataclasses", "pathlib", "typing"}
    allowed |= {"holidays", "lightgbm", "mlflow", "numpy", "pandas"}
    tree = ast.parse(Path(forecaster_module.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= allowed, imported - allowed
