"""The registry of model families, keyed by the job's ``model_type``, and hyperparameter validation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trainforge.errors import InvalidInput
from trainforge.models import lightgbm_forecast
from trainforge.models.family import ModelFamily

# model_type -> the family trained for it. A second forecast family (XGBoost) would be registered by name and
# chosen by a config field; until then each model_type has one.
FAMILIES: dict[str, ModelFamily] = {"forecast": lightgbm_forecast.FAMILY}
# Declared by the API's model_type but not built yet: refused with a clear message instead of "unknown".
PLANNED_MODEL_TYPES = ("anomaly",)


def get_family(model_type: str) -> ModelFamily:
    """The family that trains ``model_type``.

    Raises:
        InvalidInput: ``model_type`` is unknown or not available yet (``field="model_type"``).
    """
    if model_type in FAMILIES:
        return FAMILIES[model_type]
    available = " or ".join(repr(name) for name in FAMILIES)
    if model_type in PLANNED_MODEL_TYPES:
        raise InvalidInput(f"model_type {model_type!r} is not available yet; only {available} is", field="model_type")
    raise InvalidInput(f"unknown model_type {model_type!r}; expected {available}", field="model_type")


def validate_hyperparams(model_type: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check fixed hyperparameters against the family's declarations and merge them over its defaults.

    Args:
        model_type: The job's model type (``"forecast"``).
        params: Hyperparameters by name (``config.hyperparams`` of a job without HPO).

    Returns:
        Every declared hyperparameter: the given values (converted to their declared type) or the defaults.

    Raises:
        InvalidInput: Unknown names, wrong types, out-of-range values or NaN/inf, with
            ``field="config.hyperparams.<name>"``; or an unusable ``model_type``.
    """
    family = get_family(model_type)
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise InvalidInput("hyperparams must be an object of name: value", field="config.hyperparams")
    merged = family.defaults()
    for name, value in params.items():
        spec = family.params.get(name)
        if spec is None:
            raise InvalidInput(
                f"unknown hyperparameter {name!r} for {family.name}; expected one of {sorted(family.params)}",
                field=f"config.hyperparams.{name}",
            )
        merged[name] = spec.check(name, value)
    return merged
