"""The FastAPI application: ``create_app(settings)``; nothing is built at import time."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from trainforge import __version__
from trainforge.api.errors import install_error_handlers
from trainforge.api.limits import BodySizeLimit
from trainforge.api.routes import health, jobs
from trainforge.db.engine import make_engine
from trainforge.db.migrate import ensure_schema
from trainforge.features.store import ParquetFeatureStore
from trainforge.jobs.store import JobStore
from trainforge.settings import Settings
from trainforge.tenancy import KeyStore
from trainforge.tenancy.local_key import ensure_local_admin_key

logger = logging.getLogger(__name__)


def create_app(settings: Settings, *, run_worker: bool = False) -> FastAPI:
    """Build the API.

    Args:
        settings: configuration (see :mod:`trainforge.settings`).
        run_worker: also run one embedded worker thread that claims and trains jobs (``trainforge serve``).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.ensure_home()
        engine = make_engine(settings.resolved_database_url)
        ensure_schema(engine, create_if_empty=settings.database_url is None)
        app.state.settings = settings
        app.state.job_store = JobStore(engine)
        app.state.key_store = KeyStore(engine)
        if settings.database_url is None:  # the embedded default: make single-machine use work with no key setup
            ensure_local_admin_key(settings, app.state.key_store)
        app.state.feature_store = ParquetFeatureStore(settings.resolved_feature_store_root)
        stop = threading.Event()
        worker_thread = _start_worker(settings, app.state.job_store, stop) if run_worker else None
        try:
            yield
        finally:
            stop.set()
            if worker_thread is not None:
                worker_thread.join(timeout=30)
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
    return app


def _start_worker(settings: Settings, store: JobStore, stop: threading.Event) -> threading.Thread:
    from trainforge.jobs.worker import Worker  # Ray and MLflow are imported only when a worker runs
    from trainforge.registry import ModelRegistry

    registry = ModelRegistry(settings.resolved_mlflow_tracking_uri, settings.resolved_artifact_root)
    worker = Worker(settings, store, registry)
    thread = threading.Thread(target=worker.run, args=(stop,), name="trainforge-worker", daemon=True)
    thread.start()
    return thread
