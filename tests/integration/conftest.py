"""Fixtures of the integration tests: the HTTP API on the test's metadata database, and a migrated MLflow backend.

``api`` is the one way these tests get a server: the app built by ``create_app`` on the ``engine`` fixture's
database, under a temporary home, with tenant keys and a feature set, and a ``TestClient`` that has run its
lifespan. What it holds is chosen by ``api_options``: a module overrides that fixture, a test parametrises it::

    @pytest.fixture
    def api_options() -> ApiOptions:
        return ApiOptions(client_tenant=None, feature_tenants=())

    @pytest.mark.parametrize("api_options", [ApiOptions(settings={"webhook_allow_private": True})])
    def test_something(api): ...
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from trainforge.api.app import create_app
from trainforge.features.demo_data import generate_demo_load
from trainforge.features.store import ParquetFeatureStore
from trainforge.settings import Settings, load_settings
from trainforge.tenancy import KeyStore


@dataclass(frozen=True)
class ApiOptions:
    """What the ``api`` fixture sets up.

    Attributes:
        tenants: tenants that get a key each (``Api.tokens[tenant]``).
        admin: also an admin key (tenant ``ops``), as ``Api.tokens["admin"]``.
        client_tenant: whose key the client sends unless a request says otherwise; None: no key.
        feature_tenants: tenants that get the demo feature set ``feature_set``.
        feature_set, n_series, periods: the feature set's name, and the size of its demo data (hourly periods).
        settings: further settings fields (``TRAINFORGE_*`` names, lower case, without the prefix).
    """

    tenants: tuple[str, ...] = ("t1", "t2")
    admin: bool = False
    client_tenant: str | None = "t1"
    feature_tenants: tuple[str, ...] = ("t1",)
    feature_set: str = "demo_load"
    n_series: int = 1
    periods: int = 24 * 40
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Api:
    """A running app and a client of it."""

    client: TestClient
    app: FastAPI
    settings: Settings
    keys: KeyStore
    tokens: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        """The Authorization header of ``who``'s key (a tenant of ``ApiOptions.tenants``, or ``"admin"``)."""
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@cache
def demo_frame(n_series: int, periods: int) -> pd.DataFrame:
    """The demo load data, generated once per size for the session (it is deterministic); hand out copies."""
    return generate_demo_load(n_series=n_series, periods=periods)


@pytest.fixture
def api_options() -> ApiOptions:
    return ApiOptions()


@pytest.fixture
def api(api_options: ApiOptions, engine, tmp_path) -> Iterator[Api]:
    """The app on the ``engine`` fixture's database, as ``api_options`` says; see the module docstring."""
    options = api_options
    settings = load_settings(
        home=tmp_path / "home", database_url=engine.url.render_as_string(hide_password=False), **options.settings
    )
    settings.ensure_home()
    features = ParquetFeatureStore(settings.resolved_feature_store_root)
    for tenant in options.feature_tenants:
        features.write_frame(
            tenant,
            options.feature_set,
            demo_frame(options.n_series, options.periods).copy(),  # the cached frame stays as generated
            timestamp_col="timestamp",
            series_col="site_id",
        )
    keys = KeyStore(engine)
    tokens = {tenant: keys.create(tenant, name="tests").token for tenant in options.tenants}
    if options.admin:
        tokens["admin"] = keys.create("ops", name="ops", is_admin=True).token
    app = create_app(settings)
    headers = {} if options.client_tenant is None else {"Authorization": f"Bearer {tokens[options.client_tenant]}"}
    with TestClient(app, headers=headers) as client:
        yield Api(client, app, settings, keys, tokens)


# MLflow creates its schema the first time a client opens a backend (~2 s of migrations on this machine). Tests
# copy a SQLite backend migrated once per session instead; the first-open path still runs, for the template.
@pytest.fixture(scope="session")
def mlflow_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty MLflow SQLite database; copy it, do not write to it (see ``copy_mlflow_template``)."""
    from mlflow import MlflowClient  # imported while a test runs: MLflow then sends no telemetry

    database = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    uri = f"sqlite:///{database}"
    MlflowClient(tracking_uri=uri, registry_uri=uri).search_experiments()
    return database


def copy_mlflow_template(template: Path, database: Path) -> Path:
    """Put a copy of the migrated MLflow template at ``database`` (its directory is created) and return it."""
    database.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, database)
    return database


@pytest.fixture
def run_cli(api, monkeypatch):
    """``run_cli(group, *args)`` runs ``trainforge GROUP --api-key <t1's key> ARGS`` in process, its HTTP calls
    routed into the ``api`` fixture's client."""
    import httpx
    from typer.testing import CliRunner

    from trainforge.cli.main import app as cli

    def request(method, url, *, timeout=None, **kwargs):
        return api.client.request(method, url.removeprefix("http://testserver"), **kwargs)

    monkeypatch.setenv("COLUMNS", "200")  # tables keep ids on one line
    monkeypatch.setenv("TRAINFORGE_API_URL", "http://testserver")
    monkeypatch.setattr(httpx, "request", request)
    runner = CliRunner()

    def run(group: str, *args: str):
        return runner.invoke(cli, [group, "--api-key", api.tokens["t1"], *args])

    return run


