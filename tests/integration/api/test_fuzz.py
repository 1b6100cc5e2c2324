"""Fuzzing the HTTP API against its own OpenAPI document with schemathesis, in process (ASGI), on SQLite.

Every operation gets a bounded, derandomised set of examples (schema examples, boundary "coverage" cases, then
generated valid and invalid requests), sent with a valid tenant key to a database seeded with a feature set and
jobs in several states. Every response must be a non-5xx that the document declares: its status code, content
type, headers and body schema. One database is enough here; the hostile-input tests cover both backends.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from trainforge.api.app import create_app
from trainforge.db.engine import make_engine
from trainforge.db.migrate import upgrade
from trainforge.features.demo_data import generate_demo_load
from trainforge.features.store import ParquetFeatureStore
from trainforge.jobs.records import NewJob
from trainforge.jobs.status import JobStatus
from trainforge.jobs.store import JobStore
from trainforge.settings import Settings, load_settings
from trainforge.tenancy import KeyStore

# The tenant of the JobRequest example in the OpenAPI document, so that the example itself is accepted (202).
TENANT = "tenant-123"
EXAMPLES_PER_OPERATION = 40
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _seed_jobs(store: JobStore) -> list[str]:
    """One queued, one failed (retryable) and one completed job (with metrics) of the fuzzing tenant."""

    def enqueue() -> uuid.UUID:
        new = NewJob(
            tenant_id=TENANT,
            model_type="forecast",
            model_name="load_forecast",
            feature_set="demo_load",
            config={"target_variable": "load_kw", "horizon": 24, "hyperparams": {}},
            priority=0,
            schedule=None,
            created_by=None,
            tags={"seeded": "yes"},
        )
        return store.enqueue(new).job_id

    failed, completed, queued = enqueue(), enqueue(), enqueue()
    for job_id in (failed, completed):  # claimed oldest first: failed, then completed
        claimed = store.claim_next("fuzz-worker")
        assert claimed is not None and claimed.job_id == job_id
    store.append_logs(failed, [("ERROR", "fit", "Traceback (most recent call last): …")])
    store.transition(failed, JobStatus.FAILED, reason="seeded failure", error_message="boom")
    store.transition(
        completed, JobStatus.COMPLETED, reason="seeded success", metrics={"mae": 1.5}, model_id="m-1", progress=1.0
    )
    return [str(job_id) for job_id in (queued, failed, completed)]


@dataclass(frozen=True)
class FuzzTarget:
    app: FastAPI
    headers: dict[str, str]
    job_ids: list[str]


@pytest.fixture(scope="module")
def target(request, tmp_path_factory) -> Iterator[FuzzTarget]:
    """The app on a fresh database, a key of the fuzzing tenant, its feature set and seeded jobs."""
    assert request.param == "sqlite", "only SQLite is wired up for fuzzing"
    root = tmp_path_factory.mktemp("fuzz")
    database_url = f"sqlite:///{root / 'trainforge.db'}"
    settings = load_settings(home=root / "home", database_url=database_url)
    settings.ensure_home()
    engine = make_engine(database_url)
    upgrade(engine)
    frame = generate_demo_load(n_series=1, periods=24 * 30)
    ParquetFeatureStore(settings.resolved_feature_store_root).write_frame(
        TENANT, "demo_load", frame, timestamp_col="timestamp", series_col="site_id"
    )
    token = KeyStore(engine).create(TENANT, name="fuzz").token
    yield FuzzTarget(create_app(settings), {"Authorization": f"Bearer {token}"}, _seed_jobs(JobStore(engine)))
    shutdown_lifespans()  # the ASGI transport keeps the app's lifespan (and its engine) open until told to stop
    engine.dispose()


def _openapi_document() -> dict:
    # Building the app opens nothing (the database and stores are made in its lifespan), so the document can be
    # read at collection time, which `schema.parametrize()` needs to make one test per operation.
    return create_app(Settings(_env_file=None, home="/nonexistent/trainforge-fuzz")).openapi()


# Reproducible in CI: a fixed seed, derandomised generation, no example database carried between runs; and no
# failure because a busy CI machine generates data slowly (that is not what this test is about).
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20240601,
        "suppress-health-check": ["too_slow"],
        "generation": {"max-examples": EXAMPLES_PER_OPERATION, "deterministic": True, "database": "none"},
    }
)
schema = schemathesis.openapi.from_dict(_openapi_document(), config=CONFIG)


# The backend is a parameter so that each operation's test id names it ("...[GET /healthz][sqlite]"); without
# a parameter, pytest 9.2 gives every schemathesis item the bare function name as its id.
@schema.parametrize()
@pytest.mark.parametrize("target", ["sqlite"], indirect=True)
def test_every_operation_answers_as_documented(case, target):
    job_id = case.path_parameters.get("job_id") if case.path_parameters else None
    if _is_uuid(job_id):
        # Random UUIDs only ever find "no such job": send most well-formed ids to a seeded job instead.
        choice = uuid.UUID(str(job_id)).int % (len(target.job_ids) + 1)
        if choice < len(target.job_ids):
            case.path_parameters["job_id"] = target.job_ids[choice]
    case.call_and_validate(app=target.app, headers=target.headers, checks=CHECKS)


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
