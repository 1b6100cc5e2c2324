"""``trainforge db``: the metadata database's schema."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trainforge.cli.context import console, settings_for
from trainforge.db.engine import make_engine
from trainforge.db.migrate import current_revision, head_revision, upgrade

app = typer.Typer(help="Manage the metadata database's schema.", no_args_is_help=True)
HomeOption = Annotated[Path | None, typer.Option("--home", envvar="TRAINFORGE_HOME", help="trainforge home.")]


@app.command("upgrade")
def upgrade_command(home: HomeOption = None) -> None:
    """Apply every pending migration (TRAINFORGE_DATABASE_URL, or the embedded SQLite file)."""
    settings = settings_for(home)
    engine = make_engine(settings.resolved_database_url)
    before = current_revision(engine)
    upgrade(engine)
    after = current_revision(engine)
    where = engine.url.render_as_string(hide_password=True)
    console.print(f"{where}: {before or 'empty'} -> {after}" if before != after else f"{where}: already at {after}")


@app.command("status")
def status_command(home: HomeOption = None) -> None:
    """Show the database's revision and the code's."""
    settings = settings_for(home)
    engine = make_engine(settings.resolved_database_url)
    console.print(f"database: {current_revision(engine) or 'empty'}\ncode:     {head_revision()}")
