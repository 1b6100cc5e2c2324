"""``GET /metrics``: Prometheus text read from the database at scrape time, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert

from tests.integration.conftest import ApiOptions
from trainforge.api.routes import metrics as metrics_routes
from trainforge.db.engine import make_engine
from trainforge.db.tables import workers
from trainforge.db.types import utcnow
from trainforge.jobs.records import NewJob
from trainforge.jobs.status import JobStatus
from trainforge.jobs.store import JobStore
from trainforge.observability import ServiceMetricsCollector


def new_job(tenant: str = "secret-tenant") -> NewJob:
    return NewJob(
        tenant_id=tenant,
        model_type="forecast",
        model_name="hidden_model",
        feature_set="site_load",
        config={"target_variable": "load_kw", "horizon": 24},
    )


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample of a Prometheus text exposition, by (name, sorted labels)."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture
def history(engine):
    """Five jobs: one queued 300 s, one running, one completed and one failed after ~200 s, one queued long ago
    and cancelled; three workers: one alive, one silent (no heartbeat for minutes), one stopped."""
    store = JobStore(engine)
    now = utcnow()

    def at(seconds_ago: float):
        return now - timedelta(seconds=seconds_ago)

    completed = store.enqueue(new_job(), now=at(600)).job_id
    failed = store.enqueue(new_job(), now=at(500)).job_id
    running = store.enqueue(new_job(), now=at(400)).job_id
    store.enqueue(new_job(), now=at(300))
    cancelled = store.enqueue(new_job(), now=at(7200)).job_id
    store.transition(cancelled, JobStatus.CANCELLED, reason="changed my mind")
    for job_id, claimed_at in ((completed, 200), (failed, 150), (running, 100)):
        claim = store.claim_next("w-alive", now=at(claimed_at))
        assert claim is not None and claim.job_id == job_id
    store.transition(
        completed,
        JobStatus.COMPLETED,
        reason="done",
        worker_id="w-alive",
        metrics={
            "mae": 1.0,
            "load_seconds": 0.3,
            "fit_seconds": 42.0,
            "cpu_seconds": 80.0,
            "peak_memory_mb": 300.0,
        },
    )
    store.transition(failed, JobStatus.FAILED, reason="boom", worker_id="w-alive", error_message="boom")
    with engine.begin() as conn:
        for worker_id, status, heard in (
            ("w-alive", "running", 2),
            ("w-silent", "running", 600),
            ("w-old", "stopped", 3),
        ):
            conn.execute(
                insert(workers).values(
                    worker_id=worker_id, hostname="h", pid=1, status=status, started_at=at(900), heartbeat_at=at(heard)
                )
            )
    return store


@pytest.fixture
def api_options() -> ApiOptions:
    return ApiOptions(tenants=(), client_tenant=None, feature_tenants=())


@pytest.fixture
def client(api):
    return api.client


def test_metrics_show_the_service_without_a_key_and_without_tenants(history, client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "secret-tenant" not in response.text and "hidden_model" not in response.text
    got = samples(response.text)

    def value(name: str, **labels) -> float:
        return got[(name, tuple(sorted(labels.items())))]

    assert {status.value: value("trainforge_jobs", status=status.value) for status in JobStatus} == {
        "queued": 1,
        "running": 1,
        "completed": 1,
        "failed": 1,
        "cancelled": 1,
    }
    assert value("trainforge_queue_depth") == 1
    assert 299 <= value("trainforge_queue_oldest_age_seconds") <= 330
    # Three claims in the window, after 400, 350 and 300 s in the queue.
    assert value("trainforge_job_queue_wait_seconds_gcount") == 3
    assert value("trainforge_job_queue_wait_seconds_gsum") == pytest.approx(1050, abs=1)
    assert value("trainforge_job_queue_wait_seconds_bucket", le="300.0") == 1
    assert value("trainforge_job_queue_wait_seconds_bucket", le="900.0") == 3
    # Run times: completed after ~200 s, failed after ~150 s; the cancelled job never ran.
    assert value("trainforge_job_duration_seconds_gcount", status="completed") == 1
    assert value("trainforge_job_duration_seconds_gsum", status="completed") == pytest.approx(200, abs=30)
    assert value("trainforge_job_duration_seconds_bucket", status="failed", le="120.0") == 0
    assert value("trainforge_job_duration_seconds_bucket", status="failed", le="300.0") == 1
    assert value("trainforge_job_duration_seconds_gcount", status="cancelled") == 0
    assert value("trainforge_job_step_duration_seconds_bucket", step="fit", le="30.0") == 0
    assert value("trainforge_job_step_duration_seconds_bucket", step="fit", le="60.0") == 1
    assert value("trainforge_job_step_duration_seconds_gsum", step="load") == pytest.approx(0.3)
    assert value("trainforge_job_cpu_seconds_gsum") == 80
    assert value("trainforge_job_peak_memory_bytes_gsum") == 300 * 2**20
    assert value("trainforge_workers_alive") == 1
    assert value("trainforge_workers_silent") == 1
    assert value("trainforge_notification_deliveries", status="pending") == 0
    assert value("trainforge_metrics_window_seconds") == 3600


def test_openmetrics_is_served_to_a_scraper_that_asks_for_it(history, client):
    response = client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    families = {family.name: family for family in parse_openmetrics(response.text)}
    assert families["trainforge_job_duration_seconds"].type == "gaugehistogram"
    assert families["trainforge_jobs"].type == "gauge"


def test_the_window_bounds_the_distributions(history, engine):
    later = utcnow() + timedelta(hours=2)
    registry = CollectorRegistry()
    registry.register(ServiceMetricsCollector(engine, clock=lambda: later))
    got = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in registry.collect() for s in f.samples}
    assert got[("trainforge_job_queue_wait_seconds_gcount", ())] == 0
    assert got[("trainforge_job_duration_seconds_gcount", (("status", "completed"),))] == 0
    assert got[("trainforge_jobs", (("status", "completed"),))] == 1  # counts by status are not windowed
    assert got[("trainforge_workers_alive", ())] == 0  # two hours without a heartbeat


def test_an_unreachable_database_is_a_503(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'missing' / 'nowhere.db'}")
    app = FastAPI()
    app.include_router(metrics_routes.router)
    app.state.metrics_registry = CollectorRegistry()
    app.state.metrics_registry.register(ServiceMetricsCollector(engine))
    with TestClient(app) as test_client:
        response = test_client.get("/metrics")
    engine.dispose()
    assert response.status_code == 503
    assert "unreachable" in response.text
