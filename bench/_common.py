"""What the benchmarks share: the real EIA-930 data and table printing (servers: ``trainforge.testing``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from trainforge.features.store import ParquetFeatureStore
from trainforge.settings import load_settings

REPO = Path(__file__).resolve().parents[1]


def main_checkout(checkout: Path) -> Path:
    """The repository's main working tree: ``checkout`` itself, or, for a linked git worktree (whose ``.git`` is a
    file ``gitdir: <main>/.git/worktrees/<name>``), the main one it was added to."""
    dot_git = checkout / ".git"
    if not dot_git.is_file():
        return checkout
    gitdir = Path(dot_git.read_text().removeprefix("gitdir:").strip())
    common = gitdir / (gitdir / "commondir").read_text().strip() if (gitdir / "commondir").exists() else gitdir
    return common.resolve().parent


# The shared data lies beside the repository (../shared/data); tests read it through the same name.
SHARED_DATA = main_checkout(REPO).parent / "shared/data"
EIA_FILE = Path(
    os.environ.get(
        "TRAINFORGE_BENCH_EIA",
        SHARED_DATA / "load/eia930_subregions/eia930_subregion_hourly_demand_2020_2024.parquet",
    )
)
console = Console(stderr=True)


def eia_regions(n_regions: int) -> pd.DataFrame:
    """The first ``n_regions`` sub-regions (sorted by id) of the real EIA-930 hourly demand, all of 2020-2024."""
    if not EIA_FILE.exists():
        raise SystemExit(f"the EIA-930 data is not at {EIA_FILE}; set TRAINFORGE_BENCH_EIA")
    frame = pd.read_parquet(EIA_FILE, columns=["timestamp_utc", "region", "cleaned_demand_mw"])
    regions = sorted(frame["region"].astype(str).unique())[:n_regions]
    frame = frame[frame["region"].astype(str).isin(regions)].copy()
    frame["region"] = frame["region"].astype(str)
    frame["cleaned_demand_mw"] = frame["cleaned_demand_mw"].astype("float64")
    return frame.reset_index(drop=True)


def bench_home(tmp: str) -> tuple[Path, ParquetFeatureStore]:
    """A fresh trainforge home under ``tmp`` (for ``trainforge_server``) and its feature store."""
    home = Path(tmp) / "home"
    settings = load_settings(home=home)
    settings.ensure_home()
    return home, ParquetFeatureStore(settings.resolved_feature_store_root)


def print_table(title: str, columns: list[str], rows: list[list[Any]], *, width: int | None = None) -> None:
    """Print a Rich table to stdout; ``width`` overrides the terminal's (80 columns when stdout is a file)."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="left" if column == columns[0] else "right")
    for row in rows:
        table.add_row(*[f"{v:,.2f}" if isinstance(v, float) else str(v) for v in row])
    Console(width=width).print(table)
