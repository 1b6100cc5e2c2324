"""The forecast pipeline: load → prepare → fit → (backtest) → refit → evaluate, as a generator of progress events
and one result.

Each step is a plain public function (``load_training_data``, ``prepare_forecast`` and its ``ForecastDesign``'s
rows, the family's ``fit``/``refit``/``predict``, ``run_backtest``, ``compare_with_baseline``) that a script can
call one by one; this module strings them together, times them and reports. The model early-stops on the
validation split; its validation residuals (or the backtest's) calibrate the intervals; it is refitted on train +
validation with the rounds early stopping chose, and that model is scored on the test split and registered (or,
with ``refit_on_all``, a refit on every row is). Given a checkpoint directory, it stores the output of the
costly steps (``load``, ``fit``) and reuses those an earlier attempt stored (:mod:`trainforge.pipeline.checkpoints`).
Registering the model is the caller's step. A config whose model family fits nothing (``seasonal_naive``) runs
:func:`~trainforge.pipeline._baseline_only.run_baseline_pipeline` instead.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator, Mapping
from dataclasses import replace
from typing import Any

from trainforge.features.store import ParquetFeatureStore
from trainforge.models.families import get_family, validate_hyperparams
from trainforge.models.family import ModelFamily
from trainforge.models.forecaster import Forecaster, history_example, quantile_offsets
from trainforge.pipeline._backtest import run_backtest
from trainforge.pipeline._baseline_only import run_baseline_pipeline
from trainforge.pipeline._steps import checkpoint_notices, evaluate_event, load_step, prediction_frame, prepare_event
from trainforge.pipeline.checkpoints import StepCheckpoints, inputs_fingerprint
from trainforge.pipeline.config import TrainingConfig
from trainforge.pipeline.evaluate import compare_with_baseline, coverage, mae, per_step_metrics
from trainforge.pipeline.intervals import interval_quantiles, residual_quantiles
from trainforge.pipeline.prepare import ForecastRows, prepare_forecast
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

    Yields, in order: ``load`` (start, then rows and series loaded), ``prepare`` (split sizes, feature count, the
    baseline's season), ``fit`` (start, then best iteration), one ``evaluate`` event per backtest window, ``fit``
    (the refit), ``evaluate`` (model and baseline metrics, coverage) events, then one
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
    if warn_defaults:
        yield StepEvent(
            "load",
            "enable_hpo is set but no tuned hyperparameters were given: fitting with the defaults",
            level="WARNING",
        )

    clock = time.perf_counter()
    design = prepare_forecast(data.frame, data.target, config, data.covariates, data.frequency)
    train, val = design.sample("train"), design.sample("val")
    test = design.test_rows()
    sizes = {"train_rows": float(len(train)), "val_rows": float(len(val)), "test_rows": float(len(test))}
    seconds["prepare"] = time.perf_counter() - clock
    yield prepare_event(design, sizes)

    model = yield from _fit(family, train, val, params, num_threads, digest, checkpoints, seconds)
    best_iteration = int(model.best_iteration or model.current_iteration())

    clock = time.perf_counter()
    val_forecast = val.to_forecast(family.predict(model, val.inputs))
    calibration = (val.actual - val_forecast) / val.level, val.lead
    metrics: dict[str, Any] = {
        "best_iteration": float(best_iteration),
        "val_mae": mae(val.actual, val_forecast),
        "baseline_val_mae": design.baseline_val_mae[design.baseline_season],
        "baseline_season": float(design.baseline_season),
        **{f"baseline_val_mae_season_{s}": v for s, v in design.baseline_val_mae.items()},
    }
    if config.backtest is not None:
        backtest = yield from run_backtest(design, config.backtest, family, params, model, best_iteration, num_threads)
        metrics.update(backtest.metrics)
        calibration = backtest.residuals, backtest.lead

    yield StepEvent("fit", f"Refitting on train + validation with the {best_iteration} rounds early stopping chose")
    refit_clock = time.perf_counter()
    before_test = design.sample("before_test")
    refitted = family.refit(before_test.inputs, before_test.model_target, params, best_iteration, num_threads)
    seconds["refit"] = time.perf_counter() - refit_clock
    yield StepEvent(
        "fit",
        f"Refitted on {len(before_test):,} train + validation rows in {seconds['refit']:.1f} s",
        progress=STEPS["fit"],
    )

    spec = replace(design.spec, residual_quantiles=residual_quantiles(*calibration, design.horizon))
    forecaster = Forecaster(spec, refitted, example=history_example(design.panel, spec))
    forecast = test.to_forecast(forecaster.predict_relative(test.inputs))
    baseline = design.baseline(test)
    scale = design.mase_scale_of(test)
    metrics.update(compare_with_baseline(test.actual, forecast, baseline, scale))
    bounds = {}
    for level in config.interval_levels:
        low, high = (forecast + quantile_offsets(spec, test.lead, q) * test.level for q in interval_quantiles(level))
        bounds[f"lo_{level}"], bounds[f"hi_{level}"] = low, high
        metrics[f"coverage_{level}"] = coverage(test.actual, low, high)
    metrics.update(sizes)
    metrics["per_step"] = per_step_metrics(test.actual, forecast, baseline, test.lead, scale)
    seconds["evaluate"] = time.perf_counter() - clock - seconds["refit"]
    yield evaluate_event(metrics, config.interval_levels)

    production = forecaster
    if config.refit_on_all:
        yield StepEvent("fit", f"refit_on_all: fitting the registered model on every row ({best_iteration} rounds)")
        everything = design.sample("all")
        production = replace(
            forecaster,
            booster=family.refit(everything.inputs, everything.model_target, params, best_iteration, num_threads),
        )
    fitted_through = design.panel.times[design.usable].max() if config.refit_on_all else design.test_start
    production.spec.metadata.update(
        {
            "tenant_id": tenant_id,
            "feature_set": feature_set,
            "model_family": family.name,
            "refit_on_all": config.refit_on_all,
            "fitted_before": fitted_through.isoformat(),
        }
    )
    yield PipelineResult(
        model_family=family.name,
        model=production,
        hyperparams={**params, "best_iteration": best_iteration},
        metrics=metrics,
        lineage=Lineage(
            tenant_id=tenant_id,
            feature_set=feature_set,
            target_variable=data.target,
            start=data.start.isoformat(),
            end=data.end.isoformat(),
            row_count=len(data.frame),
            series_count=data.series_count,
            data_hash=digest,
            feature_columns=list(spec.feature_columns),
            refit_on_all=config.refit_on_all,
        ),
        test_predictions=prediction_frame(design, test, forecast, baseline, bounds) if config.registers_model else None,
        step_seconds=seconds,
    )


def _fit(
    family: ModelFamily,
    train: ForecastRows,
    val: ForecastRows,
    params: dict[str, Any],
    num_threads: int | None,
    digest: str,
    checkpoints: StepCheckpoints | None,
    seconds: dict[str, float],
) -> Generator[StepEvent, None, Any]:
    """The ``fit`` step (early stopping on validation), or its checkpoint: yields its events, returns the model."""
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
        model = family.fit(train.inputs, train.model_target, val.inputs, val.model_target, params, num_threads)
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
        progress=(STEPS["prepare"] + STEPS["fit"]) / 2,
        metrics={"best_iteration": float(best_iteration)},
    )
    return model
