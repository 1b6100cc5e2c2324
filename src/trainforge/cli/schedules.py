"""``trainforge schedules``: recurring training over the HTTP API (auth and errors as ``trainforge jobs``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from trainforge.cli.context import console
from trainforge.cli.jobs import DEFAULT_URL, UrlOption, _call, _options, job_body

app = typer.Typer(
    help="Create and control recurring training schedules (talks to `trainforge serve`).", no_args_is_help=True
)
app.callback()(_options)  # the same --api-key/--home handling as `trainforge jobs`
SCHEDULES = "/ai/training/schedules"


@app.command("create")
def create(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant id.")],
    name: Annotated[str, typer.Option("--name", help="Schedule name, unique within the tenant.")],
    cron: Annotated[str, typer.Option("--cron", help="'0 3 * * *', '@daily', '@weekly', '@hourly', …")],
    model_name: Annotated[str, typer.Option("--model-name", help="Registered model name.")],
    feature_set: Annotated[str, typer.Option("--feature-set", help="Feature set to train on.")],
    timezone: Annotated[str, typer.Option("--timezone", help="IANA time zone of the cron.")] = "UTC",
    target: Annotated[str, typer.Option("--target", help="Column to forecast.")] = "load_kw",
    horizon: Annotated[int, typer.Option("--horizon", help="Steps ahead.")] = 24,
    priority: Annotated[str, typer.Option("--priority", help="low, normal, high, urgent or an integer.")] = "normal",
    param: Annotated[list[str] | None, typer.Option("--param", help="Hyperparameter NAME=VALUE (repeatable).")] = None,
    config_file: Annotated[
        Path | None, typer.Option("--config-file", exists=True, help="JSON with the full `config` object.")
    ] = None,
    url: UrlOption = DEFAULT_URL,
) -> None:
    """Train a forecast model at every due time of a cron schedule."""
    job = job_body(
        tenant,
        model_name,
        feature_set,
        target=target,
        horizon=horizon,
        priority=priority,
        params=param,
        config_file=config_file,
    )
    body = {"tenant_id": tenant, "name": name, "cron": cron, "timezone": timezone, "job": job}
    created = _call(url, "POST", SCHEDULES, json=body)
    console.print(f"created schedule [bold]{created['schedule_id']}[/], next run at {created['next_run_at']}")


@app.command("list")
def list_(
    tenant: Annotated[str | None, typer.Option("--tenant")] = None,
    status: Annotated[str | None, typer.Option("--status", help="active or paused")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 20,
    page: Annotated[int, typer.Option("--page")] = 1,
    url: UrlOption = DEFAULT_URL,
) -> None:
    """List schedules, oldest first."""
    params = {k: v for k, v in {"tenant_id": tenant, "status": status, "limit": limit, "page": page}.items() if v}
    body = _call(url, "GET", SCHEDULES, params=params)
    table = Table(title=f"Schedules (page {body['page']}, {body['total']} in all)")
    for column in ("schedule_id", "tenant", "name", "cron", "timezone", "status", "next run (UTC)", "last job"):
        table.add_column(column)
    for schedule in body["schedules"]:
        table.add_row(
            schedule["schedule_id"],
            schedule["tenant_id"],
            schedule["name"],
            schedule["cron"],
            schedule["timezone"],
            schedule["status"],
            (schedule["next_run_at"] or "")[:19],
            schedule["last_job_id"] or "",
        )
    console.print(table)


@app.command("get")
def get(schedule_id: str, url: UrlOption = DEFAULT_URL) -> None:
    """Show one schedule, with the job it queues."""
    console.print_json(data=_call(url, "GET", f"{SCHEDULES}/{schedule_id}"))


@app.command("pause")
def pause(schedule_id: str, url: UrlOption = DEFAULT_URL) -> None:
    """Stop queueing jobs until resumed."""
    body = _call(url, "POST", f"{SCHEDULES}/{schedule_id}/pause")
    console.print(f"schedule {body['schedule_id']} is {body['status']}")


@app.command("resume")
def resume(schedule_id: str, url: UrlOption = DEFAULT_URL) -> None:
    """Queue jobs again from the next due time."""
    body = _call(url, "POST", f"{SCHEDULES}/{schedule_id}/resume")
    console.print(f"schedule {body['schedule_id']} is {body['status']}, next run at {body['next_run_at']}")


@app.command("delete")
def delete(schedule_id: str, url: UrlOption = DEFAULT_URL) -> None:
    """Delete a schedule (the jobs it queued stay)."""
    console.print(_call(url, "DELETE", f"{SCHEDULES}/{schedule_id}")["message"])
