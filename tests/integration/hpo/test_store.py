"""The study store on SQLite and PostgreSQL: a study is created with its job, follows its job's status, mirrors
its trials, and is scoped to its tenant."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from trainforge.db.tables import hpo_studies, hpo_trials, training_jobs
from trainforge.errors import NotFound, StudyNameTaken
from trainforge.hpo.records import NewStudy, TrialState
from trainforge.hpo.store import StudyStore
from trainforge.jobs.records import NewJob
from trainforge.jobs.status import JobStatus
from trainforge.jobs.store import JobStore
from trainforge.submission import default_study_name, enqueue_with_study

SPACE = {"learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True}, "n_estimators": 100}


@dataclass
class Trial:
    """What the coordinator's TrialRecord carries (the store reads these attributes only)."""

    number: int
    state: str
    value: float | None = None
    params: dict[str, Any] = field(default_factory=lambda: {"learning_rate": 0.1})
    rmse: float | None = None
    datetime_start: datetime = field(default_factory=lambda: datetime.now(UTC))
    datetime_complete: datetime | None = None
    duration_seconds: float | None = None
    best_iteration: int | None = None
    error: str | None = None
    intermediate: dict[int, float] = field(default_factory=dict)


def hpo_job(tenant: str = "t1", **tuning: Any) -> NewJob:
    return NewJob(
        tenant_id=tenant,
        model_type="forecast",
        model_name="load_forecast",
        feature_set="demo_load",
        config={
            "target_variable": "load_kw",
            "horizon": 24,
            "enable_hpo": True,
            "hyperparams": SPACE,
            "tuning": {
                "n_trials": 20,
                "optimization_strategy": "random",
                "parallel_jobs": 3,
                "timeout_seconds": 600.0,
                "seed": 7,
            }
            | tuning,
        },
        priority=10,
    )


@pytest.fixture
def stores(engine):
    return JobStore(engine), StudyStore(engine)


def create(stores, name: str | None = "study-1", tenant: str = "t1"):
    jobs, studies = stores
    return enqueue_with_study(hpo_job(tenant), jobs=jobs, studies=studies, study_name=name)


