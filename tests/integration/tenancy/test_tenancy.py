"""Two tenants on one server cannot reach each other's objects; keys are hashed, revocable and required.

The route tables below are the pattern for every endpoint added later: ``test_every_route_is_covered`` fails when
a route that takes an id or a tenant is not listed here.
"""

from __future__ import annotations

import os
import re
import uuid

import pytest
from sqlalchemy import select

from tests.integration.conftest import ApiOptions
from trainforge.db.tables import api_keys, metadata
from trainforge.jobs.status import JobStatus
from trainforge.jobs.store import JobStore
from trainforge.settings import load_settings
from trainforge.tenancy import KeyStore
from trainforge.tenancy._local_key import ensure_local_admin_key, local_key_path

JOBS = "/ai/training/jobs"
WEBHOOKS = "/ai/training/webhooks"
SCHEDULES = "/ai/training/schedules"
OPTIMIZE = "/ai/training/optimize"
# Routes that address one object by id: another tenant's id must be exactly as "not found" as a missing one.
# (`OWNED` below says how to make the object each id placeholder names.)
ID_ROUTES = [
    ("GET", JOBS + "/{job_id}"),
    ("DELETE", JOBS + "/{job_id}"),
    ("POST", JOBS + "/{job_id}/retry"),
    ("GET", JOBS + "/{job_id}/logs"),
    ("DELETE", WEBHOOKS + "/{webhook_id}"),
    ("GET", WEBHOOKS + "/{webhook_id}/deliveries"),
    ("GET", SCHEDULES + "/{schedule_id}"),
    ("DELETE", SCHEDULES + "/{schedule_id}"),
    ("POST", SCHEDULES + "/{schedule_id}/pause"),
    ("POST", SCHEDULES + "/{schedule_id}/resume"),
    ("GET", OPTIMIZE + "/{study_id}"),
    ("GET", OPTIMIZE + "/{study_id}/trials"),
    ("POST", OPTIMIZE + "/{study_id}/cancel"),
]
# Routes that name a tenant in the body or the query string.
TENANT_ROUTES = [("POST", JOBS + "/start"), ("GET", JOBS), ("POST", WEBHOOKS), ("GET", WEBHOOKS)]
TENANT_ROUTES += [("POST", SCHEDULES), ("GET", SCHEDULES), ("POST", OPTIMIZE + "/start"), ("GET", OPTIMIZE)]
# A model is addressed by the tenant in the body and its name: another tenant's model is the same 404 as a missing
# one (tests/integration/api/test_predict.py, with trained models); naming another tenant is a 403 (below).
PREDICT = "/ai/models/{model_name}/predict"
TENANT_ROUTES += [("POST", PREDICT)]
OPEN_ROUTES = {"/healthz", "/metrics"}


@pytest.fixture
def api_options() -> ApiOptions:
    return ApiOptions(
        tenants=("alpha", "beta"), admin=True, client_tenant=None, feature_tenants=("alpha", "beta"), feature_set="load"
    )


@pytest.fixture
def world(api, engine):
    return api.client, api.tokens, JobStore(engine), api.keys, api.app


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def start(client, token, tenant="alpha"):
    body = {"tenant_id": tenant, "model_type": "forecast", "model_name": "m", "feature_set": "load"}
    response = client.post(f"{JOBS}/start", json=body, headers=auth(token))
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


def add_webhook(client, token, tenant="alpha"):
    body = {"tenant_id": tenant, "url": "https://hooks.example.com/hook"}
    response = client.post(WEBHOOKS, json=body, headers=auth(token))
    assert response.status_code == 201, response.text
    return response.json()["webhook_id"]


def add_schedule(client, token, tenant="alpha"):
    job = {"tenant_id": tenant, "model_type": "forecast", "model_name": "m", "feature_set": "load"}
    body = {"tenant_id": tenant, "name": f"s-{uuid.uuid4().hex[:8]}", "cron": "@daily", "job": job}
    response = client.post(SCHEDULES, json=body, headers=auth(token))
    assert response.status_code == 201, response.text
    return response.json()["schedule_id"]


