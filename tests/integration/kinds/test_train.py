"""The worker end to end on a real local Ray, the real pipeline and a real MLflow (SQLite), on both databases."""

from __future__ import annotations

import contextlib
import threading
import uuid

import psutil
import pytest
from mlflow import MlflowClient

from trainforge.db.types import utcnow
from trainforge.errors import NotFound
from trainforge.features.demo_data import generate_demo_load
from trainforge.jobs.checkpoint_dirs import job_checkpoint_dir
from trainforge.jobs.hooks import JobHook
from trainforge.jobs.status import JobStatus
from trainforge.jobs.store import JobStore
from trainforge.kinds import make_worker
from trainforge.pipeline.config import TrainingConfig
from trainforge.registry import ModelRegistry
from trainforge.submission import JobRequest, submit_job
from trainforge.testing import wait_for


@pytest.fixture
def setup(make_worker):
    made = make_worker()
    return made.store, made.features, made.registry, made.worker


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


def test_a_seasonal_naive_job_evaluates_the_baseline_and_registers_nothing(setup):
    store, features, registry, worker = setup
    job = submit(store, features, model_family="seasonal_naive")
    outcome = worker.run_next()
    assert outcome.status is JobStatus.COMPLETED, store.logs(job.job_id)[0]
    done = store.get(job.job_id)
    assert done.model_id is None
    assert done.progress == 1.0
    assert done.metrics["mae"] == done.metrics["baseline_mae"] > 0
    assert done.metrics["test_rows"] > 0
    assert "cpu_seconds" in done.metrics  # the Ray task's resources, from the last batch of events
    assert registry.list_versions("t1", "site_load") == []
    lines = store.logs(job.job_id)[0]
    assert any(line.step == "evaluate" and "Seasonal-naive" in line.message for line in lines)
    assert not any(line.step in ("fit", "register") for line in lines)
    assert lines[-1].message.endswith("evaluated (register_model is false)")
    # Buffered lines keep the times of their events, and the log stays in order.
    assert [line.timestamp for line in lines] == sorted(line.timestamp for line in lines)


def test_a_job_with_register_model_false_trains_but_registers_no_version(setup):
    store, features, registry, worker = setup
    job = submit(store, features, hyperparams={"n_estimators": 20}, register_model=False)
    assert worker.run_next().status is JobStatus.COMPLETED
    done = store.get(job.job_id)
    assert done.model_id is None
    assert done.metrics["best_iteration"] >= 1
    assert registry.list_versions("t1", "site_load") == []


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


def test_cancelling_a_running_job_stops_its_ray_work_within_10_s_and_registers_nothing(setup, settings):
    store, features, registry, _worker = setup
    # An idle poll far longer than the promise: a busy worker must still look for the cancellation every second.
    worker = make_worker(settings, store, registry, worker_id="slow-poller", poll_seconds=30)
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
        wait_for(lambda: store.get(job.job_id).current_step == "fit", 120, "the job to reach the fit step")
        [task] = wait_for(lambda: ray_processes_running("run_forecast_task"), 30, "the Ray task's process")
        store.transition(job.job_id, JobStatus.CANCELLED, reason="cancelled by test")
        cancelled = store.events(job.job_id)[-1]
        assert cancelled.to_status is JobStatus.CANCELLED
        stopped_at = wait_for(lambda: has_stopped(task) and utcnow(), 30, "the Ray task to stop", interval=0.05)
        assert (stopped_at - cancelled.created_at).total_seconds() <= 10
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not thread.is_alive()
    assert store.get(job.job_id).status is JobStatus.CANCELLED
    assert [e.to_status for e in store.events(job.job_id)][-1] is JobStatus.CANCELLED  # never completed after it
    assert any("stopped the job's work" in line.message for line in store.logs(job.job_id)[0])
    assert versions_of(registry, "t1", "site_load") == []
    assert not job_checkpoint_dir(settings.resolved_checkpoint_root, job.job_id).exists()


