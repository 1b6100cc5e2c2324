"""``trainforge keys``: create, list and revoke API keys (an operator's commands, run where the database is)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from trainforge.cli.context import console, open_database, settings_for
from trainforge.cli.listing import as_json, print_page
from trainforge.cli.options import HomeOption, Output, OutputOption
from trainforge.tenancy import ApiKey, KeyStore

app = typer.Typer(help="Manage API keys.", no_args_is_help=True)


@app.command("create")
def create(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant the key belongs to.")],
    admin: Annotated[bool, typer.Option("--admin", help="May act for every tenant.")] = False,
    name: Annotated[str, typer.Option("--name", help="A label to tell keys apart.")] = "default",
    home: HomeOption = None,
) -> None:
    """Create a key and print it. It is shown this once: only its hash is stored."""
    created = KeyStore(open_database(settings_for(home))).create(tenant, name=name, is_admin=admin)
    console.print(
        f"created {'admin ' if admin else ''}key [bold]{created.key.key_id}[/] for tenant {tenant!r} "
        "(store it now; it cannot be shown again):",
        highlight=False,
    )
    print(created.token)  # plain stdout, no Rich wrapping, so it can be piped


@app.command("list")
def list_(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant's keys.")] = None,
    output: OutputOption = Output.TABLE,
    home: HomeOption = None,
) -> None:
    """List keys (never their secrets)."""
    keys = KeyStore(open_database(settings_for(home))).list(tenant)
    body = {"keys": [as_json(key) for key in keys], "total": len(keys)}
    print_page(body, output, lambda _body: _keys_table(keys))


def _keys_table(keys: list[ApiKey]) -> Table:
    table = Table(title="API keys")
    for column in ("key_id", "tenant", "name", "admin", "created", "revoked"):
        table.add_column(column)
    for key in keys:
        table.add_row(
            key.key_id,
            key.tenant_id,
            key.name,
            "yes" if key.is_admin else "",
            key.created_at.isoformat(timespec="seconds"),
            key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else "",
        )
    return table


@app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (from `keys list`).")], home: HomeOption = None
) -> None:
    """Revoke a key; requests with it are refused (401) from now on."""
    key = KeyStore(open_database(settings_for(home))).revoke(key_id)
    console.print(f"revoked key {key.key_id} of tenant {key.tenant_id!r}")
