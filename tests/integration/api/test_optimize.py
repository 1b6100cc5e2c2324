"""The HPO API over HTTP (in-process ASGI client) on SQLite and PostgreSQL, without a worker: studies are started,
read, paged and cancelled; trials and progress are written as the coordinator's listener writes them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import get_args

import pytest
from sqlalchemy import func, select

from trainforge.db.tables import hpo_studies, hpo_trials, training_jobs
from trainforge.hpo.space import STRATEGIES
from trainforge.jobs.status import JobStatus
from trainforge.models.families import get_family
from trainforge.pipeline.config import OptimizationStrategy

OPTIMIZE = "/ai/training/optimize"
JOBS = "/ai/training/jobs"
SPACE = {
    "n_estimators": {"type": "int", "low": 50, "high": 300},
    "learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True},
    "max_depth": {"type": "int", "low": 3, "high": 10},
    "subsample": {"type": "float", "low": 0.6, "high": 1.0},
}


def study_body(**overrides):
    body = {
        "tenant_id": "t1",
        "study_name": "load_forecast_hpo_2025_10",
        "model_type": "forecast",
        "feature_set": "demo_load",
        "config": {"target_variable": "load_kw", "horizon": 24},
        "search_space": SPACE,
        "optimization_strategy": "tpe",
        "n_trials": 100,
        "timeout_seconds": 3600,
        "parallel_jobs": 4,
    }
    return body | overrides


def counts(engine):
    with engine.connect() as conn:
        return tuple(
            conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (training_jobs, hpo_studies, hpo_trials)
        )


def start(client, **overrides) -> dict:
    response = client.post(f"{OPTIMIZE}/start", json=study_body(**overrides))
    assert response.status_code == 202, response.text
    return response.json()


def trial(number: int, state: str, value: float | None = None, **fields):
    began = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=number)
    values = dict(
        number=number,
        state=state,
        value=value,
        params={"learning_rate": round(0.1 + number / 100, 2)},
        rmse=None if value is None else value * 1.5,
        datetime_start=began,
        datetime_complete=None if state == "RUNNING" else began + timedelta(seconds=30),
        duration_seconds=None if state == "RUNNING" else 30.0,
        error=None,
    )
    return SimpleNamespace(**(values | fields))


def test_start_a_study_then_read_it_and_its_job(api):
    client = api.client
    accepted = start(client)
    assert accepted.keys() == {"study_id", "study_name", "job_id", "status", "n_trials", "created_at"}
    assert (accepted["study_name"], accepted["status"], accepted["n_trials"]) == (
        "load_forecast_hpo_2025_10",
        "queued",
        100,
    )

    study = client.get(f"{OPTIMIZE}/{accepted['study_id']}").json()
    assert study["job_id"] == accepted["job_id"] and study["status"] == "queued"
    assert (study["n_trials_total"], study["n_trials_completed"], study["n_trials_pruned"]) == (100, 0, 0)
    assert study["n_trials_failed"] == 0 and study["best_trial"] is None
    assert (study["parallel_jobs"], study["timeout_seconds"], study["seed"]) == (4, 3600, None)
    assert study["model_name"] == "load_forecast_hpo_2025_10"  # default: the study's name
    assert study["search_space"]["learning_rate"] == {"type": "float", "low": 0.01, "high": 0.3, "log": True}
    assert study["trials_url"] == f"{OPTIMIZE}/{accepted['study_id']}/trials"
    assert study["job_url"] == f"{JOBS}/{accepted['job_id']}"

    job = client.get(study["job_url"]).json()  # a study is a job in the same queue
    assert job["status"] == "queued" and job["tags"] == {"study_id": accepted["study_id"]}
    config = job["config"]
    assert config["enable_hpo"] is True and config["hyperparams"] == study["search_space"]
    assert config["tuning"] == {
        "n_trials": 100,
        "optimization_strategy": "tpe",
        "pruner": "median",
        "parallel_jobs": 4,
        "timeout_seconds": 3600,
        "seed": None,
        "objective": "val_mae",
    }
    assert config["n_trials"] == 100  # the specification's shape shows it beside enable_hpo
    assert job["kind"] == "tune"
    assert client.get(JOBS).json()["total"] == 1


def test_defaults_the_familys_space_and_settings(api):
    client = api.client
    body = study_body(seed=42, model_name="tuned", priority="urgent")
    for name in ("search_space", "optimization_strategy", "n_trials", "timeout_seconds", "parallel_jobs"):
        del body[name]
    accepted = client.post(f"{OPTIMIZE}/start", json=body).json()
    study = client.get(f"{OPTIMIZE}/{accepted['study_id']}").json()
    default = get_family("lightgbm").default_search_space()
    assert study["search_space"].keys() == default.keys()
    assert (study["optimization_strategy"], study["n_trials_total"], study["parallel_jobs"]) == ("tpe", 50, 2)
    assert (study["timeout_seconds"], study["seed"], study["model_name"]) == (None, 42, "tuned")
    assert client.get(study["job_url"]).json()["priority"] == 20


def test_a_fixed_number_in_the_space_is_kept(api):
    client = api.client
    accepted = start(
        client, search_space={"learning_rate": {"type": "float", "low": 0.05, "high": 0.2}, "max_depth": 6}
    )
    study = client.get(f"{OPTIMIZE}/{accepted['study_id']}").json()
    assert study["search_space"]["max_depth"] == 6


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"search_space": {"not_a_param": {"type": "int", "low": 1, "high": 2}}}, "search_space.not_a_param"),
        ({"search_space": {"max_depth": {"type": "int", "low": 9, "high": 3}}}, "search_space.max_depth"),
        (
            {"search_space": {"reg_alpha": {"type": "float", "low": 0, "high": 1, "log": True}}},
            "search_space.reg_alpha",
        ),
        ({"search_space": {"max_depth": {"type": "categorical", "choices": []}}}, "search_space.max_depth"),
        ({"search_space": {"n_estimators": "many"}}, "search_space.n_estimators"),
        (
            {"search_space": {"n_estimators": {"type": "int", "low": 1, "high": 9, "surprise": 1}}},
            "search_space.n_estimators",
        ),
        ({"search_space": {"n_estimators": 100}}, "search_space"),  # nothing searched
        ({"search_space": "everything"}, "search_space"),
        ({"optimization_strategy": "grid"}, "search_space.learning_rate"),  # a float range without step
        ({"optimization_strategy": "bayes"}, "optimization_strategy"),
        ({"n_trials": 0}, "n_trials"),
        ({"n_trials": 10_001}, "n_trials"),
        ({"parallel_jobs": 65}, "parallel_jobs"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"timeout_seconds": 8 * 24 * 3600}, "timeout_seconds"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**32}, "seed"),
        ({"study_name": "../etc"}, "study_name"),
        ({"study_name": "s" * 129}, "study_name"),
        ({"model_name": "a b"}, "model_name"),
        ({"config": {"hyperparams": {"n_estimators": 100}}}, "config.hyperparams"),
        ({"config": {"n_trials": 5}}, "config.n_trials"),
        ({"config": {"enable_hpo": True}}, "config.enable_hpo"),
        ({"config": {"hpo_seed": 1}}, "config.hpo_seed"),
        ({"config": {"horizon": 0}}, "config.horizon"),
        ({"config": {"target_variable": "no_such_column"}}, "config.target_variable"),
        ({"feature_set": "missing_set"}, "feature_set"),
        ({"model_type": "regression"}, "model_type"),
        ({"tenant_id": "t/1"}, "tenant_id"),
        ({"priority": True}, "priority"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_requests_are_422_naming_the_field_and_write_nothing(api, engine, change, field):
    client = api.client
    response = client.post(f"{OPTIMIZE}/start", json=study_body(**change))
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["error"] == "invalid_input" and error["field"] == field, error
    assert counts(engine) == (0, 0, 0)


def test_a_taken_study_name_is_409_and_writes_nothing(api, engine):
    client = api.client
    start(client)
    again = client.post(f"{OPTIMIZE}/start", json=study_body(n_trials=5))
    assert again.status_code == 409, again.text
    assert again.json()["error"] == "conflict" and again.json()["field"] == "study_name"
    assert counts(engine) == (1, 1, 0)


def test_tenants_cannot_reach_each_others_studies(api):
    client = api.client
    refused = client.post(f"{OPTIMIZE}/start", json=study_body(), headers=api.auth("t2"))
    assert refused.status_code == 403 and refused.json()["field"] == "tenant_id"
    assert client.get(OPTIMIZE, params={"tenant_id": "t1"}, headers=api.auth("t2")).status_code == 403
    study_id = start(client)["study_id"]
    for method, suffix in (("GET", ""), ("GET", "/trials"), ("POST", "/cancel")):
        foreign = client.request(method, f"{OPTIMIZE}/{study_id}{suffix}", headers=api.auth("t2"))
        missing = client.request(method, f"{OPTIMIZE}/{uuid.uuid4()}{suffix}", headers=api.auth("t2"))
        assert foreign.status_code == missing.status_code == 404
        assert foreign.json()["field"] == missing.json()["field"] == "study_id"
    assert client.get(OPTIMIZE, headers=api.auth("t2")).json()["total"] == 0
    assert client.get(f"{OPTIMIZE}/{study_id}").json()["status"] == "queued"  # the refused cancel changed nothing


def test_list_pages_newest_first_and_filters_by_status(api):
    client = api.client
    ids = [start(client, study_name=f"s{i}")["study_id"] for i in range(3)]
    page = client.get(OPTIMIZE, params={"limit": 2}).json()
    assert (page["total"], page["page"], page["page_size"]) == (3, 1, 2)
    assert [s["study_id"] for s in page["studies"]] == ids[:0:-1]
    client.post(f"{OPTIMIZE}/{ids[0]}/cancel")
    cancelled = client.get(OPTIMIZE, params={"status": "cancelled"}).json()
    assert [s["study_id"] for s in cancelled["studies"]] == [ids[0]]
    assert client.get(OPTIMIZE, params={"status": "done"}).json()["field"] == "status"


def test_progress_and_trials_as_the_coordinator_writes_them(api):
    client, app = api.client, api.app
    accepted = start(client)
    study_id = uuid.UUID(accepted["study_id"])
    store = app.state.study_store
    app.state.job_store.claim_next("w1")
    for number in range(5):
        store.record_trial(study_id, trial(number, "RUNNING"))
    finished = [
        trial(0, "COMPLETE", 3.0),
        trial(1, "PRUNED"),
        trial(2, "COMPLETE", 2.0),
        trial(3, "FAIL", error="boom"),
    ]
    for item in finished:
        store.record_trial(study_id, item)
    store.update_progress(study_id, finished[2], {"COMPLETE": 2, "PRUNED": 1, "FAIL": 1})

    study = client.get(f"{OPTIMIZE}/{study_id}").json()
    assert study["status"] == "running"
    assert (study["n_trials_completed"], study["n_trials_pruned"], study["n_trials_failed"]) == (2, 1, 1)
    assert study["best_trial"] == {"trial_id": 2, "value": 2.0, "params": {"learning_rate": 0.12}, "rmse": 3.0}

    page = client.get(f"{OPTIMIZE}/{study_id}/trials", params={"page": 2, "page_size": 2}).json()
    assert (page["study_id"], page["total"], page["page"], page["page_size"]) == (str(study_id), 5, 2, 2)
    assert [(t["trial_id"], t["state"]) for t in page["trials"]] == [(2, "COMPLETE"), (3, "FAIL")]
    complete = page["trials"][0]
    assert complete["value"] == 2.0 and complete["duration_seconds"] == 30.0
    assert complete["datetime_start"] == "2026-01-01T00:02:00Z"
    assert complete["datetime_complete"] == "2026-01-01T00:02:30Z"
    failed = client.get(f"{OPTIMIZE}/{study_id}/trials", params={"state": "FAIL"}).json()
    assert failed["total"] == 1 and failed["trials"][0]["error"] == "boom"
    running = client.get(f"{OPTIMIZE}/{study_id}/trials", params={"state": "RUNNING"}).json()
    assert [t["trial_id"] for t in running["trials"]] == [4]
    for params, field in (({"state": "WAITING"}, "state"), ({"limit": 0}, "limit"), ({"page": 0}, "page")):
        refused = client.get(f"{OPTIMIZE}/{study_id}/trials", params=params)
        assert refused.status_code == 422 and refused.json()["field"] == field


def test_cancel_cancels_the_job_then_is_409(api):
    client, app = api.client, api.app
    accepted = start(client)
    cancelled = client.post(f"{OPTIMIZE}/{accepted['study_id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json() | {"message": None} == {
        "study_id": accepted["study_id"],
        "job_id": accepted["job_id"],
        "status": "cancelled",
        "message": None,
    }
    assert client.get(f"{JOBS}/{accepted['job_id']}").json()["status"] == "cancelled"
    study = client.get(f"{OPTIMIZE}/{accepted['study_id']}").json()
    assert study["status"] == "cancelled" and study["completed_at"] is not None
    again = client.post(f"{OPTIMIZE}/{accepted['study_id']}/cancel")
    assert again.status_code == 409 and again.json()["error"] == "conflict"
    reasons = [event.reason for event in app.state.job_store.events(uuid.UUID(accepted["job_id"]))]
    assert reasons[-1].startswith("study load_forecast_hpo_2025_10 cancelled by key ")


def test_a_running_study_is_cancelled_through_its_job(api):
    client, app = api.client, api.app
    accepted = start(client)
    app.state.job_store.claim_next("w1")
    assert client.post(f"{OPTIMIZE}/{accepted['study_id']}/cancel").json()["status"] == "cancelled"
    assert app.state.job_store.get(uuid.UUID(accepted["job_id"])).status is JobStatus.CANCELLED


def test_bad_ids_are_422_naming_the_field(api):
    client = api.client
    for method, suffix in (("GET", ""), ("GET", "/trials"), ("POST", "/cancel")):
        response = client.request(method, f"{OPTIMIZE}/not-a-uuid{suffix}")
        assert response.status_code == 422 and response.json()["field"] == "study_id"


# -- enable_hpo in POST /jobs/start ----------------------------------------------------------------------------
def job_body(**config):
    return {
        "tenant_id": "t1",
        "model_type": "forecast",
        "model_name": "load_forecast",
        "feature_set": "demo_load",
        "config": {"target_variable": "load_kw", "enable_hpo": True, "hyperparams": SPACE} | config,
        "tags": {"team": "grid"},
    }


def test_a_job_with_enable_hpo_creates_its_study(api):
    client = api.client
    # n_trials is the specification's shorthand in config; the rest of the tuning is config.tuning
    accepted = client.post(
        f"{JOBS}/start", json=job_body(n_trials=30, tuning={"seed": 3, "optimization_strategy": "random"})
    )
    assert accepted.status_code == 202, accepted.text
    job = client.get(f"{JOBS}/{accepted.json()['job_id']}").json()
    assert job["tags"]["team"] == "grid"
    study = client.get(f"{OPTIMIZE}/{job['tags']['study_id']}").json()
    assert study["study_name"] == f"load_forecast-{uuid.UUID(job['job_id']).hex[:8]}"
    assert study["job_id"] == job["job_id"] and study["search_space"] == job["config"]["hyperparams"]
    assert (study["n_trials_total"], study["seed"], study["optimization_strategy"]) == (30, 3, "random")
    assert client.get(OPTIMIZE).json()["total"] == 1


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"hyperparams": {"max_depth": {"type": "int", "low": 9, "high": 3}}}, "config.hyperparams.max_depth"),
        ({"hyperparams": {"nope": {"type": "int", "low": 1, "high": 3}}}, "config.hyperparams.nope"),
        ({"tuning": {"optimization_strategy": "grid"}}, "config.hyperparams.learning_rate"),
        ({"tuning": {"optimization_strategy": "bayes"}}, "config.tuning.optimization_strategy"),
        ({"tuning": {"optimization_strategy": "gp"}}, "config.tuning.optimization_strategy"),  # needs PyTorch
        ({"tuning": {"pruner": "hyperband"}}, "config.tuning.pruner"),
        ({"tuning": {"parallel_jobs": 0}}, "config.tuning.parallel_jobs"),
        ({"tuning": {"timeout_seconds": 0.5}}, "config.tuning.timeout_seconds"),
        ({"tuning": {"seed": -1}}, "config.tuning.seed"),
        ({"tuning": {"tpe": 1}}, "config.tuning.tpe"),
        ({"n_trials": 0}, "config.n_trials"),
        ({"n_trials": 5, "tuning": {"n_trials": 6}}, "config"),
        ({"optimization_strategy": "tpe"}, "config.optimization_strategy"),  # the old flat form
    ],
)
def test_a_bad_space_in_a_job_is_422_naming_the_field(api, engine, config, field):
    client = api.client
    response = client.post(f"{JOBS}/start", json=job_body(**config))
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert counts(engine) == (0, 0, 0)


@pytest.mark.parametrize("pruner", ["median", "successive_halving", "none"])
def test_the_pruner_is_chosen_over_the_api(api, pruner):
    client = api.client
    accepted = client.post(f"{OPTIMIZE}/start", json=study_body(pruner=pruner))
    assert accepted.status_code == 202, accepted.text
    job = client.get(f"{JOBS}/{accepted.json()['job_id']}").json()
    assert job["config"]["tuning"]["pruner"] == pruner
    study = client.get(f"{OPTIMIZE}/{accepted.json()['study_id']}").json()
    assert study["pruner"] == pruner  # read back from the study too


def test_an_unknown_pruner_is_422_naming_it(api, engine):
    client = api.client
    response = client.post(f"{OPTIMIZE}/start", json=study_body(pruner="hyperband"))
    assert response.status_code == 422 and response.json()["field"] == "pruner"
    assert counts(engine) == (0, 0, 0)


def test_gp_is_not_offered(api, engine):
    client = api.client
    response = client.post(f"{OPTIMIZE}/start", json=study_body(optimization_strategy="gp"))
    assert response.status_code == 422 and response.json()["field"] == "optimization_strategy"
    assert "gp" not in STRATEGIES and counts(engine) == (0, 0, 0)


def test_the_strategies_the_api_documents_are_the_samplers():
    assert set(get_args(OptimizationStrategy)) == set(STRATEGIES)