def add_study(client, token, tenant="alpha"):
    body = {"tenant_id": tenant, "study_name": f"s-{uuid.uuid4().hex[:8]}", "model_type": "forecast"}
    body |= {"feature_set": "load", "n_trials": 5}
    response = client.post(f"{OPTIMIZE}/start", json=body, headers=auth(token))
    assert response.status_code == 202, response.text
    return response.json()["study_id"]


# How to make, for a tenant, an object of the kind an id placeholder names.
OWNED = {"{job_id}": start, "{webhook_id}": add_webhook, "{schedule_id}": add_schedule, "{study_id}": add_study}


def create_owned(client, token, path: str) -> str:
    (make,) = [make for placeholder, make in OWNED.items() if placeholder in path]
    return make(client, token)


def fill(path: str, object_id) -> str:
    return re.sub(r"\{\w+\}", str(object_id), path)


def snapshot(store: JobStore):
    """Every row of every table: a refused request must change nothing, not even an event or a log line."""
    with store.engine.connect() as conn:
        return {
            table.name: conn.execute(select(table).order_by(*table.primary_key.columns)).mappings().all()
            for table in metadata.sorted_tables
        }


def api_operations(app):
    """``(method, path, operation, document)`` of every operation in the OpenAPI document: the public list of
    routes (since FastAPI 0.165, ``app.routes`` holds included routers, not their routes)."""
    document = app.openapi()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation, document


def names_a_tenant(operation, document) -> bool:
    if any(param["name"] == "tenant_id" and param["in"] == "query" for param in operation.get("parameters", [])):
        return True
    schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return "tenant_id" in schema.get("properties", {})


@pytest.mark.parametrize(("method", "path"), ID_ROUTES)
def test_another_tenants_id_is_not_found_exactly_like_a_missing_one(world, method, path):
    client, tokens, store, _keys, _app = world
    alphas = create_owned(client, tokens["alpha"], path)
    before = snapshot(store)
    foreign = client.request(method, fill(path, alphas), headers=auth(tokens["beta"]))
    missing = client.request(method, fill(path, uuid.uuid4()), headers=auth(tokens["beta"]))
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["error"] == missing.json()["error"] == "not_found"
    assert foreign.json()["field"] == missing.json()["field"]
    assert snapshot(store) == before  # nothing changed, not even an event or a log line


@pytest.mark.parametrize(("method", "path"), ID_ROUTES)
def test_the_owner_and_an_admin_reach_the_job(world, method, path):
    client, tokens, _store, _keys, _app = world
    for token in (tokens["alpha"], tokens["admin"]):
        object_id = create_owned(client, tokens["alpha"], path)
        response = client.request(method, fill(path, object_id), headers=auth(token))
        # retry of a queued job is a 409: reached, and refused by the state machine rather than by tenancy
        assert response.status_code in (200, 409), response.text


def test_naming_another_tenant_is_forbidden(world):
    client, tokens, store, _keys, _app = world
    body = {"tenant_id": "alpha", "model_type": "forecast", "model_name": "m", "feature_set": "load"}
    refused = client.post(f"{JOBS}/start", json=body, headers=auth(tokens["beta"]))
    assert refused.status_code == 403
    assert refused.json()["field"] == "tenant_id"
    listed = client.get(JOBS, params={"tenant_id": "alpha"}, headers=auth(tokens["beta"]))
    assert listed.status_code == 403
    assert store.list()[1] == 0  # nothing was queued


def test_a_forecast_for_another_tenant_is_forbidden_and_a_model_it_lacks_not_found(world):
    client, tokens, _store, _keys, _app = world
    path = fill(PREDICT, "m")
    refused = client.post(path, json={"tenant_id": "alpha"}, headers=auth(tokens["beta"]))
    assert (refused.status_code, refused.json()["field"]) == (403, "tenant_id")
    missing = client.post(path, json={"tenant_id": "beta"}, headers=auth(tokens["beta"]))
    assert (missing.status_code, missing.json()["field"]) == (404, "model_name")
    assert "alpha" not in missing.json()["message"]


