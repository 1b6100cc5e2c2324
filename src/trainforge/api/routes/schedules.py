"""Recurring training: create, inspect, list, pause, resume and delete schedules (``/ai/training/schedules``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from trainforge.api.deps import FeatureStoreDep, PrincipalDep, ScheduleStoreDep
from trainforge.api.paging import Page, PageQueryDep
from trainforge.api.responses import COMMON, FORBIDDEN, not_found
from trainforge.names import TENANT_PATTERN
from trainforge.schedules import ScheduleRecord, ScheduleRequest, ScheduleStatus, create_schedule

SCHEDULES_PREFIX = "/ai/training/schedules"


class ScheduleDetail(BaseModel):
    schedule_id: UUID
    tenant_id: str
    name: str
    cron: str
    timezone: str
    status: ScheduleStatus
    next_run_at: datetime | None = Field(description="When the schedule next queues a job (UTC); null while paused.")
    last_fired_at: datetime | None = Field(description="When it last queued a job; null before its first firing.")
    last_job_id: UUID | None = Field(description="The job its last firing queued.")
    created_at: datetime
    updated_at: datetime
    job: dict[str, Any] = Field(description="The checked job request that each firing queues.")

    @classmethod
    def of(cls, schedule: ScheduleRecord) -> ScheduleDetail:
        return cls.model_validate(schedule, from_attributes=True)


class ScheduleList(Page):
    schedules: list[ScheduleDetail]


class ScheduleDeleted(BaseModel):
    schedule_id: UUID
    message: str


router = APIRouter(
    prefix=SCHEDULES_PREFIX,
    tags=["training schedules"],
    responses=COMMON,
)
NOT_FOUND = not_found("schedule")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ScheduleDetail,
    responses=FORBIDDEN,
)
def create(
    request: ScheduleRequest, schedules: ScheduleStoreDep, features: FeatureStoreDep, principal: PrincipalDep
) -> ScheduleDetail:
    """Create a schedule that queues ``job`` at every due time of ``cron`` in ``timezone``. The job is checked as
    ``POST /jobs/start`` checks it; nothing runs until the first due time (``next_run_at``)."""
    principal.act_for(request.tenant_id)
    return ScheduleDetail.of(
        create_schedule(request, schedules=schedules, features=features, created_by=principal.key_id)
    )


@router.get("", response_model=ScheduleList, responses=FORBIDDEN)
def list_schedules(
    schedules: ScheduleStoreDep,
    principal: PrincipalDep,
    paging: PageQueryDep,
    tenant_id: Annotated[str | None, Query(pattern=TENANT_PATTERN.pattern, description="Default: the key's.")] = None,
    status: Annotated[ScheduleStatus | None, Query()] = None,
) -> ScheduleList:
    """Schedules, oldest first, one page at a time (``page``, ``page_size`` or its alias ``limit``). An admin key
    without ``tenant_id`` lists every tenant's."""
    tenant = principal.act_for(tenant_id)
    records, total = schedules.list(tenant_id=tenant, status=status, page=paging.page, page_size=paging.page_size)
    return ScheduleList(schedules=[ScheduleDetail.of(r) for r in records], **paging.answer(total))


@router.get("/{schedule_id}", response_model=ScheduleDetail, responses=NOT_FOUND)
def get(schedule_id: UUID, schedules: ScheduleStoreDep, principal: PrincipalDep) -> ScheduleDetail:
    """One schedule, with its next due time and the job it last queued."""
    return ScheduleDetail.of(schedules.get(schedule_id, tenant_id=principal.tenant_scope))


@router.delete("/{schedule_id}", response_model=ScheduleDeleted, responses=NOT_FOUND)
def delete(schedule_id: UUID, schedules: ScheduleStoreDep, principal: PrincipalDep) -> ScheduleDeleted:
    """Delete a schedule. The jobs it queued stay (and keep their ``schedule_id`` tag)."""
    schedules.delete(schedule_id, tenant_id=principal.tenant_scope)
    return ScheduleDeleted(schedule_id=schedule_id, message="Schedule deleted")


@router.post("/{schedule_id}/pause", response_model=ScheduleDetail, responses=NOT_FOUND)
def pause(schedule_id: UUID, schedules: ScheduleStoreDep, principal: PrincipalDep) -> ScheduleDetail:
    """Stop queueing jobs until resumed. Pausing a paused schedule changes nothing."""
    return ScheduleDetail.of(schedules.pause(schedule_id, tenant_id=principal.tenant_scope))


@router.post("/{schedule_id}/resume", response_model=ScheduleDetail, responses=NOT_FOUND)
def resume(schedule_id: UUID, schedules: ScheduleStoreDep, principal: PrincipalDep) -> ScheduleDetail:
    """Queue jobs again from the first due time after now; due times missed while paused are not caught up."""
    return ScheduleDetail.of(schedules.resume(schedule_id, tenant_id=principal.tenant_scope))
