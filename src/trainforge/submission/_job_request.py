"""The body of ``POST /ai/training/jobs/start``: one definition, used by the API, the CLI and the demo."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from trainforge.fields import LABEL_RULE, Priority, ResourceName, TagKey, TagValue, TenantId, priority_value
from trainforge.names import NAME_RULE, TENANT_RULE
from trainforge.pipeline.config import ModelType, TrainingConfig


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

    tenant_id: TenantId = Field(description=f"Tenant that owns the job: {TENANT_RULE}.")
    model_type: ModelType = Field(description="Model type: 'forecast' ('anomaly' is not available yet).")
    model_name: ResourceName = Field(description=f"Registered model name: {NAME_RULE}.")
    feature_set: ResourceName = Field(description=f"Feature set to train on: {NAME_RULE}.")
    config: TrainingConfig = Field(default_factory=TrainingConfig)
    schedule: str | None = Field(
        default=None,
        max_length=256,
        description="Cron expression for recurring training ('0 3 * * *', '@daily', "
        "'CRON_TZ=Europe/Berlin 0 3 * * *'): the job is queued now and again at every due time.",
    )
    priority: Priority = Field(default="normal")
    tags: dict[TagKey, TagValue] | None = Field(
        default=None,
        max_length=50,
        description=f"Labels: at most 50; keys 1-64 and values up to 256 characters, both {LABEL_RULE}.",
    )

    @property
    def priority_value(self) -> int:
        return priority_value(self.priority)