class CancelledWhileRegistering(ModelRegistry):
    """A real registry; the job is cancelled (as by ``DELETE /jobs/{id}``) once its version is registered."""

    def __init__(self, store: JobStore, *args) -> None:
        super().__init__(*args)
        self.store = store

    def register_job_result(self, job, result):
        version = super().register_job_result(job, result)
        self.store.transition(uuid.UUID(job.job_id), JobStatus.CANCELLED, reason="cancelled by test")
        return version


def test_a_job_cancelled_while_it_is_registered_ends_cancelled_and_its_version_is_withdrawn(setup, settings):
    store, features, registry, _worker = setup
    racing = CancelledWhileRegistering(store, settings.resolved_mlflow_tracking_uri, settings.resolved_artifact_root)
    worker = make_worker(settings, store, racing, worker_id="test-worker", poll_seconds=0.2)
    job = submit(store, features, hyperparams={"n_estimators": 20})

    assert worker.run_next().status is JobStatus.CANCELLED
    ended = store.get(job.job_id)
    assert (ended.status, ended.model_id) == (JobStatus.CANCELLED, None)
    assert versions_of(registry, "t1", "site_load") == []
    lines = [line.message for line in store.logs(job.job_id)[0]]
    registered = next(line for line in lines if line.startswith("Registered t1:site_load:1.0.0"))
    assert any(line.startswith("Withdrew t1:site_load:1.0.0: the job ended cancelled") for line in lines)
    run_id = registered.split("MLflow run ")[1].rstrip(")")
    assert MlflowClient(settings.resolved_mlflow_tracking_uri).get_run(run_id).info.status == "FAILED"

    # The next job registers as if the withdrawn version had never been.
    again = submit(store, features, hyperparams={"n_estimators": 20})
    assert make_worker(settings, store, registry, worker_id="test-worker").run_next().status is JobStatus.COMPLETED
    assert store.get(again.job_id).model_id == "t1:site_load:1.0.0"


class CancelAtRegistration(JobHook):
    """A hook that cancels the job (as ``DELETE /jobs/{id}`` would) the moment its ``register`` step is next."""

    def before_step(self, run, step):
        if step == "register":
            run.store.transition(run.job.job_id, JobStatus.CANCELLED, reason="cancelled by test")


class CountingRegistry(ModelRegistry):
    calls = 0

    def register_job_result(self, job, result):
        self.calls += 1
        return super().register_job_result(job, result)


def test_a_job_cancelled_as_it_reaches_registration_registers_nothing(setup, settings):
    store, features, _registry, _worker = setup
    registry = CountingRegistry(settings.resolved_mlflow_tracking_uri, settings.resolved_artifact_root)
    worker = make_worker(settings, store, registry, worker_id="test-worker", poll_seconds=0.2)
    worker.hooks.append(CancelAtRegistration())
    job = submit(store, features, hyperparams={"n_estimators": 20})

    assert worker.run_next().status is JobStatus.CANCELLED
    assert registry.calls == 0
    assert store.get(job.job_id).status is JobStatus.CANCELLED
    assert versions_of(registry, "t1", "site_load") == []


def ray_processes_running(function: str) -> list[psutil.Process]:
    """This test's local Ray workers (descendants of this process) that are running ``function`` right now.

    Ray titles a worker process ``ray::<function>`` while it runs a task of that function, ``ray::IDLE`` otherwise.
    """
    running = []
    for process in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if process.cmdline()[:1] == [f"ray::{function}"]:
                running.append(process)
    return running


def has_stopped(task: psutil.Process) -> bool:
    """The process has exited (or is a zombie), or it has gone back to idle."""
    try:
        return task.status() == psutil.STATUS_ZOMBIE or task.cmdline()[:1] != ["ray::run_forecast_task"]
    except psutil.NoSuchProcess:
        return True


def versions_of(registry, tenant, model_name):
    try:
        return registry.list_versions(tenant, model_name)
    except NotFound:  # no registered model of that name yet
        return []
