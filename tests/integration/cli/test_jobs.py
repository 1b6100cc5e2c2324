"""``trainforge jobs`` and every list command against the API, in process: ``--output json``, the page options,
``jobs logs --follow`` (the job is moved on by the CLI's own sleeps, as a worker would), and ``--version``."""

from __future__ import annotations

import json
import re
import uuid
from importlib.metadata import version
from types import SimpleNamespace

import httpx
import pytest
from typer.testing import CliRunner

from tests.integration.conftest import ApiOptions
from trainforge.cli import jobs as jobs_cli
from trainforge.cli.main import app as cli
from trainforge.jobs.status import JobStatus
from trainforge.tenancy import KeyStore

SUBMIT = ["submit", "--tenant", "t1", "--model-name", "load_forecast", "--feature-set", "demo_load"]


def submitted(result) -> str:
    assert result.exit_code == 0, result.output
    return re.search(r"queued job ([0-9a-f-]{36})", result.output).group(1)


def test_version_prints_the_package_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"trainforge {version('trainforge')}"


@pytest.fixture
def api_options() -> ApiOptions:
    """A key of tenant t1 (which has the demo_load feature set), given on the command line, not by the client."""
    return ApiOptions(tenants=("t1",), client_tenant=None)


@pytest.fixture
def cli_api(run_cli, api) -> SimpleNamespace:
    """``run(group, *args)`` runs ``trainforge GROUP`` with t1's key against ``app``, the server in process."""
    return SimpleNamespace(run=run_cli, app=api.app)


def test_jobs_list_pages_as_json_and_as_a_table(cli_api):
    ids = [submitted(cli_api.run("jobs", *SUBMIT)) for _ in range(3)]
    listed = cli_api.run("jobs", "list", "--output", "json", "--page", "2", "--page-size", "2")
    assert listed.exit_code == 0, listed.output
    body = json.loads(listed.output)
    assert (body["total"], body["page"], body["page_size"]) == (3, 2, 2)
    assert [job["job_id"] for job in body["jobs"]] == ids[:1]  # newest first: the oldest is alone on page 2
    table = cli_api.run("jobs", "list", "--limit", "2")  # --limit: the old name of --page-size
    assert table.exit_code == 0, table.output
    assert "Jobs (page 1 of 2, 3 in all)" in table.output and ids[2] in table.output and ids[0] not in table.output


@pytest.mark.parametrize(
    ("group", "command", "key"),
    [
        ("jobs", ["list"], "jobs"),
        ("schedules", ["list"], "schedules"),
        ("studies", ["list"], "studies"),
        ("studies", ["trials", "{study_id}"], "trials"),
    ],
)
def test_every_list_command_prints_the_api_json_with_the_page_fields(cli_api, group, command, key):
    started = cli_api.run("studies", "start", "--tenant", "t1", "--name", "hpo", "--feature-set", "demo_load")
    study_id = re.search(r"queued study ([0-9a-f-]{36})", started.output).group(1)
    args = [part.format(study_id=study_id) for part in command]
    result = cli_api.run(group, *args, "--output", "json", "--page-size", "5")
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert (body["page"], body["page_size"]) == (1, 5)
    assert body["total"] == len(body[key]) == {"jobs": 1, "studies": 1}.get(key, 0)  # the study's job is a job


def test_a_page_below_one_is_refused_before_any_request(cli_api):
    refused = cli_api.run("jobs", "list", "--page", "0")
    assert refused.exit_code == 2 and "--page" in refused.output


@pytest.fixture
def follow(cli_api, monkeypatch):
    """``follow(*steps)``: run ``jobs logs <a new job> --follow``; the n-th sleep of the follower runs the n-th step
    (a worker's writes) with the job store and the job's id, and a sleep beyond the last fails the test."""

    def run(*steps, args=()):
        job_id = uuid.UUID(submitted(cli_api.run("jobs", *SUBMIT)))
        store = cli_api.app.state.job_store
        pending = list(steps)

        def sleep(_seconds):
            assert pending, "the follower went on polling after the job ended"
            pending.pop(0)(store, job_id)

        monkeypatch.setattr(jobs_cli, "time", SimpleNamespace(sleep=sleep))
        result = cli_api.run("jobs", "logs", str(job_id), "--follow", *args)
        return SimpleNamespace(result=result, lines=store.logs(job_id)[0], pending=pending)

    return run


