"""The registry of model families, keyed by their one name, and hyperparameter validation.

A job names its family in ``config.model_family`` (default ``lightgbm``); the family says which ``model_type`` it
serves, which hyperparameters it takes, and whether it fits a model at all (``seasonal_naive`` does not: a job of
it evaluates the baseline alone).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trainforge.errors import InvalidInput
from trainforge.models import lightgbm_forecast
from trainforge.models.family import ModelFamily

# The seasonal-naive forecast as a family of its own: the cheapest job there is (a data check, a benchmark of the
# queue, the yardstick for a new feature set). Its season is config.seasonal_period, not a hyperparameter.
SEASONAL_NAIVE = ModelFamily(
    name="seasonal_naive",
    model_type="forecast",
    summary="nothing is fitted: the job evaluates the seasonal-naive baseline alone",
    params={},
)
FAMILIES: dict[str, ModelFamily] = {family.name: family for family in (lightgbm_forecast.FAMILY, SEASONAL_NAIVE)}
DEFAULT_FAMILY = lightgbm_forecast.FAMILY.name
# Declared by the API's model_type but not built yet: refused with a clear message instead of "unknown".
PLANNED_MODEL_TYPES = ("anomaly",)


def get_family(name: str) -> ModelFamily:
    """The family called ``name``.

    Raises:
        InvalidInput: no such family (``field="config.model_family"``).
    """
    try:
        return FAMILIES[name]
    except (KeyError, TypeError):
        raise InvalidInput(
            f"unknown model family {name!r}; expected one of {', '.join(FAMILIES)}", field="config.model_family"
        ) from None


def family_for(model_type: str, name: str = DEFAULT_FAMILY) -> ModelFamily:
    """The family ``name``, checked to serve ``model_type``.

    Raises:
        InvalidInput: ``model_type`` is unknown or not available yet (``field="model_type"``), or the family is
            unknown or serves another model type (``field="config.model_family"``).
    """
    served = sorted({family.model_type for family in FAMILIES.values()})
    if model_type not in served:
        available = " or ".join(repr(name) for name in served)
        if model_type in PLANNED_MODEL_TYPES:
            raise InvalidInput(
                f"model_type {model_type!r} is not available yet; only {available} is", field="model_type"
            )
        raise InvalidInput(f"unknown model_type {model_type!r}; expected {available}", field="model_type")
    family = get_family(name)
    if family.model_type != model_type:
        raise InvalidInput(
            f"model family {name!r} trains {family.model_type!r} models, not {model_type!r}",
            field="config.model_family",
        )
    return family


def validate_hyperparams(family: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check fixed hyperparameters against the family's declarations and merge them over its defaults.

    Args:
        family: The family's name (``"lightgbm"``).
        params: Hyperparameters by name (``config.hyperparams`` of a job without HPO).

    Returns:
        Every declared hyperparameter: the given values (converted to their declared type) or the defaults.

    Raises:
        InvalidInput: Unknown names, wrong types, out-of-range values or NaN/inf, with
            ``field="config.hyperparams.<name>"``; or an unknown family.
    """
    spec_of = get_family(family)
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise InvalidInput("hyperparams must be an object of name: value", field="config.hyperparams")
    merged = spec_of.defaults()
    for name, value in params.items():
        spec = spec_of.params.get(name)
        if spec is None:
            raise InvalidInput(
                f"unknown hyperparameter {name!r} for {spec_of.name}; expected one of {sorted(spec_of.params)}",
                field=f"config.hyperparams.{name}",
            )
        merged[name] = spec.check(name, value)
    return merged
