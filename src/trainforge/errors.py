"""All of trainforge's errors, in one tree.

    TrainforgeError
    ├── Unauthorized              no API key, or an unknown or revoked one                   → 401
    ├── Forbidden                 the key may not act for the tenant named in the request    → 403
    ├── RequestTooLarge           the request body is over the limit (field ``body``)        → 413
    ├── NotFound                  an object does not exist (or belongs to another tenant)   → 404
    │   ├── JobNotFound           field ``job_id``
    │   ├── FeatureSetNotFound    field ``feature_set``
    │   ├── StudyNotFound         field ``study_id``
    │   ├── ScheduleNotFound      field ``schedule_id``
    │   ├── WebhookNotFound       field ``webhook_id``
    │   ├── ApiKeyNotFound        field ``key_id``
    │   ├── ModelVersionNotFound  field ``model_id``
    │   └── ModelNotFound         field ``model_name``, or ``version`` for a missing version
    ├── InvalidInput              a request or configuration breaks a rule; names the field  → 422
    │   └── InsufficientData      the data cannot support the requested training            → 422
    ├── IllegalTransition         a job cannot move from its status to the one asked for     → 409
    ├── StudyNameTaken            the tenant already has a study of this name                → 409
    ├── SchemaOutOfDate           the metadata database is behind the code's migrations      → 503
    ├── DatabaseUnavailable       the metadata database or Optuna's storage cannot be reached → 503, Retry-After
    └── PipelineError             a training step failed for a reason we can describe

Third-party errors (SQLAlchemy, Ray, MLflow, Optuna) are translated where they enter our code; the API maps this tree to
HTTP status codes in one exception handler (``trainforge.api.errors``). A bare ``NotFound`` is only what MLflow's
"does not exist" becomes when it names no object of ours.
"""

from __future__ import annotations

from collections.abc import Callable


class TrainforgeError(Exception):
    """Base class of every error trainforge raises on purpose."""

    http_status = 500
    # How long a client should wait before it tries again, where waiting is what helps (the API's Retry-After).
    retry_after_seconds: int | None = None

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Unauthorized(TrainforgeError):
    http_status = 401


class Forbidden(TrainforgeError):
    http_status = 403


class RequestTooLarge(TrainforgeError):
    http_status = 413

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"the request body is over the limit of {max_bytes} bytes", field="body")
        self.max_bytes = max_bytes


class NotFound(TrainforgeError):
    http_status = 404


class JobNotFound(NotFound):
    def __init__(self, job_id: object) -> None:
        super().__init__(f"training job {job_id} not found", field="job_id")


class FeatureSetNotFound(NotFound):
    def __init__(self, tenant_id: str, feature_set: str) -> None:
        super().__init__(f"feature set {feature_set!r} not found for tenant {tenant_id!r}", field="feature_set")


class StudyNotFound(NotFound):
    def __init__(self, study_id: object) -> None:
        super().__init__(f"study {study_id} not found", field="study_id")


class ScheduleNotFound(NotFound):
    def __init__(self, schedule_id: object) -> None:
        super().__init__(f"schedule {schedule_id} not found", field="schedule_id")


class WebhookNotFound(NotFound):
    def __init__(self, webhook_id: object) -> None:
        super().__init__(f"webhook {webhook_id} not found", field="webhook_id")


class ApiKeyNotFound(NotFound):
    def __init__(self, key_id: str) -> None:
        super().__init__(f"API key {key_id!r} not found", field="key_id")


class ModelVersionNotFound(NotFound):
    """No registered version has this model id (``"t1:load:1.0.0"``)."""

    def __init__(self, model_id: object) -> None:
        super().__init__(f"model {model_id} not found", field="model_id")


class ModelNotFound(NotFound):
    """A tenant has no model of this name, or no such version of it (``POST /ai/models/{name}/predict``).

    The message names only the tenant asked for, so it is the same whether another tenant has such a model or not.
    """

    def __init__(self, tenant_id: str, model_name: str, version: object | None = None) -> None:
        if version is None:
            super().__init__(f"model {model_name!r} not found for tenant {tenant_id!r}", field="model_name")
        else:
            super().__init__(
                f"version {version} of model {model_name!r} not found for tenant {tenant_id!r}", field="version"
            )


class InvalidInput(TrainforgeError):
    http_status = 422


class InsufficientData(InvalidInput):
    """Too few rows (after the date filter and the lag warm-up) to train, validate and test."""


class IllegalTransition(TrainforgeError):
    http_status = 409

    def __init__(self, job_id: object, current: str, target: str) -> None:
        super().__init__(f"job {job_id} is {current}; it cannot become {target}", field="status")
        self.current = current
        self.target = target


class StudyNameTaken(TrainforgeError):
    """The tenant already has a study of this name (409)."""

    http_status = 409

    def __init__(self, tenant_id: str, study_name: str, *, field: str = "study_name") -> None:
        super().__init__(
            f"tenant {tenant_id!r} already has a study named {study_name!r}; choose another name", field=field
        )


class SchemaOutOfDate(TrainforgeError):
    http_status = 503


class DatabaseUnavailable(TrainforgeError):
    """A database did not answer: refused or dropped connections, a server shutting down, a full pool.

    Translated where SQLAlchemy's and Optuna's errors enter (``trainforge.db.errors``). The message names the
    database, never its address; ``reason`` keeps the driver's words for the log.
    """

    http_status = 503
    retry_after_seconds = 5

    def __init__(self, database: str = "metadata database", *, reason: str | None = None) -> None:
        super().__init__(f"the {database} is unavailable; try again in a few seconds")
        self.database = database
        self.reason = reason


class PipelineError(TrainforgeError):
    """A pipeline step failed; the message says which step and why."""


def as_value_error(check: Callable[[str, str], str], value: str, field: str) -> str:
    """``check(value, field)``, its error raised as the ``ValueError`` that a pydantic validator reports: a 422
    located at the field, with the same message."""
    try:
        return check(value, field)
    except Exception as error:
        raise ValueError(getattr(error, "message", str(error))) from None
