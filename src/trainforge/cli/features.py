"""``trainforge features``: bring data into the Parquet feature store and see what is there."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import RenderableType
from rich.table import Table

from trainforge.cli.context import console, settings_for
from trainforge.cli.listing import as_json, print_page
from trainforge.cli.options import HomeOption, Output, OutputOption
from trainforge.features.info import FeatureSetInfo
from trainforge.features.store import ParquetFeatureStore

app = typer.Typer(help="Import and list feature sets.", no_args_is_help=True)


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV or Parquet file.")],
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant that owns the feature set.")],
    feature_set: Annotated[str, typer.Option("--feature-set", help="Name of the feature set.")],
    timestamp_col: Annotated[str, typer.Option("--timestamp-col", help="Column with the timestamps.")],
    series_col: Annotated[str, typer.Option("--series-col", help="Column that identifies each series.")],
    append: Annotated[bool, typer.Option("--append", help="Add rows instead of replacing the set.")] = False,
    home: HomeOption = None,
) -> None:
    """Import a file as a feature set; every other column is a target or covariate."""
    settings = settings_for(home)
    store = ParquetFeatureStore(settings.resolved_feature_store_root)
    with console.status(f"importing {file} ..."):
        info = store.import_file(
            tenant, feature_set, file, timestamp_col=timestamp_col, series_col=series_col, append=append
        )
    console.print(
        f"[green]imported[/] {info.tenant_id}/{info.feature_set}: {info.row_count:,} rows, "
        f"{info.series_count} series, {info.start} .. {info.end} ({info.frequency})"
    )


@app.command("list")
def list_command(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant's feature sets.")] = None,
    output: OutputOption = Output.TABLE,
    home: HomeOption = None,
) -> None:
    """List feature sets with their row counts and time ranges."""
    settings = settings_for(home)
    infos = ParquetFeatureStore(settings.resolved_feature_store_root).list(tenant)
    body = {"feature_sets": [as_json(info) for info in infos], "total": len(infos)}
    print_page(body, output, lambda _body: _feature_sets_table(infos, settings.resolved_feature_store_root))


def _feature_sets_table(infos: list[FeatureSetInfo], root: Path) -> RenderableType:
    table = Table(title=f"Feature sets in {root}")
    for column in ("tenant", "feature set", "rows", "series", "from", "to", "freq", "columns"):
        table.add_column(column, justify="right" if column in ("rows", "series") else "left")
    for info in infos:
        table.add_row(
            info.tenant_id,
            info.feature_set,
            f"{info.row_count:,}",
            str(info.series_count),
            str(info.start),
            str(info.end),
            str(info.frequency),
            ", ".join(info.columns),
        )
    return table if infos else "no feature sets yet: see `trainforge features import --help`"
