"""The request vocabulary: the checked types that every request model shares.

A tenant id, a resource name (model, feature set, study, schedule), a label (tag keys and values, series ids), a
priority and a hyperparameter are each defined once here, with their limits, their JSON schema and a validator
whose message names the rule; ``JobRequest``, ``OptimizeRequest``, the schedule and webhook requests use them.
Plain pydantic: no framework, no database.
"""

from __future__ import annotations

import math
import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints, ValidationInfo

from trainforge.errors import as_value_error
from trainforge.names import NAME_PATTERN, TENANT_PATTERN, check_name, check_tenant

__all__ = [
    "LABEL_RULE",
    "MAX_HYPERPARAMS",
    "PRIORITY_LEVELS",
    "PRIORITY_MAX",
    "PRIORITY_MIN",
    "PRIORITY_SCHEMA",
    "ColumnName",
    "HyperparamName",
    "HyperparamValue",
    "Priority",
    "ResourceName",
    "SeriesId",
    "TagKey",
    "TagValue",
    "TenantId",
    "check_label",
    "priority_value",
]


def _named_check(check):
    """A pydantic after-validator running ``check(value, field)`` with the field's own name, its
    :class:`~trainforge.errors.InvalidInput` reported as the ``ValueError`` pydantic locates at that field."""

    def validate(value: str, info: ValidationInfo) -> str:
        return as_value_error(check, value, info.field_name or "value")

    return AfterValidator(validate)


# A tenant id (names.TENANT_RULE). The pattern is documented in the schema; the validator checks it with a message
# naming the rule.
TenantId = Annotated[
    str,
    Field(max_length=63, json_schema_extra={"pattern": TENANT_PATTERN.pattern}),
    _named_check(check_tenant),
]
# A model, feature set, study or schedule name: it becomes part of file paths and MLflow names.
ResourceName = Annotated[
    str,
    Field(max_length=128, json_schema_extra={"pattern": NAME_PATTERN.pattern}),
    _named_check(check_name),
]

LABEL_RULE = "letters and digits of any script, spaces and _ . : / @ + -"
_LABEL_PUNCTUATION = frozenset(" _.:/@+-")


def check_label(value: str) -> str:
    """Return ``value`` if it is label text (:data:`LABEL_RULE`), else raise ValueError.

    Series ids and tags are stored and compared, never built into paths or SQL; still, they are held to visible
    letters, digits and a little punctuation, so that quotes, control and format characters (NUL, RTL overrides,
    zero-width spaces), symbols and lone surrogates never get in.
    """
    for char in value:
        if char not in _LABEL_PUNCTUATION and unicodedata.category(char)[0] not in "LN":
            raise ValueError(f"may only contain {LABEL_RULE}; {char!a} is not allowed")
    return value


TagKey = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(check_label)]
TagValue = Annotated[str, StringConstraints(max_length=256), AfterValidator(check_label)]
SeriesId = Annotated[str, StringConstraints(min_length=1, max_length=256), AfterValidator(check_label)]
ColumnName = Annotated[str, StringConstraints(min_length=1, max_length=128)]

# The specification's priority words, as the integers stored in training_jobs.priority (higher runs first).
PRIORITY_LEVELS: dict[str, int] = {"low": -10, "normal": 0, "high": 10, "urgent": 20}
PRIORITY_MIN, PRIORITY_MAX = -100, 100
# The schema the API documents for `priority` (the Python type, str | int, is checked by priority_value).
PRIORITY_SCHEMA = {
    "anyOf": [
        {"type": "string", "enum": list(PRIORITY_LEVELS)},
        {"type": "integer", "minimum": PRIORITY_MIN, "maximum": PRIORITY_MAX},
    ]
}


def priority_value(priority: str | int) -> int:
    """Turn ``low|normal|high|urgent`` or an integer in [-100, 100] into the stored integer."""
    if isinstance(priority, str):
        try:
            return PRIORITY_LEVELS[priority]
        except KeyError:
            raise ValueError(f"priority must be one of {', '.join(PRIORITY_LEVELS)} or an integer") from None
    if isinstance(priority, bool) or not PRIORITY_MIN <= priority <= PRIORITY_MAX:
        raise ValueError(f"priority must be an integer from {PRIORITY_MIN} to {PRIORITY_MAX}")
    return priority


def _not_a_boolean(value: object) -> object:
    # Before validation: lax int validation would take `true` as 1.
    if isinstance(value, bool):
        raise ValueError(f"priority must be one of {', '.join(PRIORITY_LEVELS)} or an integer, not a boolean")
    return value


def _known_priority(value: str | int) -> str | int:
    priority_value(value)  # raises ValueError with the rule
    return value


# A job's priority as requests give it (a word or an integer), checked.
Priority = Annotated[
    str | int,
    BeforeValidator(_not_a_boolean),
    AfterValidator(_known_priority),
    Field(
        description=f"One of {', '.join(PRIORITY_LEVELS)}, or an integer from {PRIORITY_MIN} to {PRIORITY_MAX} "
        "(higher runs first).",
        json_schema_extra=PRIORITY_SCHEMA,
    ),
]

MAX_HYPERPARAMS = 64
# A value is a number or (with HPO) a search space {type, low, high, log, step, choices: [...]}: 3 levels deep.
MAX_HYPERPARAM_DEPTH = 3
HYPERPARAM_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"


def _finite_and_shallow(value: Any) -> Any:
    stack = [(value, 1)]
    while stack:  # iterative: a deeply nested value must not exhaust the stack of the validator itself
        item, depth = stack.pop()
        if depth > MAX_HYPERPARAM_DEPTH:
            raise ValueError(f"is nested deeper than {MAX_HYPERPARAM_DEPTH} levels")
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError("must be a finite number (NaN and Infinity are refused)")
        if isinstance(item, str) and not item.isprintable():  # e.g. a NUL, which PostgreSQL's JSONB refuses
            raise ValueError("text must be printable (no control or format characters)")
        if isinstance(item, dict):
            stack.extend((inner, depth + 1) for inner in item.values())
        elif isinstance(item, list):
            stack.extend((inner, depth + 1) for inner in item)
    return value


HyperparamName = Annotated[str, StringConstraints(pattern=HYPERPARAM_NAME_PATTERN)]
HyperparamValue = Annotated[Any, AfterValidator(_finite_and_shallow)]
