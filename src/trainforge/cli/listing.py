"""List commands: how they print a page (a Rich table, or the API's JSON) and the one definition of the
``list`` command of each kind of object that is listed by tenant and status (jobs, schedules, studies).

The local lists (``keys list``, ``features list``) read the database or the feature store rather than the API;
their ``--output json`` is ``{"keys" | "feature_sets": [...], "total": n}``, unpaged."""

# No `from __future__ import annotations`: Typer reads the option types of list_command's inner function, whose
# --status help is a closure variable that string annotations could not reach.

import dataclasses
import json
import math
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import RenderableType

from trainforge.cli.client import connect
from trainforge.cli.context import console
from trainforge.cli.options import (
    DEFAULT_API_URL,
    ApiUrlOption,
    Output,
    OutputOption,
    PageOption,
    PageSizeOption,
    TenantFilterOption,
)

Table = Callable[[dict], RenderableType]


def page_title(noun: str, body: dict) -> str:
    """``Jobs (page 2 of 3, 47 in all)``: where a page of a list is."""
    pages = max(1, math.ceil(body["total"] / body["page_size"]))
    return f"{noun} (page {body['page']} of {pages}, {body['total']} in all)"


def as_json(record: Any) -> dict[str, Any]:
    """A dataclass record as the API would write it: timestamps in ISO 8601, other values JSON as they are."""
    return json.loads(json.dumps(dataclasses.asdict(record), default=_json_value))


def _json_value(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def print_page(body: dict, output: Output, table: Table) -> None:
    """Print a page of a list: as ``table(body)`` renders it, or as the API's JSON (plain stdout, for pipes)."""
    if output is Output.JSON:
        typer.echo(json.dumps(body, indent=2))
    else:
        console.print(table(body))


def list_command(app: typer.Typer, path: str, table: Table, *, noun: str, statuses: str, order: str) -> None:
    """Add ``list`` to ``app``: a page of the ``noun`` of ``GET path``, filtered by ``--tenant`` and ``--status``
    (one of ``statuses``), printed by ``table`` or as JSON."""

    def list_(
        tenant: TenantFilterOption = None,
        status: Annotated[str | None, typer.Option("--status", help=f"Only this status: {statuses}.")] = None,
        page: PageOption = 1,
        page_size: PageSizeOption = 20,
        output: OutputOption = Output.TABLE,
        url: ApiUrlOption = DEFAULT_API_URL,
    ) -> None:
        body = connect(url).get(path, tenant_id=tenant, status=status, page=page, page_size=page_size)
        print_page(body, output, table)

    app.command("list", help=f"List {noun}, {order}, one page at a time.")(list_)
