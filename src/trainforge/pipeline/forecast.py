"""The forecast pipeline: load → prepare → fit → evaluate, as a generator of progress events and one result.

Each step is a plain public function (``load_training_data``, ``build_features``, ``time_split``, the family's
``fit``/``predict``, ``seasonal_naive``, ``compare_with_baseline``) that a script can call one by one; this
module strings them together, times them and reports. Registering the model is the caller's step.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

import pandas as pd

from trainforge.features.frequency import steps_per
from trainforge.features.store import ParquetFeatureStore
from trainforge.models.baseline import seasonal_naive
from trainforge.models.families import get_family, validate_hyperparams
from trainforge.pipeline.config import TrainingConfig
from trainforge.pipeline.evaluate import compare_with_baseline
from trainforge.pipeline.load import data_hash, load_training_data
from trainforge.pipeline.prepare import build_features, time_split
from trainforge.pipeline.result import STEPS, Lineage, PipelineResult, StepEvent

MODEL_TYPE = "forecast"


def run_forecast_pipeline(
    *,
    tenant_id: str,
    feature_set: str,
    config: TrainingConfig,
    feature_store_root: str,
    num_threads: int | None = None,
    hyperparams: Mapping[str, Any] | None = None,
) -> Iterator[StepEvent | PipelineResult]:
    """Train and evaluate a global forecast model on one feature set.

    Yields, in order: ``load`` (start, then rows and series loaded), ``prepare`` (split sizes, feature count),
    ``fit`` (start, then best iteration), ``evaluate`` (model and baseline metrics) events, then one
    :class:`PipelineResult`. Progress values come from :data:`STEPS`; start events carry none.

    Args:
        tenant_id: Owner of the feature set.
        feature_set: Feature set to train on.
        config: The job's training configuration.
        feature_store_root: Root directory of the Parquet feature store.
        num_threads: Threads for LightGBM; ``None`` for every core.
        hyperparams: Fixed hyperparameters to use instead of ``config.hyperparams`` (e.g. an HPO study's best
            trial). With ``config.enable_hpo`` and no ``hyperparams``, ``config.hyperparams`` is a search space,
            so the family's defaults are used and a warning event says so.

    Raises:
        FeatureSetNotFound: No such feature set.
        InvalidInput: Bad hyperparameters, target or covariates (the field names which).
        InsufficientData: Too few rows after the date filter and the lag warm-up.
        PipelineError: The model could not be fitted.
    """
    family = get_family(MODEL_TYPE)
    warn_defaults = hyperparams is None and config.enable_hpo
    if hyperparams is None:
        hyperparams = {} if config.enable_hpo else config.hyperparams
    params = validate_hyperparams(MODEL_TYPE, hyperparams)
    seconds: dict[str, float] = {}

    yield StepEvent("load", f"Loading feature set {feature_set!r} of tenant {tenant_id!r}")
    clock = time.perf_counter()  # after the yield: the time the caller spends on an event is not the step's
    data = load_training_data(ParquetFeatureStore(feature_store_root), tenant_id, feature_set, config)
    frame, target = data.frame, data.target
    digest = data_hash(frame)
    series_count = int(frame["series_id"].nunique())
    start, end = frame["timestamp"].min(), frame["timestamp"].max()
    seconds["load"] = time.perf_counter() - clock
    yield StepEvent(
        "load",
        f"Loaded {len(frame):,} rows of {series_count} series from {start.isoformat()} to {end.isoformat()} "
        f"(version {data.info.version} of the feature set, frequency {data.frequency}, covariates "
        f"{data.covariates or 'none'})",
        progress=STEPS["load"],
        metrics={
            "rows": float(len(frame)),
            "series": float(series_count),
            "feature_set_version": float(data.info.version),
        },
    )
    if warn_defaults:
        yield StepEvent(
            "load",
            "enable_hpo is set but no tuned hyperparameters were given: fitting with the defaults",
            level="WARNING",
        )

    clock = time.perf_counter()
    features = build_features(frame, target, config.horizon, data.covariates, data.frequency)
    split = time_split(features.frame, config.validation_split, config.test_split)
    sizes = {
        "train_rows": float(len(split.train)),
        "val_rows": float(len(split.val)),
        "test_rows": float(len(split.test)),
    }
    seconds["prepare"] = time.perf_counter() - clock
    yield StepEvent(
        "prepare",
        f"Prepared {len(features.feature_columns)} features for horizon {config.horizon}: "
        f"{len(split.train):,} train, {len(split.val):,} validation, {len(split.test):,} test rows "
        f"(test from {split.test['timestamp'].min().isoformat()})",
        progress=STEPS["prepare"],
        metrics={**sizes, "features": float(len(features.feature_columns))},
    )

    yield StepEvent(
        "fit",
        f"Fitting {family.name} (up to {params['n_estimators']} rounds, learning rate "
        f"{params['learning_rate']}, at most {num_threads or 'all'} threads)",
    )
    clock = time.perf_counter()
    model = family.fit(
        features.inputs(split.train),
        features.model_target(split.train),
        features.inputs(split.val),
        features.model_target(split.val),
        params,
        num_threads,
    )
    best_iteration = int(model.best_iteration or model.current_iteration())
    seconds["fit"] = time.perf_counter() - clock
    yield StepEvent(
        "fit",
        f"Fitted {family.name} in {seconds['fit']:.1f} s: best iteration {best_iteration} of at most "
        f"{params['n_estimators']} (early stopping on validation MAE)",
        progress=STEPS["fit"],
        metrics={"best_iteration": float(best_iteration)},
    )

    clock = time.perf_counter()
    test = split.test
    forecast = features.to_forecast(test, family.predict(model, features.inputs(test)))
    season = config.seasonal_period or steps_per("1D", data.frequency) or 1
    baseline = seasonal_naive(
        frame, target, season=season, horizon=config.horizon, freq=data.frequency, at=test
    ).to_numpy()
    actual = test[target].to_numpy(dtype=float)
    metrics = {**compare_with_baseline(actual, forecast, baseline), **sizes}
    seconds["evaluate"] = time.perf_counter() - clock
    yield StepEvent(
        "evaluate",
        f"Test MAE {metrics['mae']:.4g} vs seasonal-naive {metrics['baseline_mae']:.4g} "
        f"(RMSE {metrics['rmse']:.4g} vs {metrics['baseline_rmse']:.4g}, "
        f"MAPE {metrics['mape']:.2f}% vs {metrics['baseline_mape']:.2f}%)",
        progress=STEPS["evaluate"],
        metrics=metrics,
    )

    yield PipelineResult(
        model_family=family.name,
        model=model,
        hyperparams={**params, "best_iteration": best_iteration},
        metrics=metrics,
        lineage=Lineage(
            tenant_id=tenant_id,
            feature_set=feature_set,
            target_variable=target,
            start=start.isoformat(),
            end=end.isoformat(),
            row_count=len(frame),
            series_count=series_count,
            data_hash=digest,
            feature_columns=list(features.feature_columns),
        ),
        test_predictions=pd.DataFrame(
            {
                "timestamp": test["timestamp"].to_numpy(),
                "series_id": test["series_id"].astype("str").to_numpy(),
                "actual": actual,
                "forecast": forecast,
                "baseline": baseline,
            }
        ),
        step_seconds=seconds,
    )
