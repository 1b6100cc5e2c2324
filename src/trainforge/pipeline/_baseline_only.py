"""The pipeline of a ``model_family: seasonal_naive`` job: load → split → evaluate the baseline; nothing is fitted.

The season is the better of a day and a week on the validation split (or ``config.seasonal_period``), and the
test is scored as a model's would be: every origin of the test split, every lead.

The cheapest job there is: it checks a feature set end to end (the data loads, the target is there, the split
leaves test rows) and tells what any model of it has to beat. It also gives the queue a job whose cost is almost
all orchestration, which is what ``bench/queue_throughput.py`` measures.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from trainforge.features.store import ParquetFeatureStore
from trainforge.models.families import SEASONAL_NAIVE
from trainforge.pipeline._steps import load_step, prediction_frame
from trainforge.pipeline.config import TrainingConfig
from trainforge.pipeline.evaluate import forecast_metrics, per_step_metrics
from trainforge.pipeline.prepare import prepare_forecast
from trainforge.pipeline.result import STEPS, Lineage, PipelineResult, StepEvent, scalar_metrics

MODEL_FAMILY = SEASONAL_NAIVE.name


def run_baseline_pipeline(
    *, tenant_id: str, feature_set: str, config: TrainingConfig, feature_store_root: str
) -> Iterator[StepEvent | PipelineResult]:
    """Evaluate the seasonal-naive forecast on the test split of a feature set.

    Yields the ``load`` events, one ``evaluate`` event with the test metrics, then a :class:`PipelineResult` whose
    ``model`` is ``None``. Its metrics are the forecast metrics (``mae``, ``rmse``, ``mape``, ``smape``) and the
    same values as ``baseline_*``, so a baseline job reads like any other forecast job.

    Raises:
        FeatureSetNotFound: No such feature set.
        InvalidInput: Bad target or covariates (the field names which).
        InsufficientData: Too few rows to split.
    """
    store = ParquetFeatureStore(feature_store_root)
    seconds: dict[str, float] = {}
    snapshot = yield from load_step(store, tenant_id, feature_set, config, None, seconds)
    data = snapshot.data
    frame = data.frame

    clock = time.perf_counter()
    design = prepare_forecast(frame, data.target, config, data.covariates, data.frequency)
    test = design.test_rows(inputs=False)
    forecast = design.baseline(test)
    scale = design.mase_scale_of(test)
    scores = forecast_metrics(test.actual, forecast, scale=scale)
    season = design.baseline_season
    per_step = per_step_metrics(test.actual, forecast, forecast, test.lead, scale)
    metrics = {
        **scores,
        **{f"baseline_{name}": value for name, value in scores.items()},
        "baseline_season": float(season),
        "baseline_val_mae": design.baseline_val_mae[season],
        **{f"baseline_val_mae_season_{s}": v for s, v in design.baseline_val_mae.items()},
        "train_rows": float(len(design.part_targets("train"))),
        "val_rows": float(len(design.part_targets("val"))),
        "test_rows": float(len(test)),
        "per_step": per_step,
    }
    seconds["evaluate"] = time.perf_counter() - clock
    yield StepEvent(
        "evaluate",
        f"Seasonal-naive (season {season}, chosen on validation; leads 1..{config.horizon}) on {len(test):,} test "
        f"rows: MAE {scores['mae']:.4g}, RMSE {scores['rmse']:.4g}, MASE {scores['mase']:.3f}",
        progress=STEPS["evaluate"],
        metrics=scalar_metrics(metrics),
    )
    yield PipelineResult(
        model_family=MODEL_FAMILY,
        model=None,
        hyperparams={"seasonal_period": season},
        metrics=metrics,
        lineage=Lineage(
            tenant_id=tenant_id,
            feature_set=feature_set,
            target_variable=data.target,
            start=data.start.isoformat(),
            end=data.end.isoformat(),
            row_count=len(frame),
            series_count=data.series_count,
            data_hash=snapshot.digest,
            feature_columns=[],
        ),
        test_predictions=prediction_frame(design, test, forecast, forecast) if config.registers_model else None,
        step_seconds=seconds,
    )
