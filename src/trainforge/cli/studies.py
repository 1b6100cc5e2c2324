"""``trainforge studies``: hyperparameter optimisation studies over the HTTP API (auth and errors as
``trainforge jobs``; the routes are ``/ai/training/optimize``, see docs/hpo.md)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, get_args

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from trainforge.cli.client import ApiClient, configure, connect
from trainforge.cli.context import console, errors
from trainforge.cli.jobs import job_body
from trainforge.cli.listing import list_command, page_title, print_page
from trainforge.cli.options import (
    DEFAULT_API_URL,
    JOB_STATUSES,
    ApiUrlOption,
    ConfigFileOption,
    EndOption,
    FeatureSetOption,
    HorizonOption,
    Output,
    OutputOption,
    PageOption,
    PageSizeOption,
    PriorityOption,
    StartOption,
    TargetOption,
    TenantOption,
)
from trainforge.cli.progress import TERMINAL_STATUSES, JobView, print_outcome
from trainforge.pipeline.config import OptimizationStrategy, PrunerName

app = typer.Typer(
    help="Start, follow, inspect and cancel hyperparameter optimisation studies (talks to `trainforge serve`).",
    no_args_is_help=True,
)
app.callback()(configure)  # --api-key and --home, as for `trainforge jobs`
OPTIMIZE = "/ai/training/optimize"
SPACE_EXAMPLE = """'learning_rate={"type":"float","low":0.01,"high":0.3,"log":true}'"""


def _space_entry(text: str) -> tuple[str, Any]:
    # Unlike a job's --param, the value must be JSON: a search-space entry is a range object or a number, so a
    # value that is not JSON is a quoting mistake, better named here than sent on as a string.
    name, sep, raw = text.partition("=")
    if not sep or not name:
        raise typer.BadParameter(f"{text!r}: write NAME=JSON, e.g. {SPACE_EXAMPLE} or max_bin=63", param_hint="--param")
    try:
        return name, json.loads(raw)
    except json.JSONDecodeError as error:
        raise typer.BadParameter(
            f"{name}: {raw!r} is not JSON ({error.msg}). Quote the whole option for the shell, e.g. {SPACE_EXAMPLE}",
            param_hint="--param",
        ) from None


def search_space(params: list[str] | None, space_file: Path | None) -> dict[str, Any] | None:
    """The study's search space: the JSON object of ``space_file``, then each ``NAME=JSON`` of ``params`` (which
    replaces the file's entry of the same name). None when neither is given: the family's default space."""
    if not params and space_file is None:
        return None
    space: dict[str, Any] = {}
    if space_file is not None:
        try:
            loaded = json.loads(space_file.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise typer.BadParameter(f"{space_file}: {error}", param_hint="--space-file") from None
        if not isinstance(loaded, dict):
            raise typer.BadParameter(
                f"{space_file}: must hold a JSON object of name -> range or number", param_hint="--space-file"
            )
        space.update(loaded)
    space.update(_space_entry(text) for text in params or [])
    return space


def study_body(
    tenant: str,
    study_name: str,
    feature_set: str,
    *,
    model_type: str,
    model_name: str | None,
    target: str,
    horizon: int,
    start: str | None,
    end: str | None,
    config_file: Path | None,
    space: dict[str, Any] | None,
    strategy: str,
    pruner: str,
    n_trials: int,
    parallel: int,
    timeout: float | None,
    seed: int | None,
    priority: str,
) -> dict[str, Any]:
    """The body of ``POST /ai/training/optimize/start`` from CLI options."""
    # The data window, target and priority are read as `jobs submit` reads them.
    job = job_body(
        tenant,
        model_name or study_name,
        feature_set,
        target=target,
        horizon=horizon,
        priority=priority,
        params=None,
        config_file=config_file,
        start=start,
        end=end,
    )
    body: dict[str, Any] = {
        "tenant_id": tenant,
        "study_name": study_name,
        "model_type": model_type,
        "feature_set": feature_set,
        "model_name": model_name,
        "config": job["config"],
        "search_space": space,
        "optimization_strategy": strategy,
        "pruner": pruner,
        "n_trials": n_trials,
        "parallel_jobs": parallel,
        "timeout_seconds": timeout,
        "seed": seed,
        "priority": job["priority"],
    }
    # Left out rather than null: the server's defaults (model name = study name, the family's space) apply.
    return {key: value for key, value in body.items() if value is not None}


def _finished(study: dict) -> int:
    # A study runs until n_trials are finished: complete or pruned (failed trials are retried).
    return study["n_trials_completed"] + study["n_trials_pruned"]


def _best_so_far(study: dict) -> str:
    best = study["best_trial"]
    text = "no trial complete yet" if best is None else f"best MAE {_number(best['value'])} (trial {best['trial_id']})"
    if study["n_trials_failed"]:
        text += f", {study['n_trials_failed']} failed"
    if study["status"] == "running" and _finished(study) >= study["n_trials_total"]:
        text += ", fitting the best trial"
    return text


def follow_study(poll: Callable[[], dict], *, interval: float = 1.0) -> dict:
    """Show a progress bar over the study's finished trials until its job ends; return the study's last state."""
    columns = (
        SpinnerColumn(),
        TextColumn("[bold]{task.fields[status]:<9}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("trials  {task.description}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("", total=None, status="queued")
        while True:
            study = poll()
            bar.update(
                task,
                completed=_finished(study),
                total=study["n_trials_total"],
                status=study["status"],
                description=escape(_best_so_far(study)),
            )
            if study["status"] in TERMINAL_STATUSES:
                return study
            time.sleep(interval)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:,.3f}"


def _value(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else json.dumps(value)


def _params(params: dict[str, Any]) -> str:
    return ", ".join(f"{name}={_value(value)}" for name, value in params.items())


def best_trial_table(best: dict) -> Table:
    """The best trial's scores and hyperparameters, one row each."""
    table = Table(title=f"Best trial: #{best['trial_id']}")
    table.add_column("")
    table.add_column("value", justify="right")
    table.add_row("validation MAE", _number(best["value"]))
    table.add_row("validation RMSE", _number(best["rmse"]))
    for name, value in best["params"].items():
        table.add_row(escape(name), escape(_value(value)))
    return table


