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


def test_retry_only_failed_jobs(client, engine):
    job_id = client.post(f"{JOBS}/start", json=body()).json()["job_id"]
    assert client.post(f"{JOBS}/{job_id}/retry").status_code == 409  # still queued
    store = JobStore(engine)
    claimed = store.claim_next("w")
    store.transition(claimed.job_id, JobStatus.FAILED, reason="boom", error_message="boom")
    retried = client.post(f"{JOBS}/{job_id}/retry")
    assert retried.status_code == 200
    assert retried.json()["status"] == "queued"
    reasons = [event.reason for event in store.events(claimed.job_id)]
    assert reasons[-1].startswith("retried by key ")


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
