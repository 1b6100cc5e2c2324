"""``trainforge jobs``: submit and follow training jobs over the HTTP API."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from trainforge.cli.client import ApiClient, configure, connect
from trainforge.cli.context import console, errors
from trainforge.cli.listing import list_command, page_title
from trainforge.cli.options import (
    DEFAULT_API_URL,
    JOB_STATUSES,
    ApiUrlOption,
    ConfigFileOption,
    EndOption,
    FeatureSetOption,
    HorizonOption,
    HyperparamOption,
    ModelNameOption,
    PriorityOption,
    StartOption,
    TargetOption,
    TenantOption,
)
from trainforge.cli.progress import TERMINAL_STATUSES, JobView, follow_job, print_outcome

app = typer.Typer(help="Submit, inspect and control training jobs (talks to `trainforge serve`).", no_args_is_help=True)
app.callback()(configure)
JOBS = "/ai/training/jobs"


def _parse_param(text: str) -> tuple[str, Any]:
    name, sep, raw = text.partition("=")
    if not sep:
        raise typer.BadParameter(f"{text!r}: write NAME=VALUE", param_hint="--param")
    try:
        return name, json.loads(raw)
    except json.JSONDecodeError:
        return name, raw


def job_body(
    tenant: str,
    model_name: str,
    feature_set: str,
    *,
    target: str,
    horizon: int,
    priority: str,
    params: list[str] | None,
    config_file: Path | None,
    start: str | None = None,
    end: str | None = None,
) -> dict[str, Any]:
    """The body of a forecast job request from CLI options (``jobs submit`` and ``schedules create``)."""
    config: dict[str, Any] = json.loads(config_file.read_text()) if config_file else {}
    config.setdefault("target_variable", target)
    config.setdefault("horizon", horizon)
    if start:
        config["start_date"] = start
    if end:
        config["end_date"] = end
    if params:
        config["hyperparams"] = {**config.get("hyperparams", {}), **dict(_parse_param(p) for p in params)}
    return {
        "tenant_id": tenant,
        "model_type": "forecast",
        "model_name": model_name,
        "feature_set": feature_set,
        "config": config,
        "priority": int(priority) if priority.lstrip("-").isdigit() else priority,
    }


def _poll(api: ApiClient, job_id: str) -> JobView:
    return JobView.of(api.get(f"{JOBS}/{job_id}"))


@app.command("submit")
def submit(
    tenant: TenantOption,
    model_name: ModelNameOption,
    feature_set: FeatureSetOption,
    target: TargetOption = "load_kw",
    horizon: HorizonOption = 24,
    start: StartOption = None,
    end: EndOption = None,
    priority: PriorityOption = "normal",
    param: HyperparamOption = None,
    config_file: ConfigFileOption = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the job with a progress bar until it ends.")] = False,
    url: ApiUrlOption = DEFAULT_API_URL,
) -> None:
    """Submit a forecast training job."""
    body = job_body(
        tenant,
        model_name,
        feature_set,
        target=target,
        horizon=horizon,
        priority=priority,
        params=param,
        config_file=config_file,
        start=start,
        end=end,
    )
    api = connect(url)
    accepted = api.call("POST", f"{JOBS}/start", json=body)
    console.print(f"queued job [bold]{accepted['job_id']}[/]")
    if wait:
        print_outcome(follow_job(lambda: _poll(api, accepted["job_id"]), console), console)


@app.command("get")
def get(job_id: str, url: ApiUrlOption = DEFAULT_API_URL) -> None:
    """Show one job."""
    console.print_json(data=connect(url).get(f"{JOBS}/{job_id}"))


@app.command("watch")
def watch(job_id: str, url: ApiUrlOption = DEFAULT_API_URL) -> None:
    """Follow a job with a progress bar until it ends."""
    api = connect(url)
    print_outcome(follow_job(lambda: _poll(api, job_id), console), console)


def jobs_table(body: dict) -> Table:
    table = Table(title=page_title("Jobs", body))
    for column in ("job_id", "tenant", "model", "status", "progress", "created", "MAE", "model_id"):
        table.add_column(column)
    for job in body["jobs"]:
        mae = (job.get("metrics") or {}).get("mae")
        table.add_row(
            job["job_id"],
            job["tenant_id"],
            job["model_name"],
            job["status"],
            f"{job['progress']:.0%}",
            job["created_at"][:19],
            f"{mae:,.3f}" if mae is not None else "",
            job.get("model_id") or "",
        )
    return table


list_command(app, JOBS, jobs_table, noun="jobs", statuses=JOB_STATUSES, order="newest first")


def _print_line(line: dict) -> None:
    # Plain text, not Rich markup: a log line may hold brackets, and is meant to be piped and grepped.
    console.print(
        f"{line['timestamp'][:19]} {line['level']:<7} {line['step'] or '-':<9} {line['message']}",
        markup=False,
        highlight=False,
    )


def follow_logs(api: ApiClient, job_id: str, *, tail: int | None, interval: float = 1.0) -> str:
    """Print the job's log (its last ``tail`` lines first, if given), then each new line as it is written, until
    the job ends; return its final status.

    The status is read before the lines: once it is final, the lines read after it include the job's last ones.
    """
    after = 0
    while True:
        status = api.get(f"{JOBS}/{job_id}")["status"]
        lines = api.get(f"{JOBS}/{job_id}/logs", tail=tail if after == 0 else None, since=after)["logs"]
        for line in lines:
            _print_line(line)
            after = line["log_id"]
        if status in TERMINAL_STATUSES:
            return status
        time.sleep(interval)


@app.command("logs")
def logs(
    job_id: str,
    tail: Annotated[int | None, typer.Option("--tail", min=1, help="Only the last N lines.")] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines until the job ends (Ctrl-C stops).")
    ] = False,
    url: ApiUrlOption = DEFAULT_API_URL,
) -> None:
    """Print a job's log. With --follow, exit 0 if the job completed, 1 if it failed or was cancelled."""
    api = connect(url)
    if not follow:
        for line in api.get(f"{JOBS}/{job_id}/logs", tail=tail)["logs"]:
            _print_line(line)
        return
    try:
        status = follow_logs(api, job_id, tail=tail)
    except KeyboardInterrupt:
        errors.print(f"stopped following; the job goes on. `trainforge jobs logs {job_id} --follow` follows it again.")
        raise typer.Exit(130) from None
    errors.print(f"job {job_id} {status}")
    raise typer.Exit(0 if status == "completed" else 1)


@app.command("cancel")
def cancel(job_id: str, url: ApiUrlOption = DEFAULT_API_URL) -> None:
    """Cancel a queued or running job."""
    console.print(connect(url).call("DELETE", f"{JOBS}/{job_id}")["message"])


@app.command("retry")
def retry(job_id: str, url: ApiUrlOption = DEFAULT_API_URL) -> None:
    """Queue a failed job again."""
    body = connect(url).call("POST", f"{JOBS}/{job_id}/retry")
    console.print(f"job {body['job_id']} is {body['status']}")
