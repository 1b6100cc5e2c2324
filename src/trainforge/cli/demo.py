"""``trainforge demo``: the whole path on the embedded defaults, with nothing to download.

It writes a generated feature set, submits a forecast job through the same submission code and queue the API
uses, runs it on an in-process worker (local Ray), follows it with a progress bar and prints the model's metrics
against the seasonal-naive baseline, a 24-hour forecast of one site with the registered model, and its ``model_id``.
"""

from __future__ import annotations

import threading

from trainforge.cli.context import console, open_database
from trainforge.cli.forecast_view import forecast_table
from trainforge.cli.progress import JobView, follow_job, metrics_table
from trainforge.compute.ray_runtime import ensure_ray
from trainforge.features.demo_data import generate_demo_load
from trainforge.features.history import latest_history
from trainforge.features.store import ParquetFeatureStore
from trainforge.jobs.store import JobStore
from trainforge.kinds import make_worker
from trainforge.pipeline.config import TrainingConfig
from trainforge.registry import ModelRegistry
from trainforge.settings import Settings
from trainforge.submission import JobRequest, submit_job
from trainforge.tenancy import KeyStore, ensure_local_admin_key

DEMO_TENANT = "demo"
DEMO_FEATURE_SET = "demo_load"
DEMO_MODEL = "load_forecast"


def print_forecast(registry: ModelRegistry, features: ParquetFeatureStore, model_id: str) -> None:
    """Forecast the next ``horizon`` steps of the first site from the newest data, with the registered model."""
    model = registry.load_model(model_id).unwrap_python_model()
    spec = model.spec
    history = latest_history(
        features,
        DEMO_TENANT,
        DEMO_FEATURE_SET,
        columns=[spec["target"], *spec["covariates"]],
        steps=spec["history_steps"],
        freq=spec["freq"],
        series=spec["series"][:1],
    )
    forecast = model.forecast(history, quantiles=[0.1, 0.9])
    rows = [
        {**row, "quantiles": {"0.1": row["q0.1"], "0.9": row["q0.9"]}} for row in forecast.to_dict(orient="records")
    ]
    origin = forecast["origin"].iloc[0]
    console.print(
        forecast_table(rows, title=f"{model_id}: the next {len(rows)} hours of {spec['series'][0]} from {origin}")
    )
    console.print(
        "The same with MLflow alone: mlflow.pyfunc.load_model(uri).predict(history, params={'horizon': 24}); "
        "see docs/forecasting.md"
    )


def run_demo(settings: Settings, *, n_series: int = 4, days: int = 365) -> JobView:
    engine = open_database(settings)
    store = JobStore(engine)
    ensure_local_admin_key(settings, KeyStore(engine))  # so `trainforge serve` and `jobs` work on this home next
    features = ParquetFeatureStore(settings.resolved_feature_store_root)

    with console.status("generating demo load data ..."):
        frame = generate_demo_load(n_series=n_series, periods=24 * days)
        info = features.write_frame(
            DEMO_TENANT, DEMO_FEATURE_SET, frame, timestamp_col="timestamp", series_col="site_id"
        )
    console.print(
        f"feature set [bold]{DEMO_TENANT}/{DEMO_FEATURE_SET}[/]: {info.row_count:,} hourly rows, "
        f"{info.series_count} sites, {info.start} .. {info.end}"
    )
    request = JobRequest(
        tenant_id=DEMO_TENANT,
        model_type="forecast",
        model_name=DEMO_MODEL,
        feature_set=DEMO_FEATURE_SET,
        config=TrainingConfig(target_variable="load_kw", horizon=24),
    )
    job = submit_job(request, store=store, features=features, created_by="trainforge demo")
    console.print(f"queued job [bold]{job.job_id}[/]; starting a local Ray and a worker ...")

    ensure_ray(settings)  # in the main thread, before the worker thread needs it
    stop = threading.Event()
    registry = ModelRegistry(settings.resolved_mlflow_tracking_uri, settings.resolved_artifact_root)
    worker = make_worker(settings, store, registry)
    thread = threading.Thread(target=worker.run, args=(stop,), name="demo-worker", daemon=True)
    thread.start()

    def poll() -> JobView:
        current = store.get(job.job_id)
        return JobView(
            current.status.value,
            current.progress,
            current.current_step,
            current.metrics,
            current.model_id,
            current.error_message,
        )

    try:
        final = follow_job(poll, console)
    finally:
        stop.set()
        thread.join(timeout=30)
        engine.dispose()

    if final.metrics:
        console.print(metrics_table(final.metrics))
    if final.status == "completed":
        print_forecast(registry, features, final.model_id)
        console.print(f"[green]registered model[/] [bold]{final.model_id}[/]")
        console.print(
            f"MLflow UI: mlflow server --backend-store-uri {settings.resolved_mlflow_tracking_uri} "
            f"(needs the full `mlflow` package)"
        )
    else:
        lines, _ = store.logs(job.job_id, tail=20)
        for line in lines:
            console.print(f"{line.level:<7} {line.message}", markup=False, highlight=False)
        console.print(f"[red]job {final.status}[/]: {final.error_message}")
    return final
