"""The body of ``POST /ai/training/jobs/start``: one definition, used by the API, the CLI and the demo."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator

from trainforge.errors import as_value_error
from trainforge.jobs.status import PRIORITY_LEVELS, PRIORITY_MAX, PRIORITY_MIN, priority_value
from trainforge.names import NAME_PATTERN, NAME_RULE, TENANT_PATTERN, TENANT_RULE, check_name, check_tenant
from trainforge.pipeline.config import LABEL_RULE, ModelType, TrainingConfig, check_label

TagKey = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(check_label)]
TagValue = Annotated[str, StringConstraints(max_length=256), AfterValidator(check_label)]
# The schema the API documents for `priority` (the Python type, str | int, is checked by priority_value).
PRIORITY_SCHEMA = {
    "anyOf": [
        {"type": "string", "enum": list(PRIORITY_LEVELS)},
        {"type": "integer", "minimum": PRIORITY_MIN, "maximum": PRIORITY_MAX},
    ]
}


def _not_a_boolean(value: object) -> object:
    # Before validation: lax int validation would take `true` as 1.
    if isinstance(value, bool):
        raise ValueError(f"priority must be one of {', '.join(PRIORITY_LEVELS)} or an integer, not a boolean")
    return value


def _known_priority(value: str | int) -> str | int:
    priority_value(value)  # raises ValueError with the rule
    return value


# A job's priority as requests give it (a word or an integer), checked; every request type with a priority uses it.
Priority = Annotated[str | int, BeforeValidator(_not_a_boolean), AfterValidator(_known_priority)]


class JobRequest(BaseModel):
    """A request to train one model."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={
            "examples": [
                {
                    "tenant_id": "tenant-123",
                    "model_type": "forecast",
                    "model_name": "load_forecast",
                    "feature_set": "demo_load",
                    "config": {
                        "start_date": "2023-01-01T00:00:00Z",
                        "end_date": "2024-01-01T00:00:00Z",
                        "target_variable": "load_kw",
                        "horizon": 24,
                        "validation_split": 0.2,
                        "test_split": 0.1,
                        "hyperparams": {"n_estimators": 200, "learning_rate": 0.05},
                    },
                    "priority": "normal",
                }
            ]
        },
    )

    # The patterns are documented in the schema; the validators below check them with a message naming the rule.
    tenant_id: str = Field(
        description=f"Tenant that owns the job: {TENANT_RULE}.",
        max_length=63,
        json_schema_extra={"pattern": TENANT_PATTERN.pattern},
    )
    model_type: ModelType = Field(description="Model family: 'forecast' ('anomaly' is not available yet).")
    model_name: str = Field(
        description=f"Registered model name: {NAME_RULE}.",
        max_length=128,
        json_schema_extra={"pattern": NAME_PATTERN.pattern},
    )
    feature_set: str = Field(
        description=f"Feature set to train on: {NAME_RULE}.",
        max_length=128,
        json_schema_extra={"pattern": NAME_PATTERN.pattern},
    )
    config: TrainingConfig = Field(default_factory=TrainingConfig)
    schedule: str | None = Field(
        default=None,
        max_length=256,
        description="Cron expression for recurring training ('0 3 * * *', '@daily', "
        "'CRON_TZ=Europe/Berlin 0 3 * * *'): the job is queued now and again at every due time.",
    )
    priority: Priority = Field(
        default="normal",
        description=f"One of {', '.join(PRIORITY_LEVELS)}, or an integer from -100 to 100 (higher runs first).",
        json_schema_extra=PRIORITY_SCHEMA,
    )
    tags: dict[TagKey, TagValue] | None = Field(
        default=None,
        max_length=50,
        description=f"Labels: at most 50; keys 1-64 and values up to 256 characters, both {LABEL_RULE}.",
    )

    @field_validator("tenant_id")
    @classmethod
    def _safe_tenant(cls, value: str) -> str:
        return as_value_error(check_tenant, value, "tenant_id")

    @field_validator("model_name", "feature_set")
    @classmethod
    def _safe_name(cls, value: str, info) -> str:
        return as_value_error(check_name, value, info.field_name)

    @property
    def priority_value(self) -> int:
        return priority_value(self.priority)