def test_lists_only_show_the_keys_tenant_but_admin_sees_all(world):
    client, tokens, _store, _keys, _app = world
    alphas = start(client, tokens["alpha"])
    betas = start(client, tokens["beta"], tenant="beta")
    mine = client.get(JOBS, headers=auth(tokens["beta"])).json()
    assert [job["job_id"] for job in mine["jobs"]] == [betas]
    everything = client.get(JOBS, headers=auth(tokens["admin"])).json()
    assert {job["job_id"] for job in everything["jobs"]} == {alphas, betas}
    only_alpha = client.get(JOBS, params={"tenant_id": "alpha"}, headers=auth(tokens["admin"])).json()
    assert [job["job_id"] for job in only_alpha["jobs"]] == [alphas]


def test_admin_may_act_for_any_tenant(world):
    client, tokens, store, _keys, _app = world
    job_id = start(client, tokens["admin"], tenant="beta")
    assert store.get(uuid.UUID(job_id)).tenant_id == "beta"


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer nonsense", "Basic dXNlcjpwYXNz", "Bearer tfk_000000000000_secret", "Bearer " + "x" * 5000],
)
def test_requests_without_a_valid_key_are_401(world, header):
    client, _tokens, _store, _keys, _app = world
    headers = {"Authorization": header} if header else {}
    response = client.get(JOBS, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"] == "unauthorized"


def test_a_right_key_id_with_a_wrong_secret_is_401(world):
    client, tokens, _store, _keys, _app = world
    key_id = tokens["alpha"].split("_")[1]
    response = client.get(JOBS, headers=auth(f"tfk_{key_id}_{'A' * 43}"))
    assert response.status_code == 401


def test_a_revoked_key_is_refused_at_once(world):
    client, tokens, _store, keys, _app = world
    assert client.get(JOBS, headers=auth(tokens["beta"])).status_code == 200
    keys.revoke(tokens["beta"].split("_")[1])
    assert client.get(JOBS, headers=auth(tokens["beta"])).status_code == 401


def test_keys_are_stored_hashed(world):
    _client, tokens, store, keys, _app = world
    secret = tokens["alpha"].split("_", 2)[2]
    with store.engine.connect() as conn:
        stored = [row.key_hash for row in conn.execute(select(api_keys.c.key_hash))]
    assert all(secret not in value and tokens["alpha"] not in value for value in stored)
    assert {key.tenant_id for key in keys.list()} == {"alpha", "beta", "ops"}


def test_every_route_is_covered(world):
    _client, _tokens, _store, _keys, app = world
    covered = {(method, path) for method, path in ID_ROUTES + TENANT_ROUTES}
    checked = 0
    for method, path, operation, document in api_operations(app):
        if path in OPEN_ROUTES:
            continue
        checked += 1
        if "{" in path or names_a_tenant(operation, document):
            assert (method, path) in covered, f"{method} {path} needs a cross-tenant test here"
    assert checked >= len(covered)  # the routes were really enumerated


def test_every_route_but_health_needs_a_key(world):
    client, _tokens, _store, _keys, app = world
    checked = 0
    for method, path, _operation, _document in api_operations(app):
        if path in OPEN_ROUTES:
            continue
        checked += 1
        assert client.request(method, fill(path, uuid.uuid4())).status_code == 401, f"{method} {path} answers"
    assert checked >= len(ID_ROUTES + TENANT_ROUTES)
    assert client.get("/healthz").status_code == 200


def test_the_local_admin_key_is_owner_only_and_reused(engine, tmp_path):
    settings = load_settings(home=tmp_path / "home")
    settings.ensure_home()
    keys = KeyStore(engine)
    token = ensure_local_admin_key(settings, keys)
    path = local_key_path(settings)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert ensure_local_admin_key(settings, keys) == token
    assert keys.authenticate(token).is_admin
    keys.revoke(token.split("_")[1])
    replaced = ensure_local_admin_key(settings, keys)
    assert replaced != token and keys.authenticate(replaced).is_admin


def test_a_running_job_of_another_tenant_cannot_be_cancelled(world):
    client, tokens, store, _keys, _app = world
    job_id = start(client, tokens["alpha"])
    store.claim_next("w")
    assert client.delete(f"{JOBS}/{job_id}", headers=auth(tokens["beta"])).status_code == 404
    assert store.get(uuid.UUID(job_id)).status is JobStatus.RUNNING
