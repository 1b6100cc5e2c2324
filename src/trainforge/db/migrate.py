"""Applying and checking the metadata database's Alembic migrations.

A service started on a database that is behind the code refuses to run and prints the command that fixes it, as
Optuna's RDB storage does; only the embedded default (a brand-new SQLite file) is migrated automatically.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from trainforge.errors import SchemaOutOfDate

VERSION_TABLE = "trainforge_alembic_version"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
UPGRADE_COMMAND = "trainforge db upgrade"


def alembic_config(url: str) -> Config:
    """An Alembic config built in code, so it works from any working directory and from an installed wheel."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (default: the latest)."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def ensure_schema(engine: Engine, *, create_if_empty: bool) -> None:
    """Refuse to run on a database whose schema is not the code's.

    Args:
        engine: the metadata database.
        create_if_empty: migrate a database that has never been migrated (the embedded SQLite default), instead of
            refusing. A database that is at an older revision is always refused: upgrading shared production
            databases is an operator's decision.
    """
    current, head = current_revision(engine), head_revision()
    if current == head:
        return
    if current is None and create_if_empty:
        upgrade(engine)
        return
    where = engine.url.render_as_string(hide_password=True)
    raise SchemaOutOfDate(
        f"the metadata database {where} is at revision {current or 'none (empty)'} but this trainforge needs "
        f"{head}; run `{UPGRADE_COMMAND}` (with the same TRAINFORGE_DATABASE_URL) and start again"
    )
