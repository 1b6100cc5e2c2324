"""Alembic environment for trainforge's metadata database.

trainforge keeps its revision in its own ``trainforge_alembic_version`` table: MLflow and Optuna also use Alembic
with the default ``alembic_version`` table, and a shared database must not mix them (DESIGN §1).
"""

from __future__ import annotations

from alembic import context

from trainforge.db.engine import make_engine
from trainforge.db.migrate import VERSION_TABLE
from trainforge.db.tables import metadata

config = context.config


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run `trainforge db upgrade`")
run_migrations_online()
