"""``trainforge schedules``: recurring training over the HTTP API (auth and errors as ``trainforge jobs``)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from trainforge.cli.client import configure, connect
from trainforge.cli.context import console
from trainforge.cli.jobs import job_body
from trainforge.cli.listing import list_command, page_title
from trainforge.cli.options import (
    DEFAULT_API_URL,
    ApiUrlOption,
    ConfigFileOption,
    FeatureSetOption,
    HorizonOption,
    HyperparamOption,
    ModelNameOption,
    PriorityOption,
    TargetOption,
    TenantOption,
)

app = typer.Typer(
    help="Create and control recurring training schedules (talks to `trainforge serve`).", no_args_is_help=True
)
app.callback()(configure)  # --api-key and --home, as for `trainforge jobs`
SCHEDULES = "/ai/training/schedules"


@app.command("create")
def create(
    tenant: TenantOption,
    name: Annotated[str, typer.Option("--name", help="Schedule name, unique within the tenant.")],
    cron: Annotated[str, typer.Option("--cron", help="'0 3 * * *', '@daily', '@weekly', '@hourly', …")],
    model_name: ModelNameOption,
    feature_set: FeatureSetOption,
    timezone: Annotated[str, typer.Option("--timezone", help="IANA time zone of the cron.")] = "UTC",
    target: TargetOption = "load_kw",
    horizon: HorizonOption = 24,
    priority: PriorityOption = "normal",
    param: HyperparamOption = None,
    config_file: ConfigFileOption = None,
    url: ApiUrlOption = DEFAULT_API_URL,
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
    created = connect(url).call("POST", SCHEDULES, json=body)
    console.print(f"created schedule [bold]{created['schedule_id']}[/], next run at {created['next_run_at']}")


def schedules_table(body: dict) -> Table:
    table = Table(title=page_title("Schedules", body))
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
    return table


list_command(app, SCHEDULES, schedules_table, noun="schedules", statuses="active, paused", order="oldest first")


@app.command("get")
def get(schedule_id: str, url: ApiUrlOption = DEFAULT_API_URL) -> None:
    """Show one schedule, with the job it queues."""
    console.print_json(data=connect(url).call("GET", f"{SCHEDULES}/{schedule_id}"))


@app.command("pause")
def pause(schedule_id: str, url: ApiUrlOption = DEFAULT_API_URL) -> None:
    """Stop queueing jobs until resumed."""
    body = connect(url).call("POST", f"{SCHEDULES}/{schedule_id}/pause")
    console.print(f"schedule {body['schedule_id']} is {body['status']}")


@app.command("resume")
def resume(schedule_id: str, url: ApiUrlOption = DEFAULT_API_URL) -> None:
    """Queue jobs again from the next due time."""
    body = connect(url).call("POST", f"{SCHEDULES}/{schedule_id}/resume")
    console.print(f"schedule {body['schedule_id']} is {body['status']}, next run at {body['next_run_at']}")


@app.command("delete")
def delete(schedule_id: str, url: ApiUrlOption = DEFAULT_API_URL) -> None:
    """Delete a schedule (the jobs it queued stay)."""
    console.print(connect(url).call("DELETE", f"{SCHEDULES}/{schedule_id}")["message"])
