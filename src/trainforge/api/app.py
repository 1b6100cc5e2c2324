"""The FastAPI application: ``create_app(settings)``; nothing is built at import time."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from trainforge import __version__
from trainforge.api.errors import install_error_handlers
from trainforge.api.limits import BodySizeLimit
from trainforge.api.routes import health, jobs
from trainforge.api.routes import metrics as metrics_routes
from trainforge.api.routes import models as model_routes
from trainforge.api.routes import optimize as optimize_routes
from trainforge.api.routes import schedules as schedule_routes
from trainforge.api.routes import webhooks as webhook_routes
from trainforge.db.engine import make_engine
from trainforge.db.migrate import ensure_schema
from trainforge.features.store import ParquetFeatureStore
from trainforge.hpo.store import StudyStore
from trainforge.jobs.store import JobStore
from trainforge.notifications import WebhookSender, WebhookStore, start_dispatcher
from trainforge.observability import ServiceMetricsCollector
from trainforge.schedules import Scheduler, ScheduleStore
from trainforge.serving import Predictor
from trainforge.settings import Settings
from trainforge.startup import freeze_startup_objects
from trainforge.tenancy import KeyStore, ensure_local_admin_key

logger = logging.getLogger(__name__)
WorkerPoolHandle = Any  # trainforge.jobs.worker_pool.WorkerPool, imported lazily


def create_app(settings: Settings, *, run_worker: bool = False, freeze_gc: bool = False) -> FastAPI:
    """Build the API.

    Args:
        settings: configuration (see :mod:`trainforge.settings`).
        run_worker: also run one embedded worker thread that claims and trains jobs (``trainforge serve``).
        freeze_gc: once started, exempt the start-up objects from garbage collection (see
            :mod:`trainforge.startup`); for a server process, not for a test that builds many apps.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.ensure_home()
        # FastAPI runs plain `def` routes and dependencies in AnyIO's thread pool; size it here (see api_threads).
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.api_threads
        engine = make_engine(settings.resolved_database_url)
        ensure_schema(engine, create_if_empty=settings.database_url is None)
        app.state.settings = settings
        app.state.job_store = JobStore(engine, aging_seconds=settings.priority_aging_seconds)
        app.state.key_store = KeyStore(engine)
        if settings.database_url is None:  # the embedded default: make single-machine use work with no key setup
            ensure_local_admin_key(settings, app.state.key_store)
        app.state.feature_store = ParquetFeatureStore(settings.resolved_feature_store_root)
        app.state.predictor = Predictor(
            lambda: _model_registry(settings), app.state.feature_store, cache_size=settings.model_cache_size
        )
        app.state.schedule_store = ScheduleStore(engine)
        app.state.study_store = StudyStore(engine)
        # -- notifications and observability: webhooks, the /metrics collector --
        app.state.webhook_store = WebhookStore(engine)
        app.state.metrics_registry = _metrics_registry(engine, settings)
        stop = threading.Event()
        worker_thread = _start_worker(settings, app.state.job_store, stop) if run_worker else None
        # Schedules fire where a worker runs (`trainforge serve`); elsewhere `trainforge scheduler` fires them.
        scheduler_thread = _start_scheduler(app.state.schedule_store, app.state.job_store, stop) if run_worker else None
        # Notifications are sent where a worker runs (`trainforge serve`); see docs/notifications.md.
        sender = WebhookSender(allow_private=settings.webhook_allow_private)
        dispatcher_thread = start_dispatcher(engine, stop, sender=sender) if run_worker else None
        if freeze_gc:
            freeze_startup_objects()
        try:
            yield
        finally:
            stop.set()
            if dispatcher_thread is not None:
                dispatcher_thread.join(timeout=30)
            if scheduler_thread is not None:
                scheduler_thread.join(timeout=30)
            if worker_thread is not None:
                worker_thread.join(timeout=settings.drain_seconds + 30)
            engine.dispose()

    app = FastAPI(
        title="trainforge",
        version=__version__,
        description="Trains, tunes, versions and promotes time-series models for many tenants.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    app.include_router(health.router)
    app.include_router(jobs.router)
    app.include_router(schedule_routes.router)
    app.include_router(optimize_routes.router)
    app.include_router(webhook_routes.router)
    app.include_router(metrics_routes.router)
    app.include_router(model_routes.router)
    return app


def _model_registry(settings: Settings):
    from trainforge.registry import ModelRegistry  # imports MLflow: on the first forecast, not at start-up

    return ModelRegistry.from_settings(settings)


def _start_worker(settings: Settings, store: JobStore, stop: threading.Event) -> WorkerPoolHandle:
    from trainforge.kinds import make_worker_pool  # Ray and MLflow are imported only when workers run
    from trainforge.registry import ModelRegistry

    registry = ModelRegistry(settings.resolved_mlflow_tracking_uri, settings.resolved_artifact_root)
    pool = make_worker_pool(settings, store, registry)
    pool.start(stop)
    return pool


def _start_scheduler(schedules: ScheduleStore, jobs: JobStore, stop: threading.Event) -> threading.Thread:
    scheduler = Scheduler(schedules, jobs)
    thread = threading.Thread(target=scheduler.run, args=(stop,), name="trainforge-scheduler", daemon=True)
    thread.start()
    return thread


def _metrics_registry(engine, settings: Settings) -> CollectorRegistry:
    """A registry of its own per app (not prometheus_client's global one), holding the database collector."""
    registry = CollectorRegistry(auto_describe=False)
    # A worker heartbeats well within its lease; one that has not for a lease is presumed gone.
    registry.register(ServiceMetricsCollector(engine, worker_stale_seconds=settings.lease_seconds))
    return registry
