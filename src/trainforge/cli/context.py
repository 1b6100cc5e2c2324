"""What every CLI command needs: settings from the environment and ``--home``, and the metadata database."""

from __future__ import annotations

import logging
from pathlib import Path

from rich.console import Console
from sqlalchemy import Engine

from trainforge.db.engine import make_engine
from trainforge.db.migrate import ensure_schema
from trainforge.settings import Settings, load_settings

console = Console()
errors = Console(stderr=True)


def settings_for(home: Path | None) -> Settings:
    settings = load_settings(home=home)
    settings.ensure_home()
    return settings


def open_database(settings: Settings) -> Engine:
    """The metadata database, migrated if it is the embedded default and refused if it is behind."""
    engine = make_engine(settings.resolved_database_url)
    ensure_schema(engine, create_if_empty=settings.database_url is None)
    return engine


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
