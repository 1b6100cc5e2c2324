"""The body of ``POST /ai/models/{model_name}/predict``: plain pydantic, shared by the API and its tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, field_validator, model_validator

from trainforge.errors import as_value_error
from trainforge.fields import ColumnName, SeriesId, TenantId
from trainforge.names import TENANT_RULE
from trainforge.registry import SemVer

__all__ = [
    "MAX_HISTORY_COLUMNS",
    "MAX_HISTORY_ROWS",
    "MAX_HORIZON",
    "MAX_QUANTILES",
    "MAX_SERIES_IDS",
    "HistoryRow",
    "PredictRequest",
    "quantile_key",
]

MAX_QUANTILES = 20
MAX_SERIES_IDS = 10_000
# The body size limit (TRAINFORGE_MAX_REQUEST_BYTES, 1 MiB by default) binds long before this many rows.
MAX_HISTORY_ROWS = 1_000_000
MAX_HISTORY_COLUMNS = 200
# The longest horizon a job can be trained for (TrainingConfig.horizon); a model's own is checked once it is loaded.
MAX_HORIZON = 720


def quantile_key(quantile: float) -> str:
    """How a quantile is named in a forecast row's ``quantiles``: ``"0.1"``, ``"0.95"``."""
    return f"{quantile:g}"


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _parse_semver(text: str, field: str) -> str:
    return str(SemVer.parse(text, field=field))


def _semver(value: str | None) -> str | None:
    return None if value is None else as_value_error(_parse_semver, value, "version")


# Strict: a JSON string or boolean is no number here ("12" and true are refused, 12 is 12.0).
Number = Annotated[float, Strict()]


class HistoryRow(BaseModel):
    """One row of history: a series' values at a time. Every field besides ``timestamp`` and ``series_id`` is a
    column (the model's target and covariates), a number or null."""

    model_config = ConfigDict(
        extra="allow",
        allow_inf_nan=False,
        json_schema_extra={
            "additionalProperties": {"anyOf": [{"type": "number"}, {"type": "null"}]},
            "examples": [{"timestamp": "2024-03-01T23:00:00Z", "series_id": "site-1", "load_kw": 412.5}],
        },
    )

    timestamp: Annotated[datetime, AfterValidator(_utc)] = Field(
        description="When the values were observed (ISO 8601; without a zone it is UTC)."
    )
    series_id: SeriesId = Field(description="The series the row belongs to.")
    __pydantic_extra__: dict[ColumnName, Number | None] = Field(init=False)

    @model_validator(mode="after")
    def _few_columns(self) -> HistoryRow:
        if len(self.model_extra or {}) > MAX_HISTORY_COLUMNS:
            raise ValueError(f"a history row has at most {MAX_HISTORY_COLUMNS} value columns")
        return self


class PredictRequest(BaseModel):
    """A request for a forecast of a registered model."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={
            "examples": [
                {"tenant_id": "tenant-123", "series_ids": ["site-1"], "horizon": 24, "quantiles": [0.1, 0.9]},
                {
                    "tenant_id": "tenant-123",
                    "version": "1.0.2",
                    "history": [{"timestamp": "2024-03-01T23:00:00Z", "series_id": "site-1", "load_kw": 412.5}],
                },
            ]
        },
    )

    tenant_id: TenantId = Field(description=f"Tenant that owns the model: {TENANT_RULE}.")
    version: Annotated[str | None, AfterValidator(_semver)] = Field(
        default=None,
        max_length=32,
        description="Semantic version of the model to forecast with (`1.0.2`). Default: the version carrying the "
        "MLflow alias `champion`, if one does, else the latest version.",
        json_schema_extra={"pattern": r"^\d+\.\d+\.\d+$"},
    )
    series_ids: list[SeriesId] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_SERIES_IDS,
        description="Only these series (each must have history). Default: every series of the history: the "
        "feature set's, or the rows in `history`.",
    )
    horizon: Annotated[int, Strict()] | None = Field(
        default=None,
        ge=1,
        le=MAX_HORIZON,
        description="Steps to forecast after each series' last timestamp; at most the horizon the model was trained "
        "for (more is a 422 naming `horizon`). Default: that trained horizon.",
    )
    quantiles: list[Annotated[Number, Field(gt=0, lt=1)]] = Field(
        default_factory=list,
        max_length=MAX_QUANTILES,
        description=f"Quantiles of the forecast distribution to add to each row, each strictly between 0 and 1, at "
        f"most {MAX_QUANTILES} (`[0.1, 0.9]` is the 80% interval). From the model's conformal intervals.",
    )
    history: list[HistoryRow] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_HISTORY_ROWS,
        description="The history to forecast from: rows of `timestamp`, `series_id`, the model's target and its "
        "covariates. Each series needs at least the model's `history_steps` latest steps (its lags' warm-up); "
        "older rows are ignored. Default: the latest rows of the model's feature set.",
    )
    include_history: Annotated[bool, Strict()] = Field(
        default=False,
        description="Also answer the target's values in the history each series was forecast from (for plots).",
    )

    @field_validator("series_ids")
    @classmethod
    def _unique_series(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else list(dict.fromkeys(value))

    @field_validator("quantiles")
    @classmethod
    def _unique_quantiles(cls, value: list[float]) -> list[float]:
        # Quantiles are named by quantile_key: two that print alike would be one column.
        return list({quantile_key(q): q for q in value}.values())
