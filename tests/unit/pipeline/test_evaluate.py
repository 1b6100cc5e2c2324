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
