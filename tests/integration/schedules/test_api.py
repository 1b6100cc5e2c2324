"""The schedules API over HTTP (in-process ASGI client) on SQLite and PostgreSQL, and ``schedule`` in
``POST /jobs/start``. The scheduler is driven with an explicit ``now``; nothing sleeps."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from trainforge.db.tables import schedule_firings, schedules, training_jobs
from trainforge.schedules import Scheduler

JOBS = "/ai/training/jobs"
SCHEDULES = "/ai/training/schedules"


def job(**overrides):
    body = {
        "tenant_id": "t1",
        "model_type": "forecast",
        "model_name": "load_forecast",
        "feature_set": "demo_load",
        "config": {"target_variable": "load_kw", "horizon": 24, "hyperparams": {"n_estimators": 50}},
        "priority": "high",
        "tags": {"team": "grid"},
    }
    return body | overrides


def schedule_body(**overrides):
    return {"tenant_id": "t1", "name": "nightly", "cron": "0 3 * * *", "timezone": "Europe/Berlin", "job": job()} | (
        overrides
    )


def counts(engine):
    with engine.connect() as conn:
        return tuple(
            conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (schedules, schedule_firings, training_jobs)
        )


def fire(app, now: datetime):
    return Scheduler(app.state.schedule_store, app.state.job_store).fire_due(now)


def test_a_schedule_created_over_http_fires_a_job(api):
    client, app = api.client, api.app
    created = client.post(SCHEDULES, json=schedule_body())
    assert created.status_code == 201, created.text
    schedule = created.json()
    assert schedule["status"] == "active" and schedule["cron"] == "0 3 * * *"
    assert schedule["timezone"] == "Europe/Berlin" and schedule["last_job_id"] is None
    next_run_at = datetime.fromisoformat(schedule["next_run_at"])
    assert next_run_at.utcoffset() == timedelta(0)
    assert next_run_at.astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M") == "03:00"
    assert client.get(JOBS).json()["total"] == 0  # nothing runs before the first due time

    [firing] = fire(app, next_run_at + timedelta(seconds=2))

    listed = client.get(JOBS).json()
    assert listed["total"] == 1
    [queued] = listed["jobs"]
    assert queued["job_id"] == str(firing.job_id) and queued["status"] == "queued"
    assert queued["schedule"] == "CRON_TZ=Europe/Berlin 0 3 * * *"
    assert queued["tags"]["schedule_id"] == schedule["schedule_id"]
    assert queued["tags"]["schedule_name"] == "nightly" and queued["tags"]["team"] == "grid"
    detail = client.get(f"{JOBS}/{queued['job_id']}").json()
    assert detail["priority"] == 10 and detail["config"]["hyperparams"]["n_estimators"] == 50
    after = client.get(f"{SCHEDULES}/{schedule['schedule_id']}").json()
    assert after["last_job_id"] == queued["job_id"]
    assert datetime.fromisoformat(after["next_run_at"]) == next_run_at + timedelta(days=1)


def test_list_get_pause_resume_delete(api):
    client, app = api.client, api.app
    ids = [
        client.post(SCHEDULES, json=schedule_body(name=f"s{i}", cron="@daily")).json()["schedule_id"] for i in range(3)
    ]
    page = client.get(SCHEDULES, params={"limit": 2}).json()
    assert (page["total"], page["page"], page["page_size"]) == (3, 1, 2)
    assert [s["schedule_id"] for s in page["schedules"]] == ids[:2]  # oldest first
    assert [s["schedule_id"] for s in client.get(SCHEDULES, params={"limit": 2, "page": 2}).json()["schedules"]] == [
        ids[2]
    ]

    paused = client.post(f"{SCHEDULES}/{ids[0]}/pause")
    assert paused.status_code == 200 and paused.json()["status"] == "paused" and paused.json()["next_run_at"] is None
    assert client.get(SCHEDULES, params={"status": "paused"}).json()["total"] == 1
    far_future = datetime.fromisoformat(client.get(f"{SCHEDULES}/{ids[1]}").json()["next_run_at"]) + timedelta(days=9)
    assert {f.schedule_id for f in fire(app, far_future)} == {UUID(ids[1]), UUID(ids[2])}  # not the paused one

    resumed = client.post(f"{SCHEDULES}/{ids[0]}/resume").json()
    assert resumed["status"] == "active" and resumed["next_run_at"] is not None

    deleted = client.delete(f"{SCHEDULES}/{ids[0]}")
    assert deleted.status_code == 200 and deleted.json()["schedule_id"] == ids[0]
    for method, suffix in (("GET", ""), ("DELETE", ""), ("POST", "/pause"), ("POST", "/resume")):
        missing = client.request(method, f"{SCHEDULES}/{ids[0]}{suffix}")
        assert missing.status_code == 404 and missing.json()["field"] == "schedule_id"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"cron": "0 3 * *"}, "cron"),
        ({"cron": "0 0 30 2 *"}, "cron"),
        ({"cron": "@fortnightly"}, "cron"),
        ({"cron": "H 3 * * *"}, "cron"),
        ({"timezone": "Europe/Atlantis"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"name": "../nightly"}, "name"),
        ({"tenant_id": "t/1"}, "tenant_id"),
        ({"job": job(config={"horizon": 0})}, "job.config.horizon"),
        ({"job": job(config={"target_variable": "no_such_column"})}, "job.config.target_variable"),
        ({"job": job(feature_set="missing_set")}, "job.feature_set"),
        ({"job": job(config={"hyperparams": {"n_estimators": "many"}})}, "job.config.hyperparams.n_estimators"),
        ({"job": job(tenant_id="t2")}, "job.tenant_id"),
        ({"job": job(schedule="@daily")}, "job.schedule"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_invalid_schedules_are_refused_naming_the_field_and_change_nothing(api, engine, change, field):
    client = api.client
    response = client.post(SCHEDULES, json=schedule_body(**change))
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert counts(engine) == (0, 0, 0)


def test_a_taken_name_is_refused(api, engine):
    client = api.client
    assert client.post(SCHEDULES, json=schedule_body()).status_code == 201
    again = client.post(SCHEDULES, json=schedule_body(cron="@weekly"))
    assert again.status_code == 422 and again.json()["field"] == "name"
    assert counts(engine) == (1, 0, 0)


def test_a_tenant_key_cannot_schedule_or_list_for_another_tenant(api, engine):
    client = api.client
    refused = client.post(SCHEDULES, json=schedule_body(), headers=api.auth("t2"))
    assert refused.status_code == 403 and refused.json()["field"] == "tenant_id"
    assert client.get(SCHEDULES, params={"tenant_id": "t1"}, headers=api.auth("t2")).status_code == 403
    client.post(SCHEDULES, json=schedule_body())
    assert client.get(SCHEDULES, headers=api.auth("t2")).json()["total"] == 0
    assert client.get(SCHEDULES).json()["total"] == 1
    assert counts(engine)[0] == 1


def test_schedule_in_jobs_start_queues_the_job_now_and_creates_a_schedule(api, engine):
    client, app = api.client, api.app
    accepted = client.post(f"{JOBS}/start", json=job(schedule="CRON_TZ=Europe/Berlin @daily"))
    assert accepted.status_code == 202, accepted.text
    body = accepted.json()
    assert body["status"] == "queued" and body["schedule_id"] and body["next_run_at"]
    assert "queues it again" in body["message"]

    schedule = client.get(f"{SCHEDULES}/{body['schedule_id']}").json()
    assert (schedule["name"], schedule["cron"], schedule["timezone"]) == ("load_forecast", "@daily", "Europe/Berlin")
    assert schedule["next_run_at"] == body["next_run_at"]
    first = client.get(f"{JOBS}/{body['job_id']}").json()
    assert first["tags"]["schedule_id"] == body["schedule_id"] and "scheduled_for" not in first["tags"]
    assert first["schedule"] == "CRON_TZ=Europe/Berlin @daily"

    fire(app, datetime.fromisoformat(body["next_run_at"]) + timedelta(minutes=1))
    assert client.get(JOBS).json()["total"] == 2

    again = client.post(f"{JOBS}/start", json=job(schedule="@hourly"))  # one such schedule per model
    assert again.status_code == 422 and again.json()["field"] == "schedule"
    assert counts(engine)[0::2] == (1, 2)


def test_jobs_start_without_a_schedule_answers_as_before(api):
    client = api.client
    body = client.post(f"{JOBS}/start", json=job()).json()
    assert body["schedule_id"] is None and body["next_run_at"] is None
    assert body["message"] == "Training job queued successfully"
    assert client.get(f"{JOBS}/{body['job_id']}").json()["schedule"] is None


@pytest.mark.parametrize("schedule", ["every day", "0 3 * *", "CRON_TZ=Nowhere 0 3 * * *", "@reboot", "61 * * * *"])
def test_an_invalid_schedule_in_jobs_start_writes_nothing(api, engine, schedule):
    client = api.client
    refused = client.post(f"{JOBS}/start", json=job(schedule=schedule))
    assert refused.status_code == 422 and refused.json()["field"] == "schedule"
    assert counts(engine) == (0, 0, 0)