def counts(engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return tuple(
            conn.execute(select(func.count()).select_from(table)).scalar_one() for table in (training_jobs, hpo_studies)
        )


def test_a_study_is_created_with_its_job_and_mirrors_its_config(stores):
    job, study = create(stores)
    assert study.job_id == job.job_id and study.tenant_id == "t1" and study.study_name == "study-1"
    assert (study.model_type, study.model_name, study.feature_set) == ("forecast", "load_forecast", "demo_load")
    assert study.search_space == SPACE and study.optimization_strategy == "random"
    assert (study.n_trials, study.parallel_jobs, study.timeout_seconds, study.seed) == (20, 3, 600.0, 7)
    assert study.status is JobStatus.QUEUED and study.best is None and study.completed_at is None
    assert (study.n_trials_completed, study.n_trials_pruned, study.n_trials_failed) == (0, 0, 0)
    assert job.tags == {"study_id": str(study.study_id)}
    _jobs, studies = stores
    assert studies.get(study.study_id) == study
    assert studies.get_by_job(job.job_id) == study
    assert studies.get_by_job(uuid.uuid4()) is None


def test_the_default_name_is_the_model_name_and_the_job_id():
    job_id = uuid.UUID("0123456789abcdef0123456789abcdef")
    assert default_study_name("load_forecast", job_id) == "load_forecast-01234567"
    assert len(default_study_name("m" * 128, job_id)) == 128


def test_a_study_without_a_name_is_named_after_its_job(stores):
    job, study = create(stores, name=None)
    assert study.study_name == f"load_forecast-{job.job_id.hex[:8]}"


def test_a_taken_name_refuses_the_study_and_its_job(stores, engine):
    create(stores)
    with pytest.raises(StudyNameTaken) as refused:
        create(stores)
    assert refused.value.http_status == 409 and refused.value.field == "study_name"
    assert counts(engine) == (1, 1)  # the second job was rolled back with its study
    create(stores, tenant="t2")  # names are per tenant
    assert counts(engine) == (2, 2)


def test_the_unique_index_catches_a_race_past_the_check(stores, engine, monkeypatch):
    create(stores)
    # Another request inserted the name after this one looked: only the unique index can refuse it now.
    monkeypatch.setattr(StudyStore, "_name_taken", staticmethod(lambda *args: False))
    with pytest.raises(StudyNameTaken):
        create(stores)
    assert counts(engine) == (1, 1)


def test_the_status_follows_the_job(stores):
    jobs, studies = stores
    job, study = create(stores)
    claimed = jobs.claim_next("w1")
    assert claimed.job_id == job.job_id
    running = studies.get(study.study_id)
    assert running.status is JobStatus.RUNNING and running.completed_at is None
    assert running.updated_at >= claimed.updated_at
    jobs.transition(job.job_id, JobStatus.FAILED, reason="boom", error_message="boom")
    failed = studies.get(study.study_id)
    assert failed.status is JobStatus.FAILED and failed.error_message == "boom" and failed.completed_at is not None
    jobs.transition(job.job_id, JobStatus.QUEUED, reason="retry")
    assert studies.get(study.study_id).status is JobStatus.QUEUED
    assert studies.get(study.study_id).completed_at is None  # the old end is not shown for a queued study
    jobs.transition(job.job_id, JobStatus.CANCELLED, reason="stop")
    assert studies.get(study.study_id).status is JobStatus.CANCELLED


def test_another_tenants_study_is_not_found(stores):
    _jobs, studies = stores
    _job, study = create(stores)
    assert studies.get(study.study_id, tenant_id="t1").study_id == study.study_id
    for call in (
        lambda: studies.get(study.study_id, tenant_id="t2"),
        lambda: studies.list_trials(study.study_id, tenant_id="t2"),
        lambda: studies.get(uuid.uuid4()),
        lambda: studies.list_trials(uuid.uuid4()),
    ):
        with pytest.raises(NotFound) as missing:
            call()
        assert missing.value.field == "study_id"


def test_trials_are_mirrored_by_upsert_and_never_go_back_to_running(stores):
    _jobs, studies = stores
    _job, study = create(stores)
    start = datetime.now(UTC)
    studies.record_trial(study.study_id, Trial(0, "RUNNING", datetime_start=start))
    [row], total = studies.list_trials(study.study_id)
    assert total == 1 and row.state is TrialState.RUNNING and row.value is None
    done = Trial(
        0, "COMPLETE", value=1.5, rmse=2.5, datetime_start=start, datetime_complete=start + timedelta(seconds=3)
    )
    studies.record_trial(study.study_id, done)
    studies.record_trial(study.study_id, Trial(0, "RUNNING", datetime_start=start))  # late: ignored
    [row], _total = studies.list_trials(study.study_id)
    assert (row.state, row.value, row.rmse, row.number) == (TrialState.COMPLETE, 1.5, 2.5, 0)
    assert row.datetime_complete == start + timedelta(seconds=3)
    failed = Trial(1, "FAIL", error="ValueError: boom", datetime_start=datetime.now())  # naive: Optuna's local time
    studies.record_trial(study.study_id, failed)
    row = studies.list_trials(study.study_id, state=TrialState.FAIL)[0][0]
    assert row.error == "ValueError: boom" and row.datetime_start.tzinfo is not None
    assert abs(row.datetime_start - datetime.now(UTC)) < timedelta(minutes=1)
    with pytest.raises(ValueError):
        studies.record_trial(study.study_id, Trial(2, "EXPLODED"))


def test_trials_page_in_order_filtered_by_state(stores):
    _jobs, studies = stores
    _job, study = create(stores)
    for number in range(7):
        state = "PRUNED" if number % 3 == 0 else "COMPLETE"
        studies.record_trial(study.study_id, Trial(number, state, value=float(number)))
    page, total = studies.list_trials(study.study_id, page=2, page_size=3)
    assert total == 7 and [row.number for row in page] == [3, 4, 5]
    last, _total = studies.list_trials(study.study_id, page=3, page_size=3)
    assert [row.number for row in last] == [6]
    pruned, total = studies.list_trials(study.study_id, state=TrialState.PRUNED)
    assert total == 3 and [row.number for row in pruned] == [0, 3, 6]
    assert studies.list_trials(study.study_id, page=100) == ([], 7)


def test_progress_records_counts_and_the_best_trial(stores):
    _jobs, studies = stores
    _job, study = create(stores)
    best = Trial(4, "COMPLETE", value=0.9, rmse=1.2, params={"learning_rate": 0.05})
    studies.update_progress(study.study_id, best, {"COMPLETE": 5, "PRUNED": 2, "FAIL": 1})
    read = studies.get(study.study_id)
    assert (read.n_trials_completed, read.n_trials_pruned, read.n_trials_failed) == (5, 2, 1)
    assert (read.best.number, read.best.value, read.best.rmse) == (4, 0.9, 1.2)
    assert read.best.params == {"learning_rate": 0.05}
    studies.update_progress(study.study_id, None, {TrialState.COMPLETE: 6}, status="running")
    read = studies.get(study.study_id)
    assert read.best.number == 4 and read.n_trials_completed == 6 and read.n_trials_pruned == 0
    assert read.status is JobStatus.QUEUED  # the job's status, whatever the coordinator recorded
    with pytest.raises(NotFound):
        studies.update_progress(uuid.uuid4(), None, {})


def test_set_status_records_the_coordinators_word(stores, engine):
    _jobs, studies = stores
    _job, study = create(stores)
    studies.set_status(study.study_id, JobStatus.COMPLETED)
    with engine.connect() as conn:
        status, completed_at = conn.execute(
            select(hpo_studies.c.status, hpo_studies.c.completed_at).where(hpo_studies.c.study_id == study.study_id)
        ).one()
    assert status == "completed" and completed_at is not None
    with pytest.raises(ValueError):
        studies.set_status(study.study_id, "exploded")
    with pytest.raises(NotFound):
        studies.set_status(uuid.uuid4(), "running")


def test_list_is_newest_first_by_tenant_and_job_status(stores):
    jobs, studies = stores
    first = create(stores, name="a")[1]
    second = create(stores, name="b")[1]
    create(stores, name="c", tenant="t2")
    records, total = studies.list(tenant_id="t1")
    assert total == 2 and [r.study_id for r in records] == [second.study_id, first.study_id]
    assert studies.list()[1] == 3
    jobs.transition(first.job_id, JobStatus.CANCELLED, reason="stop")
    cancelled, total = studies.list(tenant_id="t1", status=JobStatus.CANCELLED)
    assert total == 1 and cancelled[0].study_id == first.study_id
    page, total = studies.list(page=3, page_size=1)
    assert total == 3 and len(page) == 1


def test_a_5000_trial_study_reads_fast(stores, engine):
    _jobs, studies = stores
    _job, study = create(stores)
    now = datetime.now(UTC)
    rows = [
        {
            "study_id": study.study_id,
            "trial_number": n,
            "state": "COMPLETE" if n % 4 else "PRUNED",
            "value": 10.0 - n / 1000,
            "params": {"learning_rate": 0.1, "n_estimators": 100},
            "datetime_start": now,
        }
        for n in range(5000)
    ]
    with engine.begin() as conn:
        conn.execute(insert(hpo_trials), rows)
    studies.update_progress(study.study_id, Trial(4999, "COMPLETE", value=5.001), {"COMPLETE": 3750, "PRUNED": 1250})
    clock = time.perf_counter()
    read = studies.get(study.study_id)
    page, total = studies.list_trials(study.study_id, state=TrialState.PRUNED, page=51, page_size=20)
    elapsed = time.perf_counter() - clock
    assert read.best.number == 4999 and read.n_trials_completed == 3750
    assert total == 1250 and [row.number for row in page] == list(range(4000, 4080, 4))
    assert elapsed < 1.0, elapsed  # indexed reads; loading every trial would take far longer


def test_new_study_reads_the_jobs_config(stores):
    jobs, _studies = stores
    job = jobs.enqueue(hpo_job(timeout_seconds=None, seed=None))
    study = NewStudy.for_job(job, study_name="x")
    assert (study.timeout_seconds, study.seed, study.n_trials, study.search_space) == (None, None, 20, SPACE)


def test_the_coordinators_trial_records_are_mirrored(stores):
    from trainforge.hpo.coordinator import TrialRecord

    _jobs, studies = stores
    _job, study = create(stores)
    start = datetime.now(UTC)
    record = TrialRecord(
        number=0,
        state="COMPLETE",
        value=1.25,
        params={"learning_rate": 0.07, "n_estimators": 100},
        rmse=1.75,
        datetime_start=start,
        datetime_complete=start + timedelta(seconds=2),
        duration_seconds=2.0,
        best_iteration=42,
        error=None,
        intermediate={10: 1.5, 20: 1.3},
    )
    studies.record_trial(study.study_id, record)
    studies.update_progress(study.study_id, record, {"COMPLETE": 1})
    [row], _total = studies.list_trials(study.study_id)
    assert (row.value, row.rmse, row.params, row.duration_seconds) == (1.25, 1.75, record.params, 2.0)
    assert studies.get(study.study_id).best.value == 1.25
