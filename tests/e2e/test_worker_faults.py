"""Fault injection with real processes: SIGKILL and SIGTERM on `trainforge worker`, SIGKILL on `trainforge serve`.

Every test runs on SQLite and on PostgreSQL. Leases are 3 s here so that a dead worker is noticed quickly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import uuid

import httpx
import pytest

from trainforge.db.engine import make_engine
from trainforge.db.migrate import upgrade
from trainforge.features.demo_data import generate_demo_load
from trainforge.features.store import ParquetFeatureStore
from trainforge.jobs.status import JobStatus
from trainforge.jobs.store import JobStore
from trainforge.jobs.worker_registry import WorkerRegistry
from trainforge.pipeline.config import TrainingConfig
from trainforge.registry import ModelRegistry
from trainforge.submission import JobRequest, submit_job
from trainforge.testing import TRAINFORGE, free_port, wait_for

pytestmark = pytest.mark.slow

# Slow enough to be killed in the middle of its fit: a tiny learning rate keeps early stopping from ending it.
SLOW = {"n_estimators": 1200, "learning_rate": 0.001, "num_leaves": 63}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    if request.param == "sqlite":
        url = f"sqlite:///{home / 'trainforge.db'}"
    else:
        from tests.conftest import create_pg_database, drop_pg_database

        url = create_pg_database("trainforge_faults")
        request.addfinalizer(lambda: drop_pg_database(url))
    engine = make_engine(url)
    upgrade(engine)
    features = ParquetFeatureStore(home / "features")
    features.write_frame(
        "t1", "load", generate_demo_load(n_series=4, periods=24 * 365), timestamp_col="timestamp", series_col="site_id"
    )
    env = {
        **os.environ,
        "TRAINFORGE_HOME": str(home),
        "TRAINFORGE_DATABASE_URL": url,
        "TRAINFORGE_LEASE_SECONDS": "3",
        "TRAINFORGE_RAY_NUM_CPUS": "2",
        "TRAINFORGE_RETRY_BASE_DELAY_SECONDS": "0",
    }
    processes: list[subprocess.Popen] = []

    def start(*args: str, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
        log = (tmp_path / f"proc-{len(processes)}.log").open("w")
        proc = subprocess.Popen(
            [TRAINFORGE, *args],
            env={**env, **(extra_env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so its local Ray can be cleaned up with it
        )
        processes.append(proc)
        return proc

    yield JobStore(engine), features, start, home
    for proc in processes:
        with _suppress_lookup():
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    engine.dispose()


class _suppress_lookup:
    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        return kind is ProcessLookupError


def submit(store: JobStore, features: ParquetFeatureStore, hyperparams: dict) -> uuid.UUID:
    request = JobRequest(
        tenant_id="t1",
        model_type="forecast",
        model_name="load",
        feature_set="load",
        config=TrainingConfig(target_variable="load_kw", hyperparams=hyperparams),
    )
    return submit_job(request, store=store, features=features).job_id


def wait_for_step(store: JobStore, job_id: uuid.UUID, step: str, timeout: float = 180):
    return wait_for(lambda: store.get(job_id).current_step == step, timeout, f"job to reach {step}", interval=0.2)


def test_a_killed_workers_job_is_completed_by_another_worker_with_one_model_version(world):
    store, features, start, home = world
    job_id = submit(store, features, SLOW)
    first = start("worker")
    wait_for_step(store, job_id, "fit")
    first_worker = store.get(job_id).worker_id
    os.kill(first.pid, signal.SIGKILL)  # the worker process dies mid-fit, without a chance to say anything
    start("worker")
    done = wait_for(lambda: store.get(job_id).status.is_terminal and store.get(job_id), 300, "the job to finish")
    assert done.status is JobStatus.COMPLETED, store.logs(job_id)[0][-5:]
    assert done.attempts == 2
    assert done.worker_id != first_worker
    reasons = [event.reason for event in store.events(job_id)]
    assert any("lease expired" in reason and first_worker in reason for reason in reasons)
    registry = ModelRegistry(f"sqlite:///{home / 'mlflow.db'}", str(home / "artifacts"))
    versions = registry.list_versions("t1", "load")
    assert [v.tags["job_id"] for v in versions] == [str(job_id)]
    # The second attempt started from the data the killed one had loaded, and the job's checkpoints are gone.
    lines = [line.message for line in store.logs(job_id)[0]]
    assert "Attempt 2 of 3: checkpoints of steps 'load' from an earlier attempt" in lines
    assert any(line.startswith("Reused the checkpoint of step 'load' from an earlier attempt") for line in lines)
    assert not (home / "checkpoints" / str(job_id)).exists()


def test_sigterm_returns_an_unfinished_job_to_the_queue_after_the_grace_period(world):
    store, features, start, _home = world
    job_id = submit(store, features, SLOW)
    worker = start("worker", extra_env={"TRAINFORGE_DRAIN_SECONDS": "1"})
    wait_for_step(store, job_id, "fit")
    worker_id = store.get(job_id).worker_id
    os.kill(worker.pid, signal.SIGTERM)
    assert worker.wait(timeout=120) == 0
    job = store.get(job_id)
    assert job.status is JobStatus.QUEUED
    assert job.attempts == 0 and job.worker_id is None and job.lease_expires_at is None
    assert "shut down after a 1 s grace period" in store.events(job_id)[-1].reason
    assert store.events(job_id)[-1].worker_id == worker_id
    assert WorkerRegistry(store.engine).alive(within_seconds=3600) == 0  # it marked itself stopped


def test_sigterm_lets_a_running_job_finish_within_the_grace_period(world):
    store, features, start, _home = world
    job_id = submit(store, features, {"n_estimators": 30})
    worker = start("worker", extra_env={"TRAINFORGE_DRAIN_SECONDS": "120"})
    wait_for(lambda: store.get(job_id).status is JobStatus.RUNNING, 180, "the job to start", interval=0.1)
    os.kill(worker.pid, signal.SIGTERM)
    assert worker.wait(timeout=180) == 0
    assert store.get(job_id).status is JobStatus.COMPLETED


def test_killing_the_api_loses_no_queued_job(world):
    store, _features, start, _home = world
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    def healthy():
        try:
            return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    # The local admin key is only made for the embedded default database; make one for this database.
    from trainforge.tenancy import KeyStore

    token = KeyStore(store.engine).create("t1").token
    headers = {"Authorization": f"Bearer {token}"}
    server = start("serve", "--no-worker", "--port", str(port))
    wait_for(healthy, 120, "the API")
    body = {"tenant_id": "t1", "model_type": "forecast", "model_name": "load", "feature_set": "load"}
    ids = [httpx.post(f"{base}/ai/training/jobs/start", json=body, headers=headers).json()["job_id"] for _ in range(3)]
    os.killpg(server.pid, signal.SIGKILL)
    server.wait(timeout=30)
    start("serve", "--no-worker", "--port", str(port))
    wait_for(healthy, 120, "the restarted API")
    listed = httpx.get(f"{base}/ai/training/jobs", params={"status": "queued"}, headers=headers).json()
    assert sorted(job["job_id"] for job in listed["jobs"]) == sorted(ids)
