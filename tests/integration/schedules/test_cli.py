"""``trainforge schedules`` against the API, in process: the CLI's HTTP calls are routed into a TestClient."""

from __future__ import annotations

import re

import pytest

from tests.integration.conftest import ApiOptions


@pytest.fixture
def api_options() -> ApiOptions:
    """A key of tenant t1 (which has the demo_load feature set), given on the command line, not by the client."""
    return ApiOptions(tenants=("t1",), client_tenant=None)


@pytest.fixture
def run(run_cli):
    return lambda *args: run_cli("schedules", *args)


def test_create_list_pause_resume_delete(run):
    created = run(
        "create",
        "--tenant",
        "t1",
        "--name",
        "nightly",
        "--cron",
        "0 3 * * *",
        "--timezone",
        "Europe/Berlin",
        "--model-name",
        "load_forecast",
        "--feature-set",
        "demo_load",
        "--param",
        "n_estimators=50",
    )
    assert created.exit_code == 0, created.output
    schedule_id = re.search(r"schedule ([0-9a-f-]{36})", created.output).group(1)

    listed = run("list")
    assert listed.exit_code == 0 and "nightly" in listed.output and "active" in listed.output
    assert "is paused" in run("pause", schedule_id).output
    assert "is active" in run("resume", schedule_id).output
    assert '"n_estimators": 50' in run("get", schedule_id).output
    assert "Schedule deleted" in run("delete", schedule_id).output
    missing = run("delete", schedule_id)
    assert missing.exit_code == 1 and "not found" in missing.output


def test_an_invalid_cron_is_reported_with_its_field(run):
    refused = run(
        "create",
        "--tenant",
        "t1",
        "--name",
        "n",
        "--cron",
        "0 3 * *",
        "--model-name",
        "m",
        "--feature-set",
        "demo_load",
    )
    assert refused.exit_code == 1
    assert "field: cron" in refused.output
