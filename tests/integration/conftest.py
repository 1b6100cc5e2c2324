"""Fixtures of the integration tests that talk to the API in process."""

from __future__ import annotations

import pytest

from trainforge.features.demo_data import generate_demo_load
from trainforge.features.store import ParquetFeatureStore
from trainforge.settings import Settings, load_settings


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
