"""``trainforge jobs``: submit and follow training jobs over the HTTP API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table

from trainforge.cli.context import console, errors
from trainforge.cli.progress import JobView, follow_job, metrics_table
from trainforge.settings import load_settings
from trainforge.tenancy.local_key import read_local_key

app = typer.Typer(help="Submit, inspect and control training jobs (talks to `trainforge serve`).", no_args_is_help=True)
UrlOption = Annotated[str, typer.Option("--url", envvar="TRAINFORGE_URL", help="Base URL of the trainforge API.")]


@app.callback()
def _options(
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar="TRAINFORGE_API_KEY",
            help="API key. Default: the local admin key that `trainforge serve` keeps in its home.",
        ),
    ] = None,
    home: Annotated[Path | None, typer.Option("--home", envvar="TRAINFORGE_HOME", help="trainforge home.")] = None,
) -> None:
    _auth["key"] = api_key or read_local_key(load_settings(home=home))


_auth: dict[str, str | None] = {"key": None}
DEFAULT_URL = "http://127.0.0.1:8000"
JOBS = "/ai/training/jobs"


def _call(url: str, method: str, path: str, **kwargs: Any) -> dict:
    headers = {"Authorization": f"Bearer {_auth['key']}"} if _auth["key"] else {}
    try:
        response = httpx.request(method, url.rstrip("/") + path, timeout=30, headers=headers, **kwargs)
    except httpx.HTTPError as error:
        errors.print(f"[red]cannot reach {url}[/]: {error}. Is `trainforge serve` running?")
        raise typer.Exit(2) from None
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    if response.is_error:
        field = f" (field: {body['field']})" if body.get("field") else ""
        errors.print(f"[red]{response.status_code}[/] {body.get('message', response.text)}{field}")
        raise typer.Exit(1)
    return body


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


def _view(body: dict) -> JobView:
    return JobView(
        body["status"],
        body["progress"],
        body.get("current_step"),
        body.get("metrics"),
        body.get("model_id"),
        body.get("error_message"),
    )


def _report(view: JobView) -> None:
    if view.metrics:
        console.print(metrics_table(view.metrics))
    if view.status == "completed":
        console.print(f"[green]completed[/]: model_id [bold]{view.model_id}[/]")
    else:
        console.print(f"[red]{view.status}[/]: {view.error_message or ''}")


@app.command("submit")
def submit(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant id.")],
    model_name: Annotated[str, typer.Option("--model-name", help="Registered model name.")],
    feature_set: Annotated[str, typer.Option("--feature-set", help="Feature set to train on.")],
    target: Annotated[str, typer.Option("--target", help="Column to forecast.")] = "load_kw",
    horizon: Annotated[int, typer.Option("--horizon", help="Steps ahead.")] = 24,
    start: Annotated[str | None, typer.Option("--start", help="First timestamp (ISO 8601).")] = None,
    end: Annotated[str | None, typer.Option("--end", help="End timestamp, exclusive (ISO 8601).")] = None,
    priority: Annotated[str, typer.Option("--priority", help="low, normal, high, urgent or an integer.")] = "normal",
    param: Annotated[list[str] | None, typer.Option("--param", help="Hyperparameter NAME=VALUE (repeatable).")] = None,
    config_file: Annotated[
        Path | None, typer.Option("--config-file", exists=True, help="JSON with the full `config` object.")
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the job with a progress bar until it ends.")] = False,
    url: UrlOption = DEFAULT_URL,
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
    accepted = _call(url, "POST", f"{JOBS}/start", json=body)
    console.print(f"queued job [bold]{accepted['job_id']}[/]")
    if wait:
        _report(follow_job(lambda: _view(_call(url, "GET", f"{JOBS}/{accepted['job_id']}")), console))


@app.command("get")
def get(job_id: str, url: UrlOption = DEFAULT_URL) -> None:
    """Show one job."""
    console.print_json(data=_call(url, "GET", f"{JOBS}/{job_id}"))


@app.command("watch")
def watch(job_id: str, url: UrlOption = DEFAULT_URL) -> None:
    """Follow a job with a progress bar until it ends."""
    _report(follow_job(lambda: _view(_call(url, "GET", f"{JOBS}/{job_id}")), console))


@app.command("list")
def list_(
    tenant: Annotated[str | None, typer.Option("--tenant")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="queued, running, completed, failed, cancelled")
    ] = None,
    limit: Annotated[int, typer.Option("--limit")] = 20,
    page: Annotated[int, typer.Option("--page")] = 1,
    url: UrlOption = DEFAULT_URL,
) -> None:
    """List jobs, newest first."""
    params = {k: v for k, v in {"tenant_id": tenant, "status": status, "limit": limit, "page": page}.items() if v}
    body = _call(url, "GET", JOBS, params=params)
    table = Table(title=f"Jobs (page {body['page']}, {body['total']} in all)")
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
    console.print(table)


@app.command("logs")
def logs(
    job_id: str,
    tail: Annotated[int | None, typer.Option("--tail", help="Only the last N lines.")] = None,
    url: UrlOption = DEFAULT_URL,
) -> None:
    """Print a job's log."""
    body = _call(url, "GET", f"{JOBS}/{job_id}/logs", params={"tail": tail} if tail else None)
    for line in body["logs"]:
        console.print(
            f"{line['timestamp'][:19]} {line['level']:<7} {line['step'] or '-':<9} {line['message']}",
            markup=False,
            highlight=False,
        )


@app.command("cancel")
def cancel(job_id: str, url: UrlOption = DEFAULT_URL) -> None:
    """Cancel a queued or running job."""
    console.print(_call(url, "DELETE", f"{JOBS}/{job_id}")["message"])


@app.command("retry")
def retry(job_id: str, url: UrlOption = DEFAULT_URL) -> None:
    """Queue a failed job again."""
    body = _call(url, "POST", f"{JOBS}/{job_id}/retry")
    console.print(f"job {body['job_id']} is {body['status']}")
