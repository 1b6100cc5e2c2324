"""HPO studies and the mirror of their trials, on the metadata database (SQLite or PostgreSQL).

Contract of :class:`StudyStore`:
- A study belongs to one training job (``config.enable_hpo``) and is created in the transaction that queues the job
  (:meth:`StudyStore.create_in` inside :meth:`trainforge.jobs.store.JobStore.enqueue_in`'s connection), so there is
  never a job without its study or a study without its job.
- A study's status *is* its job's: every read joins ``training_jobs``, so it is never stale. Cancelling a study is
  cancelling its job (``JobStore.transition``). The ``status`` column is what the coordinator last recorded
  (:meth:`set_status`, :meth:`update_progress`), for whoever reads the table directly.
- ``study_name`` is unique per tenant: a second one is :class:`StudyNameTaken` (409), also when two requests race.
- ``hpo_trials`` mirrors Optuna's trials, written by the coordinator's listener (:meth:`record_trial`, an upsert
  that never moves a finished trial back to RUNNING); the best trial and the counts are kept on the study row
  (:meth:`update_progress`), so reading a study is one indexed row however many trials it has. Their ``_in``
  forms (:meth:`record_trials_in`, :meth:`update_progress_in`) write inside the caller's transaction, so that the
  worker commits a batch of trials, the study's counts and its job's progress together.
- ``tenant_id`` arguments, where given, scope the query itself: another tenant's study is "not found".
- All methods are thread-safe (each uses its own connection) and may be called from many processes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from trainforge.db.engine import read_transaction, write_transaction
from trainforge.db.tables import hpo_studies, hpo_trials, training_jobs
from trainforge.db.types import utcnow
from trainforge.errors import StudyNameTaken, StudyNotFound
from trainforge.hpo.records import NewStudy, StudyRecord, TrialRecord, TrialRow, TrialState
from trainforge.jobs.status import JobStatus

studies = hpo_studies.c
trials = hpo_trials.c
jobs = training_jobs.c
_TRIAL_KEY = ("study_id", "trial_number")


# A study's columns and the job columns it follows, in one query.
_STUDY_QUERY = select(
    hpo_studies,
    jobs.status.label("job_status"),
    jobs.model_name.label("job_model_name"),
    jobs.model_id.label("job_model_id"),
    jobs.error_message.label("job_error_message"),
    jobs.updated_at.label("job_updated_at"),
    jobs.completed_at.label("job_completed_at"),
    jobs.config.label("job_config"),  # its tuning: the pruner, which the study row does not keep
).join_from(hpo_studies, training_jobs, studies.job_id == jobs.job_id)


class StudyStore:
    """Studies and their trials over one SQLAlchemy engine (see the module docstring for the contract)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- creating ------------------------------------------------------------------------------------------
    def create_in(self, conn: Connection, study: NewStudy, *, now: datetime | None = None) -> StudyRecord:
        """Insert ``study`` (status ``queued``) inside the caller's transaction, the one that queued its job.

        Raises:
            StudyNameTaken: the tenant already has a study of this name (the caller's transaction must roll back).
        """
        now = now or utcnow()
        if self._name_taken(conn, study.tenant_id, study.study_name):
            raise StudyNameTaken(study.tenant_id, study.study_name)
        try:
            conn.execute(
                insert(hpo_studies).values(
                    study_id=study.study_id,
                    tenant_id=study.tenant_id,
                    study_name=study.study_name,
                    job_id=study.job_id,
                    model_type=study.model_type,
                    feature_set=study.feature_set,
                    search_space=study.search_space,
                    optimization_strategy=study.optimization_strategy,
                    n_trials=study.n_trials,
                    parallel_jobs=study.parallel_jobs,
                    timeout_seconds=study.timeout_seconds,
                    seed=study.seed,
                    status=JobStatus.QUEUED.value,
                    n_trials_completed=0,
                    n_trials_pruned=0,
                    n_trials_failed=0,
                    created_at=now,
                    updated_at=now,
                )
            )
        except IntegrityError:  # the unique (tenant_id, study_name) index, when another request got in between
            raise StudyNameTaken(study.tenant_id, study.study_name) from None
        return self._fetch(conn, study.study_id)

    # -- reading -------------------------------------------------------------------------------------------
    def get(self, study_id: UUID, *, tenant_id: str | None = None) -> StudyRecord:
        """One study.

        Raises:
            StudyNotFound: no such study (for this tenant); ``field="study_id"``.
        """
        query = _STUDY_QUERY.where(studies.study_id == study_id)
        if tenant_id is not None:
            query = query.where(studies.tenant_id == tenant_id)
        with read_transaction(self.engine) as conn:
            row = conn.execute(query).mappings().one_or_none()
        if row is None:
            raise StudyNotFound(study_id)
        return StudyRecord.from_row(row)

    def get_by_job(self, job_id: UUID) -> StudyRecord | None:
        """The study a job runs, or None for a job without one (the worker's lookup; not tenant-scoped)."""
        with read_transaction(self.engine) as conn:
            row = conn.execute(_STUDY_QUERY.where(studies.job_id == job_id)).mappings().one_or_none()
        return None if row is None else StudyRecord.from_row(row)

    def list(
        self,
        *,
        tenant_id: str | None = None,
        status: JobStatus | None = None,
        page: int = 1,
        page_size: int = 20,
    ) -> tuple[list[StudyRecord], int]:
        """A page of studies, newest first, and the total count matching the filters (``status``: the job's)."""
        conditions = []
        if tenant_id is not None:
            conditions.append(studies.tenant_id == tenant_id)
        if status is not None:
            conditions.append(jobs.status == status.value)
        with read_transaction(self.engine) as conn:
            total = conn.execute(
                select(func.count())
                .select_from(hpo_studies.join(training_jobs, studies.job_id == jobs.job_id))
                .where(*conditions)
            ).scalar_one()
            rows = conn.execute(
                _STUDY_QUERY.where(*conditions)
                .order_by(studies.created_at.desc(), studies.study_id)
                .limit(page_size)
                .offset((page - 1) * page_size)
            ).mappings()
            return [StudyRecord.from_row(row) for row in rows], total

    def list_trials(
        self,
        study_id: UUID,
        *,
        tenant_id: str | None = None,
        state: TrialState | None = None,
        page: int = 1,
        page_size: int = 20,
    ) -> tuple[list[TrialRow], int]:
        """A page of the study's trials in trial order (all, or those in ``state``) and how many there are.

        Raises:
            StudyNotFound: no such study (for this tenant); ``field="study_id"``.
        """
        owner = select(studies.study_id).where(studies.study_id == study_id)
        if tenant_id is not None:
            owner = owner.where(studies.tenant_id == tenant_id)
        conditions = [trials.study_id == study_id]
        if state is not None:
            conditions.append(trials.state == state.value)
        with read_transaction(self.engine) as conn:
            if conn.execute(owner).first() is None:
                raise StudyNotFound(study_id)
            total = conn.execute(select(func.count()).select_from(hpo_trials).where(*conditions)).scalar_one()
            rows = conn.execute(
                select(hpo_trials)
                .where(*conditions)
                .order_by(trials.trial_number)
                .limit(page_size)
                .offset((page - 1) * page_size)
            ).mappings()
            return [TrialRow.from_row(row) for row in rows], total

    # -- the coordinator's writes --------------------------------------------------------------------------
    def record_trial(self, study_id: UUID, trial: TrialRecord) -> None:
        """Insert or update the mirror of one trial. A finished trial is never moved back to RUNNING (a late or
        repeated "started" report changes nothing). Naive datetimes (Optuna's) are read as the local time."""
        with write_transaction(self.engine) as conn:
            self.record_trials_in(conn, study_id, [trial])

    def record_trials_in(self, conn: Connection, study_id: UUID, records: Iterable[TrialRecord]) -> None:
        """:meth:`record_trial` for several trials in one statement, inside a write transaction the caller holds
        (the worker writes a batch of trials with the study's counts and its job's progress in one commit).

        Args:
            conn: The caller's write transaction.
            study_id: The study.
            records: Its trials; a trial number appears at most once (PostgreSQL refuses to upsert a row twice in
                one statement).
        """
        rows = [_trial_row(study_id, trial) for trial in records]
        if not rows:
            return
        statement = _dialect_insert(conn.dialect.name)
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=[trials[name] for name in _TRIAL_KEY],
                set_={name: statement.excluded[name] for name in rows[0] if name not in _TRIAL_KEY},
                where=(trials.state == TrialState.RUNNING.value)
                | (statement.excluded.state != TrialState.RUNNING.value),
            ),
            rows,
        )

    def update_progress(
        self,
        study_id: UUID,
        best: TrialRecord | None,
        counts: Mapping[str, int],
        status: JobStatus | str | None = None,
    ) -> None:
        """Record the study's counts of finished trials (``counts`` by state: ``COMPLETE``, ``PRUNED``, ``FAIL``),
        its best trial so far (None leaves the recorded one), and optionally its status.

        Raises:
            StudyNotFound: no such study.
        """
        with write_transaction(self.engine) as conn:
            self.update_progress_in(conn, study_id, best, counts, status)

    def update_progress_in(
        self,
        conn: Connection,
        study_id: UUID,
        best: TrialRecord | None,
        counts: Mapping[str, int],
        status: JobStatus | str | None = None,
    ) -> None:
        """:meth:`update_progress` inside a write transaction the caller holds.

        Raises:
            StudyNotFound: no such study (the caller's transaction should roll back).
        """
        values: dict[str, Any] = {
            "n_trials_completed": counts.get(TrialState.COMPLETE, 0),
            "n_trials_pruned": counts.get(TrialState.PRUNED, 0),
            "n_trials_failed": counts.get(TrialState.FAIL, 0),
        }
        if best is not None:
            values |= {
                "best_trial_number": best.number,
                "best_value": best.value,
                "best_params": dict(best.params),
                "best_rmse": best.rmse,
            }
        self._update_in(conn, study_id, values, status)

    def set_status(self, study_id: UUID, status: JobStatus | str) -> None:
        """Record the study's status (a job status: queued, running, completed, failed, cancelled).

        Raises:
            StudyNotFound: no such study.
            ValueError: ``status`` is not a job status.
        """
        self._update(study_id, {}, status)

    # -- internals -----------------------------------------------------------------------------------------
    def _update(self, study_id: UUID, values: dict[str, Any], status: JobStatus | str | None) -> None:
        with write_transaction(self.engine) as conn:
            self._update_in(conn, study_id, values, status)

    @staticmethod
    def _update_in(conn: Connection, study_id: UUID, values: dict[str, Any], status: JobStatus | str | None) -> None:
        now = utcnow()
        values = {**values, "updated_at": now}
        if status is not None:
            status = JobStatus(status)
            values |= {"status": status.value, "completed_at": now if status.is_terminal else None}
        if conn.execute(update(hpo_studies).where(studies.study_id == study_id).values(**values)).rowcount != 1:
            raise StudyNotFound(study_id)

    @staticmethod
    def _name_taken(conn: Connection, tenant_id: str, study_name: str) -> bool:
        query = select(studies.study_id).where(studies.tenant_id == tenant_id, studies.study_name == study_name)
        return conn.execute(query).first() is not None

    @staticmethod
    def _fetch(conn: Connection, study_id: UUID) -> StudyRecord:
        return StudyRecord.from_row(conn.execute(_STUDY_QUERY.where(studies.study_id == study_id)).mappings().one())


def _trial_row(study_id: UUID, trial: TrialRecord) -> dict[str, Any]:
    return {
        "study_id": study_id,
        "trial_number": trial.number,
        "state": TrialState(trial.state).value,
        "value": trial.value,
        "rmse": trial.rmse,
        "params": dict(trial.params),
        "datetime_start": _aware(trial.datetime_start),
        "datetime_complete": _aware(trial.datetime_complete),
        "duration_seconds": trial.duration_seconds,
        "error": trial.error,
    }


def _aware(value: datetime | None) -> datetime | None:
    # Optuna stamps trials with naive local time (datetime.now()); astimezone() reads a naive value as local.
    return value if value is None or value.tzinfo is not None else value.astimezone()


def _dialect_insert(dialect: str):
    if dialect == "postgresql":
        return postgresql.insert(hpo_trials)
    if dialect == "sqlite":
        return sqlite.insert(hpo_trials)
    raise NotImplementedError(f"studies need SQLite or PostgreSQL, not {dialect}")
