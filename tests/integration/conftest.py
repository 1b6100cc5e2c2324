"""Fixtures of the integration tests that talk to the API in process."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from trainforge.api.app import create_app
from trainforge.cli.main import app as cli
from trainforge.features.demo_data import generate_demo_load
from trainforge.features.store import ParquetFeatureStore
from trainforge.settings import Settings, load_settings
from trainforge.tenancy import KeyStore


@pytest.fixture
def demo_settings(engine, tmp_path) -> Settings:
    """Settings on the test database whose feature store holds tenant t1's ``demo_load`` (one site, 40 days)."""
    settings = load_settings(home=tmp_path / "home", database_url=engine.url.render_as_string(hide_password=False))
    settings.ensure_home()
    ParquetFeatureStore(settings.resolved_feature_store_root).write_frame(
        "t1",
        "demo_load",
        generate_demo_load(n_series=1, periods=24 * 40),
        timestamp_col="timestamp",
        series_col="site_id",
    )
    return settings


@pytest.fixture
def cli_api(engine, demo_settings, monkeypatch) -> Iterator[SimpleNamespace]:
    """The API in process, with the CLI's HTTP calls routed into it. ``run(group, *args)`` invokes
    ``trainforge <group> --api-key <a key of t1> <args>``; ``app`` is the server (for its stores)."""
    token = KeyStore(engine).create("t1", name="cli").token
    monkeypatch.setenv("COLUMNS", "200")  # tables keep ids on one line
    monkeypatch.setenv("TRAINFORGE_API_URL", "http://testserver")
    app = create_app(demo_settings)
    with TestClient(app) as client:

        def request(method, url, *, timeout=None, **kwargs):
            return client.request(method, url.removeprefix("http://testserver"), **kwargs)

        monkeypatch.setattr(httpx, "request", request)
        runner = CliRunner()

        def run(group: str, *args: str):
            return runner.invoke(cli, [group, "--api-key", token, *args])

        yield SimpleNamespace(run=run, app=app)
