"""Migrations produce exactly the schema of ``trainforge.db.tables``, and a stale database is refused."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tests.conftest import create_pg_database, drop_pg_database
from trainforge.db.engine import make_engine
from trainforge.db.migrate import VERSION_TABLE, current_revision, ensure_schema, head_revision, upgrade
from trainforge.db.tables import metadata
from trainforge.errors import SchemaOutOfDate


def _diff(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "version_table": VERSION_TABLE})
        return compare_metadata(context, metadata)


def test_migrations_match_the_tables_on_sqlite(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    assert _diff(engine) == []
    assert current_revision(engine) == head_revision()


@pytest.mark.postgres
def test_migrations_match_the_tables_on_postgres():
    url = create_pg_database("trainforge_migr")
    engine = make_engine(url)
    try:
        upgrade(engine)
        assert _diff(engine) == []
    finally:
        engine.dispose()
        drop_pg_database(url)


def test_an_empty_database_is_refused_unless_embedded(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'e.db'}")
    with pytest.raises(SchemaOutOfDate, match="trainforge db upgrade"):
        ensure_schema(engine, create_if_empty=False)
    ensure_schema(engine, create_if_empty=True)
    assert current_revision(engine) == head_revision()


def test_a_database_behind_the_code_is_refused_even_when_embedded(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE {VERSION_TABLE} SET version_num = 'an_older_revision'")
    with pytest.raises(SchemaOutOfDate, match="an_older_revision"):
        ensure_schema(engine, create_if_empty=True)