@dataclass
class WorkerSetup:
    """A worker on the ``engine`` fixture's database and the local Ray, with a feature set ``site_load`` of t1."""

    settings: Settings
    store: Any  # trainforge.jobs.store.JobStore
    features: ParquetFeatureStore
    registry: Any  # trainforge.registry.ModelRegistry, or the subclass asked for
    worker: Any  # trainforge.jobs.Worker, as trainforge.kinds.make_worker builds it


@pytest.fixture
def make_worker(engine, settings, local_ray, mlflow_sqlite_template):
    """``make_worker(**options)`` builds a ``WorkerSetup``: the ``settings`` fixture's home (with a copy of the
    migrated MLflow backend in it, where the settings put MLflow), t1's demo ``site_load`` feature set, a JobStore, a
    registry and a worker that polls every 0.2 s.

    Options: ``n_series``, ``periods`` and ``seed`` of the demo data; ``registry_class``; ``worker_id``; any other
    keyword is a settings field.
    """
    from trainforge.jobs.store import JobStore
    from trainforge.kinds import make_worker as standard_worker
    from trainforge.registry import ModelRegistry

    def make(
        *,
        n_series: int = 2,
        periods: int = 24 * 120,
        seed: int | None = None,
        registry_class: type = ModelRegistry,
        worker_id: str = "test-worker",
        **settings_fields: Any,
    ) -> WorkerSetup:
        worker_settings = settings.model_copy(update=settings_fields)
        worker_settings.ensure_home()
        if worker_settings.mlflow_tracking_uri is None:  # MLflow in the home (what the template stands in for)
            copy_mlflow_template(mlflow_sqlite_template, worker_settings.home / "mlflow.db")
        features = ParquetFeatureStore(worker_settings.resolved_feature_store_root)
        demo = generate_demo_load(n_series=n_series, periods=periods, **({} if seed is None else {"seed": seed}))
        features.write_frame("t1", "site_load", demo, timestamp_col="timestamp", series_col="site_id")
        store = JobStore(engine)
        registry = registry_class(worker_settings.resolved_mlflow_tracking_uri, worker_settings.resolved_artifact_root)
        worker = standard_worker(worker_settings, store, registry, worker_id=worker_id, poll_seconds=0.2)
        return WorkerSetup(worker_settings, store, features, registry, worker)

    return make


TRAINED_HORIZON = 24
TRAINED_SERIES = ("site-01", "site-02")


@dataclass(frozen=True)
class TrainedModels:
    """Two versions of t1's ``site_load`` trained by real jobs, in a home of their own (see ``trained_models``)."""

    settings: Settings
    first: str  # the model id of 1.0.0
    latest: str  # the model id of 1.1.0
    features: ParquetFeatureStore

    def frame(self, series: str) -> pd.DataFrame:
        """The stored rows of one series of the ``site_load`` feature set."""
        return self.features.load("t1", "site_load", series=[series])

    def api_options(self) -> ApiOptions:
        """An ``api`` on these models' MLflow backend and feature store (keys for t1, t2 and an admin)."""
        return ApiOptions(
            admin=True,
            feature_tenants=(),
            settings={
                "mlflow_tracking_uri": self.settings.resolved_mlflow_tracking_uri,
                "artifact_root": self.settings.resolved_artifact_root,
                "feature_store_root": self.settings.resolved_feature_store_root,
            },
        )


@pytest.fixture(scope="session")
def trained_models(tmp_path_factory, local_ray, mlflow_sqlite_template) -> TrainedModels:
    """Train t1's ``site_load`` twice (1.0.0, then 1.1.0 with other hyperparameters: a minor version) through the
    queue, a worker, Ray and MLflow, once for the session: the models the predict tests forecast with. Tests may
    read them, and must undo anything they change (an alias)."""
    from trainforge.db.engine import make_engine
    from trainforge.db.migrate import upgrade
    from trainforge.jobs.status import JobStatus
    from trainforge.jobs.store import JobStore
    from trainforge.kinds import make_worker
    from trainforge.pipeline.config import TrainingConfig
    from trainforge.registry import ModelRegistry
    from trainforge.submission import JobRequest, submit_job

    home = tmp_path_factory.mktemp("trained-models") / "home"
    settings = load_settings(home=home, ray_num_cpus=2)
    settings.ensure_home()
    copy_mlflow_template(mlflow_sqlite_template, home / "mlflow.db")
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    features = ParquetFeatureStore(settings.resolved_feature_store_root)
    demo = generate_demo_load(n_series=len(TRAINED_SERIES), periods=24 * 60)
    features.write_frame("t1", "site_load", demo, timestamp_col="timestamp", series_col="site_id")
    store = JobStore(engine)
    worker = make_worker(settings, store, ModelRegistry.from_settings(settings), worker_id="trainer", poll_seconds=0.2)
    model_ids = []
    for n_estimators in (40, 60):
        config = TrainingConfig(
            target_variable="load_kw", horizon=TRAINED_HORIZON, hyperparams={"n_estimators": n_estimators}
        )
        request = JobRequest(
            tenant_id="t1", model_type="forecast", model_name="site_load", feature_set="site_load", config=config
        )
        job = submit_job(request, store=store, features=features)
        assert worker.run_next().status is JobStatus.COMPLETED, store.logs(job.job_id)[0]
        model_ids.append(store.get(job.job_id).model_id)
    engine.dispose()
    assert model_ids == ["t1:site_load:1.0.0", "t1:site_load:1.1.0"]
    return TrainedModels(settings, model_ids[0], model_ids[1], features)
