"""The forecast pipeline: load → prepare → fit → evaluate, as a generator of progress events and one result.

Each step is a plain public function (``load_training_data``, ``build_features``, ``time_split``, the family's
``fit``/``predict``, ``seasonal_naive``, ``compare_with_baseline``) that a script can call one by one; this
module strings them together, times them and reports. Given a checkpoint directory, it stores the output of the
costly steps (``load``, ``fit``) and reuses those an earlier attempt stored (:mod:`trainforge.pipeline.checkpoints`).
Registering the model is the caller's step. A config whose model family fits nothing (``seasonal_naive``) runs
:func:`~trainforge.pipeline._baseline_only.run_baseline_pipeline` instead.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator, Mapping
from typing import Any

from trainforge.features.store import ParquetFeatureStore
from trainforge.models.families import get_family, validate_hyperparams
from trainforge.models.family import ModelFamily
from trainforge.pipeline._baseline_only import run_baseline_pipeline
from trainforge.pipeline._steps import baseline_forecast, checkpoint_notices, load_step, prediction_frame
from trainforge.pipeline.checkpoints import StepCheckpoints, inputs_fingerprint
from trainforge.pipeline.config import TrainingConfig
from trainforge.pipeline.evaluate import compare_with_baseline
from trainforge.pipeline.prepare import ForecastFeatures, TimeSplit, build_features, time_split
from trainforge.pipeline.result import STEPS, Lineage, PipelineResult, StepEvent


def run_forecast_pipeline(
    *,
    tenant_id: str,
    feature_set: str,
    config: TrainingConfig,
    feature_store_root: str,
    num_threads: int | None = None,
    hyperparams: Mapping[str, Any] | None = None,
    checkpoint_dir: str | None = None,
) -> Iterator[StepEvent | PipelineResult]:
    """Train and evaluate a global forecast model on one feature set.

    Yields, in order: ``load`` (start, then rows and series loaded), ``prepare`` (split sizes, feature count),
    ``fit`` (start, then best iteration), ``evaluate`` (model and baseline metrics) events, then one
    :class:`PipelineResult`. Progress values come from :data:`STEPS`; start events carry none. A step reused from
    a checkpoint yields one event instead of two, saying so; a checkpoint that is stale, unreadable or cannot be
    saved yields a note or a warning, and the step runs.

    Args:
        tenant_id: Owner of the feature set.
        feature_set: Feature set to train on.
        config: The job's training configuration.
        feature_store_root: Root directory of the Parquet feature store.
        num_threads: Threads for LightGBM; ``None`` for every core.
        hyperparams: Fixed hyperparameters to use instead of ``config.hyperparams`` (e.g. an HPO study's best
            trial). With ``config.enable_hpo`` and no ``hyperparams``, ``config.hyperparams`` is a search space,
            so the family's defaults are used and a warning event says so.
        checkpoint_dir: The job's checkpoint directory, or ``None`` to keep no checkpoints. With one, the ``load``
            and ``fit`` steps an earlier attempt with the same inputs stored are reused, and the ones this run
            does are stored; the result is the same as without.

    Raises:
        FeatureSetNotFound: No such feature set.
        InvalidInput: Bad hyperparameters, target or covariates (the field names which).
        InsufficientData: Too few rows after the date filter and the lag warm-up.
        PipelineError: The model could not be fitted.
    """
    family = get_family(config.model_family)
    if not family.fits_model:
        yield from run_baseline_pipeline(
            tenant_id=tenant_id, feature_set=feature_set, config=config, feature_store_root=feature_store_root
        )
        return
    warn_defaults = hyperparams is None and config.enable_hpo
    if hyperparams is None:
        hyperparams = {} if config.enable_hpo else config.hyperparams
    params = validate_hyperparams(family.name, hyperparams)
    store = ParquetFeatureStore(feature_store_root)
    checkpoints = None
    if checkpoint_dir is not None:
        inputs = inputs_fingerprint(tenant_id, feature_set, config, store.info(tenant_id, feature_set))
        checkpoints = StepCheckpoints(checkpoint_dir, inputs)
    seconds: dict[str, float] = {}

    snapshot = yield from load_step(store, tenant_id, feature_set, config, checkpoints, seconds)
    data, digest = snapshot.data, snapshot.digest
    frame, target = data.frame, data.target
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

    model = yield from _fit(family, features, split, params, num_threads, digest, checkpoints, seconds)
    best_iteration = int(model.best_iteration or model.current_iteration())

    clock = time.perf_counter()
    test = split.test
    forecast = features.to_forecast(test, family.predict(model, features.inputs(test)))
    baseline = baseline_forecast(data, config, test)
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
            start=data.start.isoformat(),
            end=data.end.isoformat(),
            row_count=len(frame),
            series_count=data.series_count,
            data_hash=digest,
            feature_columns=list(features.feature_columns),
        ),
        test_predictions=prediction_frame(test, actual, forecast, baseline) if config.registers_model else None,
        step_seconds=seconds,
    )


def _fit(
    family: ModelFamily,
    features: ForecastFeatures,
    split: TimeSplit,
    params: dict[str, Any],
    num_threads: int | None,
    digest: str,
    checkpoints: StepCheckpoints | None,
    seconds: dict[str, float],
) -> Generator[StepEvent, None, Any]:
    """The ``fit`` step, or its checkpoint: yields its events and returns the fitted model."""
    clock = time.perf_counter()
    model = checkpoints.load_model(params=params, data_hash=digest) if checkpoints else None
    yield from checkpoint_notices(checkpoints)
    if model is None:
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
        seconds["fit"] = time.perf_counter() - clock
        done = f"Fitted {family.name} in {seconds['fit']:.1f} s"
        if checkpoints:
            checkpoints.save_model(model, params=params, data_hash=digest)
    else:
        seconds["fit"] = time.perf_counter() - clock
        done = f"Reused the checkpoint of step 'fit' from an earlier attempt ({family.name})"
    yield from checkpoint_notices(checkpoints)
    best_iteration = int(model.best_iteration or model.current_iteration())
    yield StepEvent(
        "fit",
        f"{done}: best iteration {best_iteration} of at most {params['n_estimators']} (early stopping on "
        "validation MAE)",
        progress=STEPS["fit"],
        metrics={"best_iteration": float(best_iteration)},
    )
    return model
