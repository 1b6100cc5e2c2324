"""Recurring training: a schedule queues a checked job at every due time of a cron expression in a time zone.

The path of a schedule: a :class:`ScheduleRequest` (:mod:`~trainforge.schedules.request`) is checked and stored by
:func:`create_schedule` (:mod:`~trainforge.schedules.creation`) in the :class:`ScheduleStore`
(:mod:`~trainforge.schedules.store`), due next at a time its :class:`CronSchedule` computes
(:mod:`~trainforge.schedules.cron`); the :class:`Scheduler` (:mod:`~trainforge.schedules.scheduler`) claims each due
time once and queues :func:`job_for` the schedule (:mod:`~trainforge.schedules.records`). See docs/schedules.md.

This package sits above ``jobs`` and ``hpo``: it queues their jobs, and nothing in them imports it.
"""

from trainforge.schedules.creation import create_schedule, start_recurring_job
from trainforge.schedules.cron import CronSchedule
from trainforge.schedules.records import Firing, ScheduleRecord, ScheduleStatus, job_for
from trainforge.schedules.request import ScheduleRequest
from trainforge.schedules.scheduler import Scheduler
from trainforge.schedules.store import ScheduleStore

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
