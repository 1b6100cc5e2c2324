"""The forecast pipeline end to end on a real feature store: demo data and a slice of real EIA-930 load."""

from __future__ import annotations

import itertools
from datetime import datetime

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pytest
from bench._common import EIA_FILE

from trainforge.errors import FeatureSetNotFound, InsufficientData, InvalidInput
from trainforge.features import ParquetFeatureStore, generate_demo_load
from trainforge.models.forecaster import Forecaster
from trainforge.pipeline.config import TrainingConfig
from trainforge.pipeline.forecast import run_forecast_pipeline
from trainforge.pipeline.load import data_hash, load_training_data
from trainforge.pipeline.result import STEPS, PipelineResult, StepEvent


@pytest.fixture(scope="module")
def store_root(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("features")
    demo = generate_demo_load(n_series=4, periods=24 * 120, seed=3)
    ParquetFeatureStore(root).write_frame("acme", "demo", demo, timestamp_col="timestamp", series_col="site_id")
    return str(root)


def run(store_root: str, feature_set: str = "demo", tenant: str = "acme", override=None, **config_fields) -> list:
    config = TrainingConfig(**{"target_variable": "load_kw", **config_fields})
    return list(
        run_forecast_pipeline(
            tenant_id=tenant,
            feature_set=feature_set,
            config=config,
            feature_store_root=store_root,
            num_threads=2,
            hyperparams=override,
        )
    )


@pytest.fixture(scope="module")
def demo_run(store_root) -> list:
    return run(store_root)


def test_events_come_in_step_order_and_end_with_one_result(demo_run):
    events, result = demo_run[:-1], demo_run[-1]
    assert all(isinstance(e, StepEvent) for e in events) and isinstance(result, PipelineResult)
    assert [e.step for e in events] == ["load", "load", "prepare", "fit", "fit", "fit", "fit", "evaluate"]
    assert [e.progress for e in events] == [
        None,
        STEPS["load"],
        STEPS["prepare"],
        None,
        (STEPS["prepare"] + STEPS["fit"]) / 2,
        None,
        STEPS["fit"],
        STEPS["evaluate"],
    ]
    assert "Refitting on train + validation" in events[5].message
    assert events[1].metrics == {"rows": 4 * 24 * 120.0, "series": 4.0, "feature_set_version": 1.0}
    assert set(events[2].metrics) == {"train_rows", "val_rows", "test_rows", "features"}
    assert events[4].metrics["best_iteration"] == result.hyperparams["best_iteration"]
    assert events[7].metrics == {k: v for k, v in result.metrics.items() if isinstance(v, float)}


def test_model_beats_the_seasonal_naive_baseline(demo_run):
    result = demo_run[-1]
    assert result.metrics["mae"] < 0.9 * result.metrics["baseline_mae"]
    assert result.metrics["rmse"] < result.metrics["baseline_rmse"]


def test_result_carries_model_params_metrics_lineage_and_predictions(demo_run):
    result = demo_run[-1]
    assert result.model_family == "lightgbm"
    assert isinstance(result.model, Forecaster) and isinstance(result.model.booster, lgb.Booster)
    assert result.hyperparams["n_estimators"] == 300 and 0 < result.hyperparams["best_iteration"] <= 300
    # The registered model is the refit on train + validation, with the rounds early stopping chose.
    assert result.model.booster.current_iteration() == result.hyperparams["best_iteration"]
    scores = {"mae", "rmse", "mape", "smape", "mase"}
    assert set(result.metrics) == {
        *scores,
        *{f"baseline_{name}" for name in scores},
        "val_mae",
        "baseline_val_mae",
        "baseline_season",
        "baseline_val_mae_season_24",
        "baseline_val_mae_season_168",
        "best_iteration",
        "coverage_80",
        "coverage_95",
        "train_rows",
        "val_rows",
        "test_rows",
        "per_step",
    }
    per_step = result.metrics["per_step"]
    assert [entry["step"] for entry in per_step] == list(range(1, 25))
    assert all(set(entry) == {"step", "rows", *scores, *{f"baseline_{n}" for n in scores}} for entry in per_step)
    assert per_step[0]["mae"] < per_step[-1]["mae"]  # the nearer lead is the easier one
    assert result.metrics["baseline_season"] in (24.0, 168.0)
    assert 0.5 < result.metrics["coverage_80"] < result.metrics["coverage_95"] <= 1.0
    lineage = result.lineage
    assert (lineage.tenant_id, lineage.feature_set, lineage.target_variable) == ("acme", "demo", "load_kw")
    assert (lineage.row_count, lineage.series_count) == (4 * 24 * 120, 4)
    assert lineage.start == "2023-01-01T00:00:00+00:00" and len(lineage.data_hash) == 64
    assert "temperature_c_origin" in lineage.feature_columns  # numeric columns are covariates by default
    assert lineage.refit_on_all is False
    predictions = result.test_predictions
    assert list(predictions.columns) == [
        "series_id",
        "origin",
        "timestamp",
        "step",
        "actual",
        "forecast",
        "baseline",
        "lo_80",
        "hi_80",
        "lo_95",
        "hi_95",
    ]
    assert len(predictions) == result.metrics["test_rows"] and predictions["forecast"].notna().all()
    assert (predictions["timestamp"] - predictions["origin"] == pd.to_timedelta(predictions["step"], "h")).all()
    assert (predictions["lo_95"] <= predictions["lo_80"]).all() and (predictions["hi_80"] <= predictions["hi_95"]).all()
    assert set(result.step_seconds) == {"load", "prepare", "fit", "refit", "evaluate"}


def test_refit_on_all_registers_a_model_fitted_on_the_test_rows_too(store_root, demo_run):
    everything = run(store_root, refit_on_all=True, register_model=False)[-1]
    default = demo_run[-1]
    assert everything.metrics == default.metrics  # the test metrics are still those of train + validation
    assert everything.lineage.refit_on_all is True
    assert everything.model.spec.metadata["refit_on_all"] is True
    assert everything.model.booster.model_to_string() != default.model.booster.model_to_string()


def test_a_backtest_scores_each_window_and_calibrates_the_intervals(store_root, demo_run):
    result = run(store_root, backtest={"n_windows": 3, "step_size": 48}, register_model=False)[-1]
    windows = result.metrics["backtest_windows"]
    cutoffs = [pd.Timestamp(window["cutoff"]) for window in windows]
    assert [b - a for a, b in itertools.pairwise(cutoffs)] == [pd.Timedelta(hours=48)] * 2
    test_start = demo_run[-1].test_predictions["origin"].min() + pd.Timedelta(hours=1)
    assert cutoffs[-1] + pd.Timedelta(hours=24) < test_start  # every window lies before the test split
    assert all(window["rows"] == 4 * 24 for window in windows)
    assert result.metrics["backtest_mae"] == pytest.approx(np.mean([w["mae"] for w in windows]))
    assert result.metrics["backtest_mae"] < result.metrics["backtest_baseline_mae"]
    assert result.metrics["mae"] == demo_run[-1].metrics["mae"]  # the backtest changes the intervals, not the model
    assert result.model.spec.residual_quantiles != demo_run[-1].model.spec.residual_quantiles


def test_a_backtest_without_refit_must_lie_in_the_validation_split(store_root):
    with pytest.raises(InvalidInput) as refused:
        run(store_root, backtest={"n_windows": 40, "refit": False}, register_model=False)
    assert refused.value.field == "config.backtest.n_windows"


def test_an_evaluation_run_scores_the_same_and_ships_no_predictions(store_root, demo_run):
    # register_model: false: nothing plots the test predictions, so the result does not carry them.
    evaluated = run(store_root, register_model=False)[-1]
    assert evaluated.test_predictions is None
    assert evaluated.metrics == demo_run[-1].metrics
    assert demo_run[-1].test_predictions is not None


def test_data_hash_is_stable_and_sensitive(store_root):
    store = ParquetFeatureStore(store_root)
    config = TrainingConfig(target_variable="load_kw")
    first = load_training_data(store, "acme", "demo", config).frame
    second = load_training_data(store, "acme", "demo", config).frame
    assert data_hash(first) == data_hash(second)
    changed = first.copy()
    changed.loc[5, "load_kw"] += 0.01
    assert data_hash(changed) != data_hash(first)
    shifted = first.copy()
    shifted.loc[7, "timestamp"] += pd.Timedelta(minutes=1)
    assert data_hash(shifted) != data_hash(first)


def test_hyperparams_override_and_hpo_without_them_warns(store_root):
    fixed = run(store_root, enable_hpo=True, override={"n_estimators": 5}, features=[])
    assert fixed[-1].hyperparams["n_estimators"] == 5
    assert not any(isinstance(e, StepEvent) and e.level == "WARNING" for e in fixed)
    space = {"learning_rate": {"type": "float", "low": 0.01, "high": 0.3}}
    defaults = run(store_root, enable_hpo=True, hyperparams=space, features=[])
    assert any(e.level == "WARNING" and "defaults" in e.message for e in defaults[:-1])


@pytest.mark.parametrize(
    ("config", "error", "field"),
    [
        ({"target_variable": "power"}, InvalidInput, "config.target_variable"),
        ({"features": ["temperature_c", "humidity"]}, InvalidInput, "config.features"),
        ({"hyperparams": {"num_leaves": 0}}, InvalidInput, "config.hyperparams.num_leaves"),
        ({"start_date": "2023-04-25", "end_date": "2023-05-01"}, InsufficientData, "config.horizon"),
        ({"start_date": "2030-01-01"}, InsufficientData, "config.start_date"),
    ],
)
def test_bad_configs_fail_naming_the_field(store_root, config, error, field):
    with pytest.raises(error) as caught:
        run(store_root, **config)
    assert caught.value.field == field


def test_unknown_feature_set_is_not_found(store_root):
    with pytest.raises(FeatureSetNotFound):
        run(store_root, feature_set="nope")


def test_real_eia_load_through_the_feature_store_beats_the_baseline(tmp_path):
    """Three EIA-930 sub-regions of very different size, six months of hourly demand, no weather.

    September to February: the test weeks (February) are in a season the model has trained on. On a slice whose
    test weeks fall in its first summer (January to June) the model does not beat seasonal naive: without
    temperature nothing tells it that the heat has come, while yesterday's load does.
    """
    regions = ["ERCO-COAS", "ISNE-4004", "NYIS-ZONJ"]
    table = ds.dataset(EIA_FILE).to_table(
        filter=ds.field("region").isin(regions)
        & (ds.field("timestamp_utc") >= ds.scalar(datetime(2023, 9, 1)))
        & (ds.field("timestamp_utc") < ds.scalar(datetime(2024, 3, 1)))
    )
    store = ParquetFeatureStore(tmp_path)
    info = store.write_frame("grid", "eia", table.to_pandas(), timestamp_col="timestamp_utc", series_col="region")
    assert (info.series_count, info.frequency, info.row_count) == (3, "h", 3 * 182 * 24)
    config = TrainingConfig(target_variable="cleaned_demand_mw", horizon=24, features=[])
    result = list(
        run_forecast_pipeline(
            tenant_id="grid", feature_set="eia", config=config, feature_store_root=str(tmp_path), num_threads=2
        )
    )[-1]
    assert result.metrics["mae"] < 0.95 * result.metrics["baseline_mae"]
    assert result.metrics["mape"] < result.metrics["baseline_mape"]


def test_the_registered_model_forecasts_what_the_test_scored_from_history_alone(store_root, demo_run):
    """No leakage, end to end: the test forecasts were computed with the whole test split in memory; the model,
    given only the history up to an origin (nothing after it exists), forecasts the same values."""
    result = demo_run[-1]
    predictions = result.test_predictions
    frame = ParquetFeatureStore(store_root).load("acme", "demo")
    for origin in predictions["origin"].drop_duplicates().iloc[[0, 37, -30]]:
        scored = predictions[predictions["origin"] == origin].sort_values(["series_id", "step"])
        history = frame[frame["timestamp"] <= origin]
        table = result.model.forecast(history, quantiles=[0.1, 0.9])
        table = table.merge(scored[["series_id", "step"]], on=["series_id", "step"])
        assert len(table) == len(scored) > 0
        np.testing.assert_allclose(table["value"], scored["forecast"], rtol=1e-12)
        assert (table["origin"] == origin).all()
