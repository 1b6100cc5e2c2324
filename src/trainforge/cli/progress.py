"""A live Rich progress bar for a training job, fed by any function that returns the job's current state."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

TERMINAL_STATUSES = {"completed", "failed", "cancelled"}


@dataclass
class JobView:
    """The parts of a job the CLI shows, whether read from the database or over HTTP."""

    status: str
    progress: float
    current_step: str | None
    metrics: dict | None
    model_id: str | None
    error_message: str | None

    @classmethod
    def of(cls, body: dict) -> JobView:
        """The view of a job as the API answers it (``GET /ai/training/jobs/{job_id}``)."""
        return cls(
            body["status"],
            body["progress"],
            body.get("current_step"),
            body.get("metrics"),
            body.get("model_id"),
            body.get("error_message"),
        )


def follow_job(poll: Callable[[], JobView], console: Console, *, interval: float = 0.5) -> JobView:
    """Show a progress bar until the job ends; return its final state."""
    columns = (
        SpinnerColumn(),
        TextColumn("[bold]{task.fields[status]:<9}[/] {task.fields[step]:<9}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("job", total=1.0, status="queued", step="")
        while True:
            view = poll()
            bar.update(task, completed=view.progress, status=view.status, step=view.current_step or "")
            if view.status in TERMINAL_STATUSES:
                return view
            time.sleep(interval)


def metrics_table(metrics: dict) -> Table:
    """Model against the seasonal-naive baseline, one row per metric."""
    table = Table(title="Test-split metrics")
    table.add_column("metric")
    table.add_column("model", justify="right")
    table.add_column("seasonal naive", justify="right")
    table.add_column("model / baseline", justify="right")
    for name in ("mae", "rmse", "mape", "smape", "mase"):
        if name not in metrics:
            continue
        model, baseline = metrics[name], metrics.get(f"baseline_{name}")
        ratio = f"{model / baseline:.2f}" if baseline else "-"
        table.add_row(name.upper(), f"{model:,.3f}", f"{baseline:,.3f}" if baseline is not None else "-", ratio)
    for name in sorted(key for key in metrics if key.startswith("coverage_")):
        level = name.removeprefix("coverage_")
        table.add_row(f"{level}% interval coverage", f"{100 * metrics[name]:.1f}%", "-", "-")
    return table


def print_outcome(view: JobView, console: Console) -> None:
    """How a job ended: its test metrics, then its model_id, or why it did not complete."""
    if view.metrics:
        console.print(metrics_table(view.metrics))
    if view.status == "completed":
        console.print(f"[green]completed[/]: model_id [bold]{view.model_id}[/]")
    else:
        console.print(f"[red]{view.status}[/]: {view.error_message or ''}")
