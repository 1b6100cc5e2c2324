"""The training-jobs API over HTTP (in-process ASGI client), on SQLite and PostgreSQL, without a worker."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.conftest import ApiOptions
from trainforge.jobs.status import JobStatus
from trainforge.jobs.store import JobStore

JOBS = "/ai/training/jobs"


@pytest.fixture
def api_options() -> ApiOptions:
    return ApiOptions(tenants=("t1",), n_series=2, periods=24 * 60)


@pytest.fixture
def client(api):
    return api.client


def body(**overrides):
    request = {
        "tenant_id": "t1",
        "model_type": "forecast",
        "model_name": "load_forecast",
        "feature_set": "demo_load",
        "config": {"target_variable": "load_kw", "horizon": 24, "hyperparams": {"n_estimators": 50}},
        "priority": "high",
    }
    request.update(overrides)
    return request


def test_start_then_get_and_list(client):
    accepted = client.post(f"{JOBS}/start", json=body())
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["job_id"]
    assert accepted.json()["status"] == "queued"

    detail = client.get(f"{JOBS}/{job_id}").json()
    assert detail["status"] == "queued"
    assert detail["priority"] == 10
    assert detail["config"]["feature_set"] == "demo_load"
    assert detail["config"]["hyperparams"]["n_estimators"] == 50
    assert detail["logs_url"] == f"{JOBS}/{job_id}/logs"

    listed = client.get(JOBS, params={"tenant_id": "t1", "status": "queued"}).json()
    assert listed["total"] == 1 and listed["jobs"][0]["job_id"] == job_id
    assert client.get(JOBS).json()["total"] == 1  # no tenant_id: the key's own tenant


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"config": {"horizon": 0}}, "config.horizon"),
        ({"config": {"validation_split": 0.5, "test_split": 0.4}}, "config.validation_split"),
        ({"config": {"hyperparams": {"n_estimators": "many"}}}, "config.hyperparams.n_estimators"),
        ({"config": {"hyperparams": {"not_a_param": 1}}}, "config.hyperparams.not_a_param"),
        ({"config": {"target_variable": "no_such_column"}}, "config.target_variable"),
        ({"feature_set": "missing_set"}, "feature_set"),
        ({"feature_set": "../etc"}, "feature_set"),
        ({"tenant_id": "a/b"}, "tenant_id"),
        ({"model_type": "regression"}, "model_type"),
        ({"priority": "asap"}, "priority"),
        ({"surprise": 1}, "surprise"),
        ({"config": {"model_family": "seasonal_naive", "register_model": True}}, "config.register_model"),
        ({"config": {"model_family": "seasonal_naive", "hyperparams": {"n_estimators": 5}}}, "config.hyperparams"),
        ({"config": {"model_family": "arima"}}, "config.model_family"),
    ],
)
def test_bad_requests_are_422_naming_the_field_and_write_nothing(client, change, field):
    response = client.post(f"{JOBS}/start", json=body(**change))
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["error"] == "invalid_input"
    assert error["field"] is not None and error["field"].startswith(field.split(".")[0])
    assert field in error["field"] or field in error["message"]
    assert client.get(JOBS).json()["total"] == 0


def test_unknown_job_is_404_and_bad_uuid_is_422(client):
    assert client.get(f"{JOBS}/{uuid.uuid4()}").status_code == 404
    assert client.delete(f"{JOBS}/{uuid.uuid4()}").status_code == 404
    response = client.get(f"{JOBS}/not-a-uuid")
    assert response.status_code == 422
    assert response.json()["field"] == "job_id"


def test_cancel_then_cancel_again_is_409(client):
    job_id = client.post(f"{JOBS}/start", json=body()).json()["job_id"]
    cancelled = client.delete(f"{JOBS}/{job_id}")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    again = client.delete(f"{JOBS}/{job_id}")
    assert again.status_code == 409
    assert again.json()["error"] == "conflict"


def _job_in(status: str, client, store: JobStore) -> str:
    """A job of the client's tenant brought to ``status`` the way a worker (or a user) brings it there."""
    job_id = client.post(f"{JOBS}/start", json=body()).json()["job_id"]
    if status == "cancelled":
        client.delete(f"{JOBS}/{job_id}")
    elif status != "queued":
        claimed = store.claim_next("w1", lease_seconds=600)
        if status in ("completed", "failed"):
            store.transition(claimed.job_id, JobStatus(status), reason="done", worker_id="w1", error_message="boom")
    return job_id


@pytest.mark.parametrize("status", ["queued", "running", "completed", "cancelled"])
def test_retry_of_a_job_that_has_not_failed_is_409_and_changes_nothing(client, engine, status):
    """A running job above all: re-queued, its lease cleared, a second worker could claim it while the first
    still computes it. Only the reaper (an expired lease) and a draining worker move running -> queued."""
    store = JobStore(engine)
    job_id = _job_in(status, client, store)
    before, events = store.get(uuid.UUID(job_id)), store.events(uuid.UUID(job_id))

    response = client.post(f"{JOBS}/{job_id}/retry")

    assert response.status_code == 409, response.text
    assert response.json()["error"] == "conflict"
    assert status in response.json()["message"]
    assert store.get(uuid.UUID(job_id)) == before  # status, worker_id, lease_expires_at, attempts, updated_at
    assert store.events(uuid.UUID(job_id)) == events
    if status == "running":
        assert before.worker_id == "w1" and before.lease_expires_at is not None
        assert store.claim_next("w2") is None


def test_retry_of_a_failed_job_queues_it_again(client, engine):
    store = JobStore(engine)
    job_id = _job_in("failed", client, store)
    retried = client.post(f"{JOBS}/{job_id}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "queued"
    assert store.events(uuid.UUID(job_id))[-1].reason.startswith("retried by key ")
    assert store.claim_next("w2").job_id == uuid.UUID(job_id)


def test_logs_tail(client):
    job_id = client.post(f"{JOBS}/start", json=body()).json()["job_id"]
    client.delete(f"{JOBS}/{job_id}")
    logs = client.get(f"{JOBS}/{job_id}/logs", params={"tail": 1}).json()
    assert logs["total_lines"] == 2
    assert len(logs["logs"]) == 1
    assert "cancelled" in logs["logs"][0]["message"]


def test_healthz(client):
    health = client.get("/healthz").json()
    assert health["status"] == "ok"
    assert health["schema_revision"]


def test_list_limit_is_bounded(client):
    response = client.get(JOBS, params={"limit": 100000})
    assert response.status_code == 422
    assert response.json()["field"] == "limit"
