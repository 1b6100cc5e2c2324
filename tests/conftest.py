"""Shared fixtures: a metadata database on each backend, and settings that never touch the user's home.

PostgreSQL tests run against the server named by ``TRAINFORGE_TEST_PG_URL`` (default: the local server at
127.0.0.1:5432, user postgres). Each test run creates its own throwaway database and drops it at the end. If the
server is down the tests fail: they never pass by skipping.
"""

from __future__ import annotations

import os

# Before anything imports MLflow or Ray: no usage telemetry from tests (see trainforge.cli.main).
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from trainforge.db.engine import make_engine, normalise_url
from trainforge.db.migrate import upgrade
from trainforge.db.tables import metadata
from trainforge.settings import Settings, load_settings

PG_ADMIN_URL = normalise_url(
    os.environ.get("TRAINFORGE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
)


def create_pg_database(prefix: str = "trainforge_test") -> str:
    """Create an empty throwaway database and return its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(url: str) -> None:
    name = make_url(url).database
    admin = make_engine(PG_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A migrated throwaway PostgreSQL database for this test run."""
    url = create_pg_database()
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    drop_pg_database(url)


def _truncate(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A SQLite file migrated once for the session; tests get copies (the migrations take ~0.2 s per database)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "trainforge.db"
    eng = make_engine(f"sqlite:///{path}")
    upgrade(eng)
    eng.dispose()  # the last connection closes: the WAL is checkpointed into the file, which is then complete
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request, tmp_path) -> Iterator[Engine]:
    """A migrated, empty metadata database: a fresh SQLite file (a copy of the session's migrated template), or the
    run's PostgreSQL database emptied."""
    if request.param == "sqlite":
        path = tmp_path / "trainforge.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        eng = make_engine(f"sqlite:///{path}")
    else:
        eng = make_engine(request.getfixturevalue("pg_url"))
        _truncate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def settings(tmp_path) -> Settings:
    """Settings whose every path lies under a temporary home."""
    return load_settings(home=tmp_path / "home", ray_num_cpus=2)


@pytest.fixture(scope="session")
def local_ray():
    """One local Ray for the whole test session (starting Ray costs seconds; DESIGN §1)."""
    import ray

    from trainforge.compute.ray_runtime import ensure_ray, shutdown_ray

    ensure_ray(load_settings(ray_num_cpus=2))
    yield ray
    shutdown_ray()