def _finish(api: ApiClient, study: dict) -> None:
    """After following a study: its best trial, then its job's test metrics and model_id (or why it ended)."""
    if study["best_trial"]:
        console.print(best_trial_table(study["best_trial"]))
    print_outcome(JobView.of(api.get(study["job_url"])), console)
    if study["status"] != "completed":
        raise typer.Exit(1)


def _follow(api: ApiClient, study_id: str) -> None:
    try:
        study = follow_study(lambda: api.get(f"{OPTIMIZE}/{study_id}"))
    except KeyboardInterrupt:
        errors.print(
            f"stopped following; the study goes on. `trainforge studies watch {study_id}` follows it again, "
            f"`trainforge studies cancel {study_id}` stops it."
        )
        raise typer.Exit(130) from None
    _finish(api, study)


@app.command("start")
def start(
    tenant: TenantOption,
    study_name: Annotated[str, typer.Option("--name", help="Study name, unique within the tenant.")],
    feature_set: FeatureSetOption,
    model_type: Annotated[str, typer.Option("--model-type", help="Model family.")] = "forecast",
    model_name: Annotated[
        str | None, typer.Option("--model-name", help="Registered model name of the best fit. Default: the study's.")
    ] = None,
    target: TargetOption = "load_kw",
    horizon: HorizonOption = 24,
    start_date: StartOption = None,
    end_date: EndOption = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            help="Search-space entry NAME=JSON: a range such as "
            f"{SPACE_EXAMPLE}, or a number that fixes the parameter (repeatable; replaces the --space-file entry).",
        ),
    ] = None,
    space_file: Annotated[
        Path | None, typer.Option("--space-file", exists=True, dir_okay=False, help="JSON object: the search space.")
    ] = None,
    config_file: ConfigFileOption = None,
    strategy: Annotated[
        str, typer.Option("--strategy", help=f"Optuna sampler: {', '.join(get_args(OptimizationStrategy))}.")
    ] = "tpe",
    pruner: Annotated[
        str, typer.Option("--pruner", help=f"Stops unpromising trials early: {', '.join(get_args(PrunerName))}.")
    ] = "median",
    n_trials: Annotated[int, typer.Option("--n-trials", help="Trials to finish (complete or pruned).")] = 50,
    parallel: Annotated[int, typer.Option("--parallel", help="Trials at the same time.")] = 2,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="End the study this many seconds after it starts.")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Sampler seed, for a reproducible study.")] = None,
    priority: PriorityOption = "normal",
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow the trials with a progress bar, then show the best one.")
    ] = False,
    url: ApiUrlOption = DEFAULT_API_URL,
) -> None:
    """Queue a study: N trials over a search space, then a fit of the best trial, registered as a model.

    Without --param or --space-file the family's default space is searched (docs/hpo.md)."""
    body = study_body(
        tenant,
        study_name,
        feature_set,
        model_type=model_type,
        model_name=model_name,
        target=target,
        horizon=horizon,
        start=start_date,
        end=end_date,
        config_file=config_file,
        space=search_space(param, space_file),
        strategy=strategy,
        pruner=pruner,
        n_trials=n_trials,
        parallel=parallel,
        timeout=timeout,
        seed=seed,
        priority=priority,
    )
    api = connect(url)
    accepted = api.call("POST", f"{OPTIMIZE}/start", json=body)
    console.print(
        f"queued study [bold]{accepted['study_id']}[/] ({escape(accepted['study_name'])}, "
        f"{accepted['n_trials']} trials) as job {accepted['job_id']}"
    )
    if wait:
        _follow(api, accepted["study_id"])


