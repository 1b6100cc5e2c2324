"""Preparing a multi-step forecast: the split by time, the baseline's season, and which rows are fitted and scored."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trainforge.errors import InsufficientData, InvalidInput
from trainforge.pipeline.config import TrainingConfig
from trainforge.pipeline.prepare import prepare_forecast

HORIZON = 24


def panel(weekly: float = 0.0, days: int = 70, n_series: int = 3, seed: int = 0) -> pd.DataFrame:
    """Hourly series with a daily shape, plus a weekend drop of ``weekly`` (0: no weekly season)."""
    rng = np.random.default_rng(seed)
    times = pd.date_range("2024-01-01", periods=24 * days, freq="h", tz="UTC")
    frames = []
    for series in range(n_series):
        load = (
            100 * (series + 1)
            + 20 * np.sin(2 * np.pi * times.hour / 24)
            - weekly * (times.day_of_week >= 5)
            + rng.normal(0, 1, len(times))
        )
        frames.append(pd.DataFrame({"timestamp": times, "series_id": f"s{series}", "load": load}))
    return pd.concat(frames, ignore_index=True)


def design_of(frame: pd.DataFrame, **config):
    return prepare_forecast(frame, "load", TrainingConfig(horizon=HORIZON, **config), [], "h")


def test_parts_are_cut_at_the_same_instants_in_time_order():
    design = design_of(panel())
    train, val = design.sample("train"), design.sample("val")
    times = design.panel.times
    assert times[train.rows].max() < design.val_start <= times[val.rows].min()
    assert times[val.rows].max() < design.test_start
    test = design.test_rows()
    assert times[test.rows].min() >= design.test_start
    # Every series is cut at the same instant.
    codes = design.panel.codes
    assert {times[val.rows[codes[val.rows] == c]].min() for c in range(3)} == {design.val_start}


def test_fitting_rows_draw_leads_whose_origin_has_history():
    design = design_of(panel())
    train = design.sample("train")
    assert train.lead.min() >= 1 and train.lead.max() <= HORIZON
    assert len(np.unique(train.lead)) == HORIZON
    origins = train.rows - train.lead
    assert (design.panel.pos[origins] >= design.spec.history_steps - 1).all()
    assert np.isfinite(train.model_target).all()
    np.testing.assert_allclose(train.to_forecast(train.model_target), train.actual)


def test_test_rows_forecast_every_lead_from_every_origin_of_the_test_split():
    design = design_of(panel())
    test = design.test_rows()
    origins = test.rows - test.lead
    times = design.panel.times
    assert times[origins].min() == design.test_start - pd.Timedelta(hours=1)
    by_origin = pd.Series(test.lead).groupby(origins).apply(list)
    full = by_origin[by_origin.apply(len) == HORIZON]
    assert len(full) > 0 and (full.apply(lambda leads: leads == list(range(1, HORIZON + 1)))).all()
    # Origins near the end have only the leads that still fall in the data.
    assert by_origin.apply(len).min() == 1


def test_the_baseline_season_is_the_better_on_validation():
    assert design_of(panel(weekly=0.0)).baseline_season == 24
    weekly = design_of(panel(weekly=40.0))
    assert weekly.baseline_season == 168
    assert weekly.baseline_val_mae[168] < weekly.baseline_val_mae[24]
    assert weekly.spec.anchor_season == 168  # the model corrects the better baseline
    forced = design_of(panel(weekly=40.0), seasonal_period=24)
    assert forced.baseline_season == 24 and list(forced.baseline_val_mae) == [24]


def test_the_baseline_is_the_latest_same_phase_value_at_the_origin():
    design = design_of(panel(weekly=40.0))
    test = design.test_rows()
    y = design.panel.values["load"]
    np.testing.assert_array_equal(design.baseline(test), y[test.rows - 168])
    np.testing.assert_array_equal(design.baseline(test, 24), y[test.rows - 24])


def test_mase_scale_is_the_in_sample_seasonal_naive_error_per_series():
    design = design_of(panel(n_series=2))
    scale = design.mase_scale()
    y, codes, times = design.panel.values["load"], design.panel.codes, design.panel.times
    season = design.baseline_season
    for code in range(2):
        rows = np.flatnonzero((codes == code) & (design.panel.pos >= season) & (times < design.val_start))
        assert scale[code] == pytest.approx(np.mean(np.abs(y[rows] - y[rows - season])))


def test_too_short_series_raise_insufficient_data_naming_the_horizon():
    with pytest.raises(InsufficientData) as caught:
        design_of(panel(days=5))
    assert caught.value.field == "config.horizon"
    assert "168" in str(caught.value)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda f: f.drop(columns="load"), "load"),
        (lambda f: f.assign(load="x"), "load"),
        (lambda f: pd.concat([f, f.tail(1)]), "timestamp"),
    ],
)
def test_bad_inputs_name_the_column(change, field):
    with pytest.raises(InvalidInput) as caught:
        design_of(change(panel()))
    assert caught.value.field == field


def test_a_large_test_split_strides_its_origins_over_every_hour_of_the_day(monkeypatch):
    from trainforge.pipeline import prepare

    design = design_of(panel(days=120))
    every = design.test_rows()
    monkeypatch.setattr(prepare, "MAX_EVALUATION_ROWS", len(every) // 3)
    strided = design.test_rows()
    origins = np.unique(strided.rows - strided.lead)
    assert len(strided) <= len(every) // 3
    assert len(np.unique(design.panel.times[origins].hour)) == 24  # a stride of 3 would give 8 hours
    assert set(np.unique(strided.lead)) == set(range(1, HORIZON + 1))
