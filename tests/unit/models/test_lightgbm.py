"""The lightgbm_forecast family: parameter translation, early stopping and prediction."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from trainforge.errors import PipelineError
from trainforge.models import lightgbm_forecast, validate_hyperparams


def data(n: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(
        {
            "series_id": pd.Categorical(rng.choice(["a", "b", "c"], n), categories=["a", "b", "c"]),
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n),
        }
    )
    offset = x["series_id"].map({"a": 0.0, "b": 5.0, "c": -5.0}).astype(float)
    y = 3 * x["x1"] + np.sin(x["x2"]) + offset + rng.normal(0, 0.1, n)
    return x, y


def test_native_params_translate_names_and_enable_bagging_only_when_subsampling():
    params = validate_hyperparams("lightgbm", {"subsample": 0.7, "colsample_bytree": 0.5, "min_child_samples": 7})
    native = lightgbm_forecast.native_params(params, num_threads=2)
    assert (native["bagging_fraction"], native["bagging_freq"]) == (0.7, 1)
    assert (native["feature_fraction"], native["min_data_in_leaf"], native["num_threads"]) == (0.5, 7, 2)
    assert lightgbm_forecast.native_params(validate_hyperparams("lightgbm", {}))["bagging_freq"] == 0


def test_fit_stops_early_on_validation_and_predicts_well():
    x_train, y_train = data(3000, 0)
    x_val, y_val = data(600, 1)
    x_test, y_test = data(600, 2)
    params = validate_hyperparams("lightgbm", {"n_estimators": 2000, "learning_rate": 0.3, "num_leaves": 15})
    booster = lightgbm_forecast.fit(x_train, y_train, x_val, y_val, params, num_threads=1)
    assert isinstance(booster, lgb.Booster)
    assert 1 <= booster.best_iteration < 2000
    forecast = lightgbm_forecast.predict(booster, x_test)
    assert forecast.shape == (600,)
    assert np.mean(np.abs(forecast - y_test)) < 0.25 * np.mean(np.abs(y_test - y_test.mean()))


def test_same_data_gives_the_same_model():
    x, y = data(1000, 0)
    params = validate_hyperparams("lightgbm", {"n_estimators": 30, "subsample": 0.8})
    first = lightgbm_forecast.fit(x, y, x, y, params, 1)
    second = lightgbm_forecast.fit(x, y, x, y, params, 1)
    np.testing.assert_array_equal(lightgbm_forecast.predict(first, x), lightgbm_forecast.predict(second, x))


def test_lightgbm_errors_become_pipeline_errors():
    x, y = data(100, 0)
    params = validate_hyperparams("lightgbm", {})
    with pytest.raises(PipelineError, match="LightGBM"):
        lightgbm_forecast.fit(x, y.iloc[:50], x, y, params, 1)


@pytest.mark.parametrize(("rows", "asked", "used"), [(8_700, 2, 1), (250_000, 2, 2), (250_000, 8, 2), (10, None, 1)])
def test_small_data_uses_fewer_threads(rows, asked, used):
    assert lightgbm_forecast.threads_for(rows, asked) == used
