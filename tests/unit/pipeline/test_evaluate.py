"""Forecast metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trainforge.pipeline.evaluate import compare_with_baseline, mae, mape, rmse, smape


def test_known_values():
    actual, forecast = [100.0, 200.0, 300.0], [110.0, 180.0, 300.0]
    assert mae(actual, forecast) == pytest.approx(10.0)
    assert rmse(actual, forecast) == pytest.approx(math.sqrt(500 / 3 * 1))
    assert mape(actual, forecast) == pytest.approx(100 * (0.1 + 0.1 + 0.0) / 3)
    assert smape(actual, forecast) == pytest.approx(100 * (20 / 210 + 40 / 380 + 0) / 3)


def test_mape_skips_near_zero_actuals_and_smape_both_zero():
    assert mape([0.0, 1e-9, 100.0], [5.0, 5.0, 110.0]) == pytest.approx(10.0)
    assert math.isnan(mape([0.0], [1.0]))
    assert smape([0.0, 100.0], [0.0, 100.0]) == 0.0
    assert smape([0.0], [5.0]) == pytest.approx(200.0)


def test_missing_pairs_are_skipped():
    assert mae([1.0, np.nan, 3.0], [2.0, 5.0, np.nan]) == 1.0
    assert math.isnan(rmse([np.nan], [1.0]))


def test_shapes_must_match():
    with pytest.raises(ValueError, match="shape"):
        mae([1.0, 2.0], [1.0])


def test_compare_with_baseline_keys():
    metrics = compare_with_baseline([1.0, 2.0], [1.0, 2.5], [2.0, 2.0])
    assert set(metrics) == {
        "mae",
        "rmse",
        "mape",
        "smape",
        "baseline_mae",
        "baseline_rmse",
        "baseline_mape",
        "baseline_smape",
    }
    assert metrics["mae"] == 0.25 and metrics["baseline_mae"] == 0.5


def test_mase_divides_each_error_by_its_series_scale():
    from trainforge.pipeline.evaluate import mase

    assert mase([10, 10, 20], [12, 8, 30], [2, 2, 5]) == pytest.approx((1 + 1 + 2) / 3)
    assert np.isnan(mase([1.0], [2.0], [0.0]))  # a series without a scale is skipped


def test_per_step_metrics_have_one_entry_per_lead_with_the_baseline():
    from trainforge.pipeline.evaluate import per_step_metrics

    actual = np.array([10.0, 10, 10, 10])
    entries = per_step_metrics(actual, actual + np.array([1, 3, 1, 3]), actual + 5, np.array([1, 2, 1, 2]), np.ones(4))
    assert [entry["step"] for entry in entries] == [1, 2]
    assert [entry["mae"] for entry in entries] == [1.0, 3.0]
    assert [entry["baseline_mae"] for entry in entries] == [5.0, 5.0]
    assert [entry["rows"] for entry in entries] == [2, 2]
    assert entries[1]["mase"] == 3.0


def test_coverage_is_the_share_inside_the_interval():
    from trainforge.pipeline.evaluate import coverage

    assert coverage([1, 2, 3, 4], [0, 2.5, 0, 0], [2, 3, 2, 5]) == 0.5
    assert coverage([1, np.nan], [0, 0], [2, 2]) == 1.0


def test_residual_quantiles_per_lead_and_pooled_when_few():
    from trainforge.pipeline.intervals import MIN_RESIDUALS_PER_LEAD, interval_quantiles, residual_quantiles

    rng = np.random.default_rng(0)
    wide = rng.normal(0, 1.0, 5000)
    narrow = rng.normal(0, 0.1, 5000)
    few = rng.normal(0, 1.0, MIN_RESIDUALS_PER_LEAD - 1)
    residuals = np.concatenate([wide, narrow, few])
    lead = np.repeat([1, 2, 3], [len(wide), len(narrow), len(few)])
    table = np.asarray(residual_quantiles(residuals, lead, horizon=3))
    assert table.shape == (3, 201)
    low, high = interval_quantiles(80)
    assert (low, high) == pytest.approx((0.1, 0.9))
    assert table[0, 180] == pytest.approx(np.quantile(wide, 0.9))
    assert table[1, 180] == pytest.approx(np.quantile(narrow, 0.9))
    assert table[2, 180] == pytest.approx(np.quantile(residuals, 0.9))  # borrowed from every lead
    assert (np.diff(table, axis=1) >= 0).all()
