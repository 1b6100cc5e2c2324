"""Ten jobs at once on one 2-core machine: a pool of ten workers, each job's Ray task reserving 0.2 CPUs."""

from __future__ import annotations

import threading

import pytest

from tests.integration.conftest import copy_mlflow_template
from trainforge.features.demo_data import generate_demo_load
from trainforge.features.store import ParquetFeatureStore
from trainforge.jobs.status import JobStatus
from trainforge.jobs.store import JobStore
from trainforge.kinds import make_worker_pool
from trainforge.pipeline.config import TrainingConfig
from trainforge.registry import ModelRegistry
from trainforge.settings import load_settings
from trainforge.submission import JobRequest, submit_job
from trainforge.testing import wait_for

pytestmark = pytest.mark.slow


def peak_overlap(intervals) -> int:
    """Most intervals open at one instant (a sweep over start/end points; ends sort before starts at a tie)."""
    points = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    peak = current = 0
    for _, step in points:
        current += step
        peak = max(peak, current)
    return peak


def test_twenty_jobs_on_ten_workers_run_ten_at_once_and_all_complete(tmp_path, local_ray, mlflow_sqlite_template):
    db_url = f"sqlite:///{tmp_path / 'trainforge.db'}"
    settings = load_settings(
        home=tmp_path / "home", database_url=db_url, job_cpus=0.2, worker_concurrency=10, train_threads=1
    )
    settings.ensure_home()
    copy_mlflow_template(mlflow_sqlite_template, settings.home / "mlflow.db")
    from trainforge.db.engine import make_engine
    from trainforge.db.migrate import upgrade

    engine = make_engine(db_url)
    upgrade(engine)
    store = JobStore(engine)
    features = ParquetFeatureStore(settings.resolved_feature_store_root)
    features.write_frame(
        "t1", "load", generate_demo_load(n_series=2, periods=24 * 90), timestamp_col="timestamp", series_col="site_id"
    )
    # Long enough (a few seconds of fit each) that the ten workers' jobs overlap.
    config = TrainingConfig(
        target_variable="load_kw", hyperparams={"n_estimators": 150, "learning_rate": 0.001, "num_leaves": 31}
    )
    ids = [
        submit_job(
            JobRequest(tenant_id="t1", model_type="forecast", model_name=f"m{n}", feature_set="load", config=config),
            store=store,
            features=features,
        ).job_id
        for n in range(20)
    ]
    registry = ModelRegistry(settings.resolved_mlflow_tracking_uri, settings.resolved_artifact_root)
    pool = make_worker_pool(settings, store, registry)
    stop = threading.Event()
    pool.start(stop)
    try:
        wait_for(lambda: all(store.get(i).status.is_terminal for i in ids), 600, "all twenty jobs", interval=0.5)
    finally:
        stop.set()
        pool.join(timeout=120)
    jobs = [store.get(i) for i in ids]
    assert [job.status for job in jobs] == [JobStatus.COMPLETED] * 20, [job.error_message for job in jobs]
    assert len({job.worker_id for job in jobs}) == 10
    assert peak_overlap([(job.started_at, job.completed_at) for job in jobs]) >= 10
    engine.dispose()
