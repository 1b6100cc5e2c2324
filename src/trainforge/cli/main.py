"""The ``trainforge`` command."""

from __future__ import annotations

import os

# A self-hosted service does not phone home: MLflow 3 and Ray decide on usage telemetry when first imported, so
# this must come before anything imports them.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import signal
import threading
from importlib.metadata import version
from typing import Annotated

import typer

from trainforge.cli import db, features, jobs, keys, models, studies
from trainforge.cli import schedules as schedules_cli
from trainforge.cli.context import configure_logging, console, errors, open_database, settings_for
from trainforge.cli.options import HomeOption, VerboseOption
from trainforge.errors import TrainforgeError

app = typer.Typer(
    help="trainforge: train, tune, version and promote time-series models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"trainforge {version('trainforge')}")
        raise typer.Exit()


@app.callback()
def _options(
    _version: Annotated[
        bool | None,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = None,
) -> None:
    """trainforge: train, tune, version and promote time-series models."""


app.add_typer(db.app, name="db")
app.add_typer(features.app, name="features")
app.add_typer(jobs.app, name="jobs")
app.add_typer(keys.app, name="keys")
app.add_typer(models.app, name="models")
app.add_typer(schedules_cli.app, name="schedules")
app.add_typer(studies.app, name="studies")


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="Serve the API only; run workers elsewhere.")] = False,
    home: HomeOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Run the HTTP API, with one embedded worker unless --no-worker."""
    import uvicorn

    from trainforge.api.app import create_app

    configure_logging(verbose)
    settings = settings_for(home)
    open_database(settings).dispose()  # refuse a stale schema before binding the port
    if not no_worker:
        from trainforge.compute.ray_runtime import ensure_ray

        ensure_ray(settings)  # once, in the main thread; the worker thread reuses it
    uvicorn.run(create_app(settings, run_worker=not no_worker, freeze_gc=True), host=host, port=port, log_level="info")


@app.command()
def worker(
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", "-c", min=1, max=64, help="Jobs at once (default: settings).")
    ] = None,
    home: HomeOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Claim queued jobs and train them on Ray. SIGTERM or Ctrl-C drains: no new claims, running jobs get
    TRAINFORGE_DRAIN_SECONDS to finish, then go back to the queue."""
    from trainforge.compute.ray_runtime import ensure_ray
    from trainforge.jobs.store import JobStore
    from trainforge.kinds import make_worker_pool
    from trainforge.notifications import WebhookSender, start_dispatcher
    from trainforge.registry import ModelRegistry
    from trainforge.startup import freeze_startup_objects

    configure_logging(verbose)
    settings = settings_for(home)
    if concurrency is not None:  # before ensure_ray, which sizes Ray's pool of worker processes by it
        settings = settings.model_copy(update={"worker_concurrency": concurrency})
    store = JobStore(open_database(settings), aging_seconds=settings.priority_aging_seconds)
    stop = threading.Event()
    ensure_ray(settings)
    # After ray.init, which installs a SIGTERM handler of its own that would kill the process without draining.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    registry = ModelRegistry(settings.resolved_mlflow_tracking_uri, settings.resolved_artifact_root)
    pool = make_worker_pool(settings, store, registry)
    pool.start(stop)
    freeze_startup_objects()  # Ray, pandas and MLflow are imported and the Ray processes warm (trainforge.startup)
    # Job endings are notified from here too, so `serve --no-worker` plus separate workers still sends webhooks
    # (dispatchers on many processes share the work through the database; see docs/notifications.md).
    dispatcher = start_dispatcher(
        store.engine, stop, sender=WebhookSender(allow_private=settings.webhook_allow_private)
    )
    while not stop.wait(1.0):
        pass
    pool.join()
    dispatcher.join(timeout=30)


@app.command()
def scheduler(home: HomeOption = None, verbose: VerboseOption = False) -> None:
    """Queue the jobs of due schedules, until SIGTERM or Ctrl-C. Any number may run: each due time fires once.
    (`trainforge serve` runs one itself unless --no-worker.)"""
    from trainforge.jobs.store import JobStore
    from trainforge.schedules import Scheduler, ScheduleStore

    configure_logging(verbose)
    engine = open_database(settings_for(home))
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    Scheduler(ScheduleStore(engine), JobStore(engine)).run(stop)
    engine.dispose()


@app.command()
def demo(home: HomeOption = None) -> None:
    """Train a forecast model on generated data through the real queue, worker, Ray and MLflow."""
    from trainforge.cli.demo import run_demo

    settings = settings_for(home)
    console.print(f"trainforge home: {settings.home}")
    final = run_demo(settings)
    raise typer.Exit(0 if final.status == "completed" else 1)


def main() -> None:
    try:
        app()
    except TrainforgeError as error:
        errors.print(f"[red]error[/]: {error.message}")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
