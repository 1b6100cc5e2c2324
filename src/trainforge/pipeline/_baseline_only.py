"""The pipeline of a ``model_family: seasonal_naive`` job: load → split → evaluate the baseline; nothing is fitted.

The cheapest job there is: it checks a feature set end to end (the data loads, the target is there, the split
leaves test rows) and tells what any model of it has to beat. It also gives the queue a job whose cost is almost
all orchestration, which is what ``bench/queue_throughput.py`` measures.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from trainforge.features.store import ParquetFeatureStore
from trainforge.models.families import SEASONAL_NAIVE
from trainforge.pipeline._steps import baseline_forecast, baseline_season, load_step, prediction_frame
from trainforge.pipeline.config import TrainingConfig
from trainforge.pipeline.evaluate import forecast_metrics
from trainforge.pipeline.prepare import time_split
from trainforge.pipeline.result import STEPS, Lineage, PipelineResult, StepEvent

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
    split = time_split(frame, config.validation_split, config.test_split)
    test = split.test
    forecast = baseline_forecast(data, config, test)
    actual = test[data.target].to_numpy(dtype=float)
    scores = forecast_metrics(actual, forecast)
    season = baseline_season(data, config)
    metrics = {
        **scores,
        **{f"baseline_{name}": value for name, value in scores.items()},
        "train_rows": float(len(split.train)),
        "val_rows": float(len(split.val)),
        "test_rows": float(len(test)),
    }
    seconds["evaluate"] = time.perf_counter() - clock
    yield StepEvent(
        "evaluate",
        f"Seasonal-naive (season {season}, horizon {config.horizon}) on {len(test):,} test rows: MAE "
        f"{scores['mae']:.4g}, RMSE {scores['rmse']:.4g}, MAPE {scores['mape']:.2f}%",
        progress=STEPS["evaluate"],
        metrics=metrics,
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
        test_predictions=prediction_frame(test, actual, forecast, forecast) if config.registers_model else None,
        step_seconds=seconds,
    )