@app.command("watch")
def watch(study_id: str, url: ApiUrlOption = DEFAULT_API_URL) -> None:
    """Follow a study with a progress bar until it ends, then show its best trial."""
    _follow(connect(url), study_id)


@app.command("show")
def show(
    study_id: str,
    as_json: Annotated[bool, typer.Option("--json", help="The whole study as JSON (with its search space).")] = False,
    url: ApiUrlOption = DEFAULT_API_URL,
) -> None:
    """Show a study: status, trial counts and the best trial so far."""
    study = connect(url).get(f"{OPTIMIZE}/{study_id}")
    if as_json:
        console.print_json(data=study)
        return
    summary = Table(title=f"Study {escape(study['study_name'])}", show_header=False)
    summary.add_column(style="bold")
    summary.add_column()
    timeout = study["timeout_seconds"]
    rows = {
        "study_id": study["study_id"],
        "tenant": study["tenant_id"],
        "status": study["status"],
        "model": f"{study['model_type']} -> {study['model_name']}",
        "feature set": study["feature_set"],
        "strategy": study["optimization_strategy"],
        "pruner": study["pruner"],
        "trials": f"{_finished(study)} of {study['n_trials_total']} finished ({study['n_trials_completed']} "
        f"complete, {study['n_trials_pruned']} pruned), {study['n_trials_failed']} failed",
        "parallel": str(study["parallel_jobs"]),
        "timeout": "none" if timeout is None else f"{timeout:g} s",
        "seed": "none" if study["seed"] is None else str(study["seed"]),
        "job_id": study["job_id"],
        "model_id": study["model_id"] or "-",
        "created": study["created_at"][:19],
        "completed": (study["completed_at"] or "-")[:19],
    }
    if study["error_message"]:
        rows["error"] = study["error_message"]
    for name, value in rows.items():
        summary.add_row(name, escape(value))
    console.print(summary)
    if study["best_trial"]:
        console.print(best_trial_table(study["best_trial"]))
    else:
        console.print("no trial complete yet")


def trials_table(body: dict, state: str | None = None) -> Table:
    shown = len(body["trials"])
    first = (body["page"] - 1) * body["page_size"]
    where = f"{first + 1}-{first + shown} of {body['total']}" if shown else f"none of {body['total']}"
    table = Table(title=f"Trials {where}" + (f" ({state})" if state else ""))
    for column, justify in (("trial", "right"), ("state", "left"), ("MAE", "right"), ("RMSE", "right")):
        table.add_column(column, justify=justify)
    table.add_column("seconds", justify="right")
    table.add_column("params")
    table.add_column("error")
    for trial in body["trials"]:
        seconds = trial["duration_seconds"]
        table.add_row(
            str(trial["trial_id"]),
            trial["state"],
            _number(trial["value"]),
            _number(trial["rmse"]),
            "-" if seconds is None else f"{seconds:,.1f}",
            escape(_params(trial["params"])),
            escape(trial["error"] or ""),
        )
    return table


@app.command("trials")
def trials(
    study_id: str,
    state: Annotated[
        str | None, typer.Option("--state", help="Only trials in this state: running, complete, pruned or fail.")
    ] = None,
    page: PageOption = 1,
    page_size: PageSizeOption = 20,
    output: OutputOption = Output.TABLE,
    url: ApiUrlOption = DEFAULT_API_URL,
) -> None:
    """List a study's trials in trial order, one page at a time."""
    state = state.upper() if state else None  # the API takes Optuna's names (COMPLETE, ...); any case will do here
    body = connect(url).get(f"{OPTIMIZE}/{study_id}/trials", state=state, page=page, page_size=page_size)
    print_page(body, output, lambda page_body: trials_table(page_body, state))


def studies_table(body: dict) -> Table:
    table = Table(title=page_title("Studies", body))
    for column in ("study_id", "tenant", "name", "status", "strategy", "trials", "best MAE", "created", "model_id"):
        table.add_column(column, justify="right" if column in ("trials", "best MAE") else "left")
    for study in body["studies"]:
        best = study["best_trial"]
        table.add_row(
            study["study_id"],
            study["tenant_id"],
            escape(study["study_name"]),
            study["status"],
            study["optimization_strategy"],
            f"{_finished(study)}/{study['n_trials_total']}",
            _number(best["value"]) if best else "",
            study["created_at"][:19],
            study["model_id"] or "",
        )
    return table


list_command(app, OPTIMIZE, studies_table, noun="studies", statuses=JOB_STATUSES, order="newest first")


@app.command("cancel")
def cancel(study_id: str, url: ApiUrlOption = DEFAULT_API_URL) -> None:
    """Cancel a queued or running study (its finished trials stay)."""
    body = connect(url).call("POST", f"{OPTIMIZE}/{study_id}/cancel")
    console.print(f"{body['message']}: study {body['study_id']} is {body['status']}")
