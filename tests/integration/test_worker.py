"""The worker end to end on a real local Ray, the real pipeline and a real MLflow (SQLite), on both databases."""

from __future__ import annotations

import threading
import time

import pytest

from trainforge.errors import NotFound
from trainforge.features.demo_data import generate_demo_load
from trainforge.features.store import ParquetFeatureStore
from trainforge.jobs.request import JobRequest
from trainforge.jobs.status import JobStatus
from trainforge.jobs.store import JobStore
from trainforge.jobs.submission import submit_job
from trainforge.jobs.worker import Worker
from trainforge.pipeline.config import TrainingConfig
from trainforge.registry import ModelRegistry


@pytest.fixture
def setup(engine, settings, local_ray):
    settings.ensure_home()
    features = ParquetFeatureStore(settings.resolved_feature_store_root)
    features.write_frame(
        "t1",
        "site_load",
        generate_demo_load(n_series=2, periods=24 * 120),
        timestamp_col="timestamp",
        series_col="site_id",
    )
    store = JobStore(engine)
    registry = ModelRegistry(settings.resolved_mlflow_tracking_uri, settings.resolved_artifact_root)
    worker = Worker(settings, store, registry, worker_id="test-worker", poll_seconds=0.2)
    return store, features, registry, worker


def submit(store, features, **config) -> object:
    request = JobRequest(
        tenant_id="t1",
        model_type="forecast",
        model_name="site_load",
        feature_set="site_load",
        config=TrainingConfig(target_variable="load_kw", horizon=24, **config),
    )
    return submit_job(request, store=store, features=features)


def test_job_runs_on_ray_and_registers_a_model_version(setup):
    store, features, registry, worker = setup
    job = submit(store, features, hyperparams={"n_estimators": 60})
    outcome = worker.run_next()
    assert outcome.status is JobStatus.COMPLETED, store.logs(job.job_id)[0]
    done = store.get(job.job_id)
    assert done.status is JobStatus.COMPLETED
    assert done.progress == 1.0
    assert done.model_id == "t1:site_load:1.0.0"
    assert done.metrics["mae"] < done.metrics["baseline_mae"]
    version = registry.get_version(done.model_id)
    assert version.tags["job_id"] == str(job.job_id)
    steps = {line.step for line in store.logs(job.job_id)[0]}
    assert {"load", "prepare", "fit", "evaluate", "register"} <= steps
    assert [e.to_status for e in store.events(job.job_id)] == [
        JobStatus.QUEUED,
        JobStatus.RUNNING,
        JobStatus.COMPLETED,
    ]


def test_a_job_that_cannot_train_fails_with_a_clear_message_and_a_traceback(setup):
    store, features, _registry, worker = setup
    # A two-day window cannot hold the lag warm-up plus train/validation/test splits.
    job = submit(store, features, start_date="2023-01-01T00:00:00Z", end_date="2023-01-03T00:00:00Z")
    outcome = worker.run_next()
    assert outcome.status is JobStatus.FAILED
    failed = store.get(job.job_id)
    assert failed.status is JobStatus.FAILED
    assert "rows" in failed.error_message
    assert any("Traceback" in line.message for line in store.logs(job.job_id)[0])


def test_cancelling_a_running_job_stops_its_ray_task_and_registers_nothing(setup):
    store, features, registry, worker = setup
    # Slow on purpose: a year of four sites, many deep trees at a tiny learning rate (so early stopping never
    # fires), so the job is still fitting when it is cancelled.
    features.write_frame(
        "t1",
        "site_load",
        generate_demo_load(n_series=4, periods=24 * 365),
        timestamp_col="timestamp",
        series_col="site_id",
    )
    job = submit(store, features, hyperparams={"n_estimators": 10000, "learning_rate": 0.001, "num_leaves": 255})
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        deadline = time.monotonic() + 120
        while store.get(job.job_id).current_step != "fit":
            assert time.monotonic() < deadline, "the job never reached the fit step"
            time.sleep(0.1)
        store.transition(job.job_id, JobStatus.CANCELLED, reason="cancelled by test")
        cancelled_at = time.monotonic()
        while not any("stopped the job's Ray task" in line.message for line in store.logs(job.job_id)[0]):
            assert time.monotonic() - cancelled_at < 30, "the worker did not stop the Ray task"
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert store.get(job.job_id).status is JobStatus.CANCELLED
    assert versions_of(registry, "t1", "site_load") == []


def versions_of(registry, tenant, model_name):
    try:
        return registry.list_versions(tenant, model_name)
    except NotFound:  # no registered model of that name yet
        return []
