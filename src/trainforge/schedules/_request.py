"""The request that creates a schedule (``POST /ai/training/schedules``): a job request, a cron and a time zone."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from trainforge.errors import as_value_error
from trainforge.fields import ResourceName, TenantId
from trainforge.names import NAME_RULE, TENANT_RULE
from trainforge.schedules._cron import CRON_RULE, MAX_EXPRESSION_CHARS, CronSchedule, check_timezone
from trainforge.submission import JobRequest


class ScheduleRequest(BaseModel):
    """A request to train a model again and again, on a cron schedule."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "tenant_id": "tenant-123",
                    "name": "nightly-load",
                    "cron": "0 3 * * *",
                    "timezone": "Europe/Berlin",
                    "job": {
                        "tenant_id": "tenant-123",
                        "model_type": "forecast",
                        "model_name": "load_forecast",
                        "feature_set": "demo_load",
                        "config": {"target_variable": "load_kw", "horizon": 24},
                    },
                }
            ]
        },
    )

    tenant_id: TenantId = Field(description=f"Tenant that owns the schedule: {TENANT_RULE}.")
    name: ResourceName = Field(description=f"Unique within the tenant: {NAME_RULE}.")
    cron: str = Field(description=f"When to train: {CRON_RULE}.", max_length=MAX_EXPRESSION_CHARS)
    timezone: str = Field(
        default="UTC", max_length=64, description="IANA time zone the cron is read in, e.g. 'Europe/Berlin'."
    )
    job: JobRequest = Field(description="The job each firing queues: the body of POST /jobs/start, without schedule.")

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        return as_value_error(lambda text, field: CronSchedule.parse(text, cron_field=field).expression, value, "cron")

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        return as_value_error(check_timezone, value, "timezone")

    @property
    def cron_schedule(self) -> CronSchedule:
        return CronSchedule(self.cron, self.timezone)
