"""Recurring training: a schedule queues a checked job at every due time of a cron expression in a time zone.

The path of a schedule: a :class:`ScheduleRequest` (:mod:`~trainforge.schedules._request`) is checked and stored by
:func:`create_schedule` (:mod:`~trainforge.schedules._creation`) in the :class:`ScheduleStore`
(:mod:`~trainforge.schedules._store`), due next at a time its :class:`CronSchedule` computes
(:mod:`~trainforge.schedules._cron`); the :class:`Scheduler` (:mod:`~trainforge.schedules._scheduler`) claims each due
time once and queues :func:`job_for` the schedule (:mod:`~trainforge.schedules._records`). See docs/schedules.md.

This package sits above ``jobs`` and ``hpo``: it queues their jobs, and nothing in them imports it.
"""

from trainforge.schedules._creation import create_schedule, start_recurring_job
from trainforge.schedules._cron import CronSchedule
from trainforge.schedules._records import Firing, ScheduleRecord, ScheduleStatus, job_for
from trainforge.schedules._request import ScheduleRequest
from trainforge.schedules._scheduler import Scheduler
from trainforge.schedules._store import ScheduleStore

__all__ = [
    "CronSchedule",
    "Firing",
    "ScheduleRecord",
    "ScheduleRequest",
    "ScheduleStatus",
    "ScheduleStore",
    "Scheduler",
    "create_schedule",
    "job_for",
    "start_recurring_job",
]
