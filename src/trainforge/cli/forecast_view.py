"""A forecast table on the terminal: one row per series and step, with the quantiles asked for."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rich.table import Table

__all__ = ["forecast_table"]


def forecast_table(rows: Iterable[Mapping[str, Any]], *, title: str = "Forecast") -> Table:
    """Render forecast rows (``series_id``, ``timestamp``, ``step``, ``value`` and optionally ``quantiles``, a
    mapping of quantile → value, as the predict API answers) as a Rich table."""
    rows = list(rows)
    quantiles = sorted({q for row in rows for q in (row.get("quantiles") or {})}, key=float)
    table = Table(title=title)
    for column in ("series", "timestamp", "step", "forecast"):
        table.add_column(column, justify="left" if column in ("series", "timestamp") else "right")
    for quantile in quantiles:
        table.add_column(f"q{quantile}", justify="right")
    for row in rows:
        bands = row.get("quantiles") or {}
        table.add_row(
            str(row["series_id"]),
            str(row["timestamp"]),
            str(row["step"]),
            f"{row['value']:,.2f}",
            *(f"{bands[q]:,.2f}" if q in bands else "-" for q in quantiles),
        )
    return table
