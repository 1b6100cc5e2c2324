"""A metadata database (or Optuna storage) that cannot be reached: a 503 with Retry-After, never a 500.

Real outages, no mocks: a server on a closed local port, a SQLite file in a directory that does not exist, and a
live PostgreSQL database that stops accepting connections (its open ones terminated) while the API runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.conftest import PG_ADMIN_URL, create_pg_database, drop_pg_database
from trainforge.api.app import create_app
from trainforge.db.engine import make_engine
from trainforge.db.migrate import upgrade
from trainforge.errors import DatabaseUnavailable
from trainforge.hpo.optuna_storage import open_storage, optuna_storage_errors
from trainforge.jobs.store import JobStore
from trainforge.settings import load_settings
from trainforge.tenancy import KeyStore

CLOSED_PORT_URL = "postgresql://postgres@127.0.0.1:1/trainforge"
JOBS = "/ai/training/jobs"


def _refuse_connections(url: str, *, refuse: bool) -> None:
    """Make a database refuse new connections and end its open ones (as a restart or a failover would), or let
    it accept them again."""
    name = make_url(url).database
    admin = make_engine(PG_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {"false" if refuse else "true"}'))
            if refuse:
                conn.execute(
                    text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                    {"name": name},
                )
    finally:
        admin.dispose()


@pytest.fixture
def outage_url() -> Iterator[str]:
    """A migrated throwaway PostgreSQL database of its own (the test takes it down)."""
    url = create_pg_database("trainforge_outage")
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    drop_pg_database(url)


@pytest.mark.parametrize("where", ["closed_port", "missing_sqlite_directory"])
def test_a_store_on_an_unreachable_database_raises_database_unavailable(tmp_path, where):
    url = CLOSED_PORT_URL if where == "closed_port" else f"sqlite:///{tmp_path / 'missing' / 'trainforge.db'}"
    engine = make_engine(url)
    try:
        with pytest.raises(DatabaseUnavailable) as caught:
            JobStore(engine).get(uuid.uuid4())
        with pytest.raises(DatabaseUnavailable):
            KeyStore(engine).create("t1", name="k")
    finally:
        engine.dispose()
    assert caught.value.http_status == 503
    assert caught.value.retry_after_seconds
    assert "metadata database" in caught.value.message
    assert caught.value.reason  # the driver's words, for the log


def test_an_unreachable_optuna_storage_raises_database_unavailable():
    with pytest.raises(DatabaseUnavailable) as caught:
        open_storage(CLOSED_PORT_URL)
    assert "Optuna storage" in caught.value.message


@pytest.mark.postgres
def test_the_optuna_storage_going_away_raises_database_unavailable(outage_url):
    storage = open_storage(outage_url)
    storage.get_all_studies()  # connected
    _refuse_connections(outage_url, refuse=True)
    try:
        with pytest.raises(DatabaseUnavailable) as caught, optuna_storage_errors():
            storage.get_all_studies()
        assert "Optuna storage" in caught.value.message
    finally:
        _refuse_connections(outage_url, refuse=False)
        storage.engine.dispose()


@pytest.mark.postgres
def test_requests_while_the_database_is_down_are_503_with_retry_after(outage_url, tmp_path):
    settings = load_settings(home=tmp_path / "home", database_url=outage_url)
    token = KeyStore(make_engine(outage_url)).create("t1", name="tests").token
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(settings), headers=headers, raise_server_exceptions=False) as client:
        assert client.get(JOBS).status_code == 200  # pooled connections, now in use
        _refuse_connections(outage_url, refuse=True)
        try:
            # The first request meets a pooled connection the server closed, the next ones a refused connect.
            missing = f"{JOBS}/{uuid.uuid4()}"
            for method, path in [("GET", JOBS), ("GET", missing), ("DELETE", missing), ("POST", f"{missing}/retry")]:
                response = client.request(method, path)
                assert response.status_code == 503, response.text
                assert int(response.headers["Retry-After"]) > 0
                body = response.json()
                assert body["error"] == "unavailable"
                assert "metadata database is unavailable" in body["message"]
                assert body["field"] is None
                assert "127.0.0.1" not in body["message"] and "SQL" not in body["message"]
        finally:
            _refuse_connections(outage_url, refuse=False)
        assert client.get(JOBS).status_code == 200  # back without a restart


def test_the_503_is_documented_on_every_authenticated_route(tmp_path):
    with TestClient(create_app(load_settings(home=tmp_path / "home"))) as client:
        paths = client.get("/openapi.json").json()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            if operation.get("security") or path.startswith("/ai/"):
                assert "503" in operation["responses"], f"{method.upper()} {path}"
