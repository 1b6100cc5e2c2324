"""Forecast features: no leakage, exact lags across gaps, warm-up, and the level scaling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trainforge.errors import InsufficientData, InvalidInput
from trainforge.pipeline.prepare import build_features, feature_lags


def panel(n_series: int = 3, periods: int = 24 * 21, seed: int = 0) -> pd.DataFrame:
    """Random hourly series (no structure to hide a leak behind) with two covariates."""
    rng = np.random.default_rng(seed)
    times = pd.date_range("2024-03-01", periods=periods, freq="h", tz="UTC")
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "timestamp": times,
                    "series_id": f"s{i}",
                    "y": rng.normal(100 * (i + 1), 20, periods),
                    "temp": rng.normal(10, 5, periods),
                    "price": rng.normal(50, 5, periods),
                }
            )
            for i in range(n_series)
        ],
        ignore_index=True,
    )


@pytest.mark.parametrize("horizon", [1, 6, 24, 36])
def test_features_of_row_t_ignore_every_value_after_t_minus_horizon(horizon):
    """The leakage test: perturb all targets and covariates later than t - h, in every series."""
    data = panel()
    before = build_features(data, "y", horizon, ["temp", "price"], "h")
    rng = np.random.default_rng(horizon)
    rows = rng.choice(before.frame.index.to_numpy(), size=25, replace=False)
    for row in rows:
        origin = data.loc[row, "timestamp"] - pd.Timedelta(hours=horizon)
        perturbed = data.copy()
        later = perturbed["timestamp"] > origin
        for column in ("y", "temp", "price"):
            perturbed.loc[later, column] += rng.normal(1000, 100, int(later.sum()))
        after = build_features(perturbed, "y", horizon, ["temp", "price"], "h")
        pd.testing.assert_series_equal(
            before.inputs(before.frame).loc[row], after.inputs(after.frame).loc[row], check_names=False
        )
        # ...while the target of row t, which is later than t - h, did change: the perturbation was real.
        assert after.frame.loc[row, "y"] != before.frame.loc[row, "y"]


@pytest.mark.parametrize("horizon", [1, 5, 24, 25, 100, 168, 200, 720])
def test_every_lag_reaches_at_least_horizon_steps_back(horizon):
    lags, windows = feature_lags(horizon, "h")
    assert min(lags) == horizon
    assert all(lag >= horizon for lag in lags)
    assert {24 * -(-horizon // 24), 168 * -(-horizon // 168)} <= set(lags)  # latest same hour of day / of week
    assert windows == [24, 168]


def test_feature_lags_for_a_day_ahead_hourly_forecast():
    assert feature_lags(24, "h") == ([24, 25, 26, 48, 168], [24, 168])


def test_lags_are_exact_across_gaps_and_rows_are_labelled_as_in_the_input():
    data = panel(n_series=1, periods=24 * 10)
    data["y"] = np.arange(len(data), dtype=float)  # y is the step number, so a lag k must read y - k
    gappy = data.drop(index=[200, 201, 202]).sample(frac=1.0, random_state=1)  # missing hours, scrambled rows
    features = build_features(gappy, "y", 24, [], "h")
    frame = features.frame
    level = frame["y_level"].to_numpy(dtype=float)
    assert set(frame.index) <= set(gappy.index) and not {200, 201, 202} & set(frame.index)
    known = frame["y_lag_24"].notna()
    assert known.sum() == len(frame) - 3
    np.testing.assert_allclose(frame["y_lag_24"][known] * level[known], frame["y"][known] - 24, rtol=1e-5)
    # Rows whose lag fell in the gap have a missing lag, not the value of another hour.
    gap_rows = frame.loc[[224, 225, 226]]
    assert gap_rows["y_lag_24"].isna().all() and gap_rows["y_lag_25"].notna().sum() == 1
    assert frame["timestamp"].is_monotonic_increasing


def test_warm_up_rows_and_missing_targets_are_dropped_but_missing_lags_are_kept():
    data = panel(n_series=2, periods=24 * 10)
    data.loc[240 + 200, "y"] = np.nan  # series s1, after its warm-up
    features = build_features(data, "y", 24, ["temp"], "h")
    assert features.warmup == 24 + 168 - 1
    first = features.frame.groupby("series_id", observed=True)["timestamp"].min()
    assert (first == pd.Timestamp("2024-03-01", tz="UTC") + pd.Timedelta(hours=features.warmup)).all()
    assert len(features.frame) == 2 * (24 * 10 - features.warmup) - 1
    assert features.frame["y"].notna().all()
    assert features.frame["y_lag_24"].isna().sum() == 1  # the row 24 h after the missing target


def test_frame_columns_and_model_target_round_trip():
    data = panel()
    features = build_features(data, "y", 24, ["temp"], "h")
    assert features.feature_columns[0] == "series_id"
    assert isinstance(features.frame["series_id"].dtype, pd.CategoricalDtype)
    assert {"hour", "day_of_week", "month", "day_of_year", "is_holiday", "temp_lag_24", "y_level"} <= set(
        features.feature_columns
    )
    assert "y" not in features.feature_columns and "timestamp" not in features.feature_columns
    rows = features.frame
    np.testing.assert_allclose(features.to_forecast(rows, features.model_target(rows)), rows["y"], rtol=1e-6)
    # The level is the mean |y| over the week ending at the origin, so relative lags hover around 1.
    assert 0.5 < rows["y_lag_24"].median() < 1.5


def test_holiday_flag_marks_us_public_holidays():
    data = panel(n_series=1, periods=24 * 30)
    data["timestamp"] = pd.date_range("2024-06-20", periods=len(data), freq="h", tz="UTC")
    frame = build_features(data, "y", 1, [], "h").frame
    flagged = frame.loc[frame["is_holiday"] == 1, "timestamp"].dt.date.unique()
    assert [str(day) for day in flagged] == ["2024-07-04"]


def test_frequency_is_inferred_when_not_given():
    data = panel(n_series=1, periods=24 * 10)
    assert build_features(data, "y", 24).feature_columns == build_features(data, "y", 24, freq="h").feature_columns


def test_too_short_series_raise_insufficient_data_with_the_numbers():
    with pytest.raises(InsufficientData) as caught:
        build_features(panel(periods=100), "y", 24, [], "h")
    assert "191" in caught.value.message and "100" in caught.value.message


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.drop(columns="temp"), "temp"),
        (lambda d: d.assign(temp="warm"), "temp"),
        (lambda d: d.assign(timestamp=d["timestamp"] + pd.to_timedelta(np.arange(len(d)) % 2, "min")), "timestamp"),
    ],
)
def test_bad_inputs_name_the_column(change, field):
    with pytest.raises(InvalidInput) as caught:
        build_features(change(panel()), "y", 24, ["temp"], "h")
    assert caught.value.field == field
