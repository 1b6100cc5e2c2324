"""A schedule store and the job queue it fires into, over the same database (each backend in turn)."""

from __future__ import annotations

import pytest

from trainforge.jobs.store import JobStore
from trainforge.schedules import ScheduleStore


@pytest.fixture
def stores(engine):
    return ScheduleStore(engine), JobStore(engine)
