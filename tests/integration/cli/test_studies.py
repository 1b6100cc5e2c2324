"""``trainforge studies`` against the API, in process and without a worker: the CLI's HTTP calls are routed into
a TestClient, and trials are written as the coordinator's listener writes them."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from tests.integration.conftest import ApiOptions
from trainforge.cli import studies as studies_cli
from trainforge.fields import priority_value
from trainforge.jobs.status import JobStatus

LEARNING_RATE = '{"type": "float", "low": 0.01, "high": 0.3, "log": true}'


@pytest.fixture
def api_options() -> ApiOptions:
    """A key of tenant t1 (which has the demo_load feature set), given on the command line, not by the client."""
    return ApiOptions(tenants=("t1",), client_tenant=None)


@pytest.fixture
def cli_app(run_cli, api, monkeypatch):
    """``run(*args)`` invokes ``trainforge studies`` with a key of tenant t1 (which has the demo_load feature set);
    ``app`` is the server (for its stores)."""
    monkeypatch.setenv("COLUMNS", "200")  # tables keep ids on one line
    return SimpleNamespace(run=lambda *args: run_cli("studies", *args), app=api.app)


def start_args(name: str = "lf_hpo", *extra: str) -> list[str]:
    return ["start", "--tenant", "t1", "--name", name, "--feature-set", "demo_load", *extra]


def started(result) -> tuple[uuid.UUID, uuid.UUID]:
    """The study and job ids that `studies start` printed."""
    assert result.exit_code == 0, result.output
    found = re.search(r"queued study ([0-9a-f-]{36}) .* as job ([0-9a-f-]{36})", result.output)
    return uuid.UUID(found.group(1)), uuid.UUID(found.group(2))


def trial(number: int, state: str, value: float | None = None, **params):
    began = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=number)
    return SimpleNamespace(
        number=number,
        state=state,
        value=value,
        params=params,
        rmse=None if value is None else value * 1.5,
        datetime_start=began,
        datetime_complete=began + timedelta(seconds=30),
        duration_seconds=30.0,
        error="boom" if state == "FAIL" else None,
    )


def finish(app, study_id: uuid.UUID, *trials) -> None:
    """Record finished trials as the coordinator does: each trial, then the counts and the best one."""
    for item in trials:
        app.state.study_store.record_trial(study_id, item)
    complete = [t for t in trials if t.state == "COMPLETE"]
    counts = {state: sum(t.state == state for t in trials) for state in ("COMPLETE", "PRUNED", "FAIL")}
    app.state.study_store.update_progress(study_id, min(complete, key=lambda t: t.value, default=None), counts)


@pytest.mark.parametrize(
    ("param", "exit_code", "expected"),
    [
        ("learning_rate={type: float}", 2, "learning_rate: '{type: float}' is not JSON"),
        ("learning_rate", 2, "write NAME=JSON"),
        ('learning_rate={"type": "float", "low": 0.5, "high": 0.1}', 1, "(field: search_space.learning_rate)"),
        ("no_such_param=3", 1, "(field: search_space.no_such_param)"),
    ],
)
def test_a_bad_param_is_refused_naming_it_and_queues_nothing(cli_app, param, exit_code, expected):
    refused = cli_app.run(*start_args("lf_hpo", "--param", param))
    assert refused.exit_code == exit_code, refused.output
    assert expected in " ".join(refused.output.split()), refused.output  # Rich may wrap the usage-error panel
    assert "0 in all" in cli_app.run("list").output


def test_start_show_trials_list_cancel(cli_app):
    run, app = cli_app.run, cli_app.app
    # A range and a fixed number, the data window and every tuning option.
    study_id, job_id = started(
        run(
            *start_args("lf_hpo", "--model-name", "load_forecast", "--param", f"learning_rate={LEARNING_RATE}"),
            *("--param", "max_bin=31", "--strategy", "random", "--n-trials", "4", "--parallel", "3"),
            *("--timeout", "600", "--seed", "7", "--priority", "high", "--pruner", "successive_halving"),
            *("--start", "2023-01-02T00:00:00Z", "--end", "2023-02-08T00:00:00Z", "--horizon", "12"),
        )
    )
    job = app.state.job_store.get(job_id)
    assert (job.model_name, job.priority, job.config["horizon"]) == ("load_forecast", priority_value("high"), 12)
    assert job.config["start_date"].startswith("2023-01-02") and job.config["end_date"].startswith("2023-02-08")
    assert job.config["tuning"] == {
        "n_trials": 4,
        "optimization_strategy": "random",
        "pruner": "successive_halving",
        "parallel_jobs": 3,
        "timeout_seconds": 600,
        "seed": 7,
        "objective": "val_mae",
    }

    shown = run("show", str(study_id))
    assert shown.exit_code == 0, shown.output
    for text in (
        "queued",
        "random",
        "successive_halving",
        "0 of 4 finished",
        "forecast -> load_forecast",
        "600 s",
        "no trial complete yet",
    ):
        assert text in shown.output, shown.output
    space = json.loads(run("show", str(study_id), "--json").output)["search_space"]
    assert space == {"learning_rate": json.loads(LEARNING_RATE), "max_bin": 31}

    app.state.job_store.claim_next("w1")
    finish(
        app,
        study_id,
        trial(0, "COMPLETE", 3.25, learning_rate=0.05),
        trial(1, "PRUNED", 9.0, learning_rate=0.29),
        trial(2, "COMPLETE", 2.5, learning_rate=0.125),
        trial(3, "FAIL", learning_rate=0.2),
    )
    shown = run("show", str(study_id))
    assert "running" in shown.output and "3 of 4 finished (2 complete, 1 pruned), 1 failed" in shown.output
    assert "Best trial: #2" in shown.output and "2.500" in shown.output and "0.125" in shown.output

    page = run("trials", str(study_id), "--page", "2", "--page-size", "2")
    assert page.exit_code == 0, page.output
    assert "Trials 3-4 of 4" in page.output and "FAIL" in page.output and "learning_rate=0.125" in page.output
    assert "learning_rate=0.05" not in page.output and "PRUNED" not in page.output  # trials 0 and 1: page 1
    failed = run("trials", str(study_id), "--state", "fail")
    assert "Trials 1-1 of 1 (FAIL)" in failed.output and "boom" in failed.output

    listed = run("list", "--tenant", "t1", "--status", "running")
    assert str(study_id) in listed.output and "3/4" in listed.output and "2.500" in listed.output

    cancelled = run("cancel", str(study_id))
    assert cancelled.exit_code == 0, cancelled.output
    assert f"Study cancelled: study {study_id} is cancelled" in cancelled.output
    assert app.state.job_store.get(job_id).status is JobStatus.CANCELLED
    again = run("cancel", str(study_id))
    assert again.exit_code == 1 and "409" in again.output
    missing = run("show", str(uuid.uuid4()))
    assert missing.exit_code == 1 and "(field: study_id)" in missing.output


def test_a_space_file_is_read_and_a_param_replaces_its_entry(cli_app, tmp_path):
    space_file = tmp_path / "space.json"
    space_file.write_text(
        json.dumps(
            {
                "num_leaves": {"type": "categorical", "choices": [31, 63, 127]},
                "max_depth": {"type": "int", "low": 3, "high": 12, "step": 3},
            }
        )
    )
    study_id, _job_id = started(
        cli_app.run(*start_args("from_file", "--space-file", str(space_file), "--param", "max_depth=6"))
    )
    space = json.loads(cli_app.run("show", str(study_id), "--json").output)["search_space"]
    assert space == {"max_depth": 6, "num_leaves": {"type": "categorical", "choices": [31, 63, 127]}}

    space_file.write_text("[1, 2]")
    refused = cli_app.run(*start_args("not_an_object", "--space-file", str(space_file)))
    assert refused.exit_code == 2 and "must hold a JSON object" in " ".join(refused.output.split())


def test_wait_follows_the_trials_then_shows_the_best_and_the_model(cli_app, monkeypatch):
    app = cli_app.app
    # Each poll of the progress loop is followed by one step of a pretend worker.
    steps = iter(
        [
            lambda study_id, job: app.state.job_store.claim_next("w1"),
            lambda study_id, job: finish(app, study_id, trial(0, "COMPLETE", 4.0, learning_rate=0.1)),
            lambda study_id, job: finish(
                app,
                study_id,
                trial(0, "COMPLETE", 4.0, learning_rate=0.1),
                trial(1, "COMPLETE", 3.0, learning_rate=0.2),
            ),
            lambda study_id, job: app.state.job_store.transition(
                job, JobStatus.COMPLETED, reason="fitted", model_id="m-best-1", metrics={"mae": 3.1, "rmse": 4.2}
            ),
        ]
    )

    def worker_step(_seconds):
        study = app.state.study_store.list(tenant_id="t1", status=None, page=1, page_size=1)[0][0]
        next(steps)(study.study_id, study.job_id)

    monkeypatch.setattr(studies_cli, "time", SimpleNamespace(sleep=worker_step))
    waited = cli_app.run(
        *start_args("waited", "--n-trials", "2", "--param", f"learning_rate={LEARNING_RATE}", "--wait")
    )
    assert waited.exit_code == 0, waited.output
    assert "2/2 trials" in waited.output and "best MAE 3.000 (trial 1)" in waited.output
    assert "Best trial: #1" in waited.output and "3.000" in waited.output
    assert "completed: model_id m-best-1" in waited.output

    # A study that ends otherwise: the reason, and a non-zero exit.
    other, _job = started(cli_app.run(*start_args("stopped", "--param", f"learning_rate={LEARNING_RATE}")))
    cli_app.run("cancel", str(other))
    watched = cli_app.run("watch", str(other))
    assert watched.exit_code == 1 and "cancelled" in watched.output