def test_follow_prints_every_line_once_and_ends_with_the_job(follow):
    def start(store, job_id):
        store.claim_next("w1")
        store.append_logs(job_id, [("INFO", "load", "loaded 960 rows")])

    def fit(store, job_id):
        store.append_logs(job_id, [("INFO", "fit", "round 10 [mae 3.2]"), ("INFO", "fit", "round 20 [mae 2.9]")])

    def quiet(_store, _job_id):
        pass  # a poll that finds nothing new prints nothing

    def finish(store, job_id):
        store.transition(
            job_id, JobStatus.COMPLETED, reason="registered", worker_id="w1", logs=[("INFO", "register", "v1.0.0")]
        )

    followed = follow(start, fit, quiet, finish)
    assert followed.result.exit_code == 0, followed.result.output
    assert followed.pending == []
    messages = [line.message for line in followed.lines]
    assert {"loaded 960 rows", "round 20 [mae 2.9]", "v1.0.0"} <= set(messages)
    printed = [line for line in followed.result.stdout.splitlines() if line.strip()]
    assert len(printed) == len(messages)
    for line, message in zip(printed, messages, strict=True):
        assert line.endswith(message), (line, message)  # each once, in order, brackets and all
    assert "completed" in followed.result.stderr


def test_follow_of_a_job_that_fails_exits_1_and_tail_starts_at_the_end(follow):
    def fail(store, job_id):
        store.append_logs(job_id, [("INFO", "load", "loading")])
        store.transition(job_id, JobStatus.CANCELLED, reason="cancelled by test")

    followed = follow(fail, args=("--tail", "1"))
    assert followed.result.exit_code == 1, followed.result.output
    printed = [line for line in followed.result.stdout.splitlines() if line.strip()]
    # --tail 1: of the lines before the first poll, only the last; then everything after it
    assert len(printed) == 1 + 2 and printed[-1].endswith(followed.lines[-1].message)
    assert "cancelled" in followed.result.stderr


def test_ctrl_c_stops_following_and_leaves_the_job_alone(follow, cli_api):
    def interrupt(_store, _job_id):
        raise KeyboardInterrupt

    followed = follow(interrupt)
    assert followed.result.exit_code == 130
    assert "stopped following; the job goes on" in followed.result.stderr
    job_id = re.search(r"jobs logs ([0-9a-f-]{36})", followed.result.stderr).group(1)
    assert cli_api.app.state.job_store.get(uuid.UUID(job_id)).status is JobStatus.QUEUED


@pytest.mark.parametrize("api_options", [ApiOptions(tenants=(), client_tenant=None)])  # no key but the test's
def test_the_local_list_commands_print_json_too(engine, api, monkeypatch):
    demo_settings = api.settings
    monkeypatch.setenv("TRAINFORGE_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    key = KeyStore(engine).create("t1", name="ops").key
    home = ["--home", str(demo_settings.home)]
    keys = CliRunner().invoke(cli, ["keys", "list", "--output", "json", *home])
    assert keys.exit_code == 0, keys.output
    assert json.loads(keys.output) == {
        "keys": [
            {
                "key_id": key.key_id,
                "tenant_id": "t1",
                "name": "ops",
                "is_admin": False,
                "created_at": key.created_at.isoformat(),
                "revoked_at": None,
            }
        ],
        "total": 1,
    }
    features = CliRunner().invoke(cli, ["features", "list", "-o", "json", *home])
    assert features.exit_code == 0, features.output
    (demo,) = json.loads(features.output)["feature_sets"]
    assert (demo["tenant_id"], demo["feature_set"], demo["row_count"]) == ("t1", "demo_load", 24 * 40)


def test_lines_written_as_the_job_ends_between_two_polls_are_not_lost(follow, cli_api, monkeypatch):
    # The worker's last lines and the completion land just after a read of the log: the follower must still print
    # them, so it reads the status before the lines (never after, when it would stop without them).
    routed, store = httpx.request, cli_api.app.state.job_store

    def finish_after_this_read(method, url, **kwargs):
        response = routed(method, url, **kwargs)
        if url.endswith("/logs"):
            monkeypatch.setattr(httpx, "request", routed)  # once
            job_id = uuid.UUID(url.rsplit("/", 2)[-2])
            store.transition(job_id, JobStatus.COMPLETED, reason="done", logs=[("INFO", "register", "last")])
        return response

    def start(_store, _job_id):
        store.claim_next("w1")
        monkeypatch.setattr(httpx, "request", finish_after_this_read)

    followed = follow(start, lambda *_: None)
    assert followed.result.exit_code == 0, followed.result.output
    printed = [line for line in followed.result.stdout.splitlines() if line.strip()]
    assert len(printed) == len(followed.lines) and printed[-2].endswith("last")
