"""Creating schedules: the job a schedule carries is checked as a job submission is, then the schedule is stored.

Two requests come through here: ``POST /ai/training/schedules`` (:func:`create_schedule`) and ``POST /jobs/start``
with a ``schedule`` (:func:`start_recurring_job`, which also queues the first job at once).
"""

from __future__ import annotations

from datetime import datetime

from trainforge.db.engine import write_transaction
from trainforge.errors import InvalidInput
from trainforge.features.store import ParquetFeatureStore
from trainforge.jobs.records import JobRecord
from trainforge.jobs.store import JobStore
from trainforge.schedules._cron import CronSchedule
from trainforge.schedules._records import ScheduleRecord, job_for
from trainforge.schedules._request import ScheduleRequest
from trainforge.schedules._store import ScheduleStore
from trainforge.submission import JobRequest, enqueue_job_in, prepare_job


def create_schedule(
    request: ScheduleRequest,
    *,
    schedules: ScheduleStore,
    features: ParquetFeatureStore,
    created_by: str | None = None,
    now: datetime | None = None,
) -> ScheduleRecord:
    """Check the schedule's job as a job submission is checked, then store the schedule.

    Raises:
        InvalidInput: the job cannot be trained, names another tenant or carries a schedule itself, or the name is
            taken (the field is named in the error).
    """
    if request.job.tenant_id != request.tenant_id:
        raise InvalidInput("job.tenant_id must be the schedule's tenant_id", field="job.tenant_id")
    if request.job.schedule is not None:
        raise InvalidInput("a schedule's job cannot carry a schedule of its own; leave it null", field="job.schedule")
    try:
        job = prepare_job(request.job, features=features, created_by=created_by)
    except InvalidInput as error:  # located in the body's "job" object
        raise InvalidInput(error.message, field=f"job.{error.field}" if error.field else "job") from None
    return schedules.create(
        tenant_id=request.tenant_id,
        name=request.name,
        cron=request.cron_schedule,
        job=job,
        created_by=created_by,
        now=now,
    )


def start_recurring_job(
    request: JobRequest,
    *,
    store: JobStore,
    schedules: ScheduleStore,
    features: ParquetFeatureStore,
    created_by: str | None = None,
    now: datetime | None = None,
) -> tuple[JobRecord, ScheduleRecord]:
    """``POST /jobs/start`` with a ``schedule``: queue the job now and create a schedule that queues it again.

    The schedule is named after the model (``model_name``), so one model has one such schedule per tenant. Nothing is
    written unless every check passes, and the schedule is stored before the job is queued: a name that is taken
    refuses the whole request.

    Raises:
        InvalidInput: the request cannot be trained, its ``schedule`` is not a valid cron (with an optional
            ``CRON_TZ=<zone>`` prefix), or the tenant already has a schedule named after the model.
    """
    if request.schedule is None:
        raise InvalidInput("start_recurring_job needs a schedule", field="schedule")
    cron = CronSchedule.from_text(request.schedule, field="schedule")
    job = prepare_job(request, features=features, created_by=created_by)
    schedule = schedules.create(
        tenant_id=request.tenant_id,
        name=request.model_name,
        cron=cron,
        job=job,
        created_by=created_by,
        now=now,
        name_field="schedule",
    )
    with write_transaction(store.engine) as conn:
        first = enqueue_job_in(
            conn, job_for(schedule), jobs=store, reason=f"submitted with schedule {schedule.schedule_id}"
        )
    return first, schedule
