"""Search spaces of HPO studies: the API's format, checked against a model family's declared hyperparameters.

A raw search space maps hyperparameter names to either a range to search::

    {"learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": true},
     "max_depth": {"type": "int", "low": 3, "high": 12, "step": 3},
     "num_leaves": {"type": "categorical", "choices": [31, 63, 127]},
     "n_estimators": 500}

or a plain number, which fixes that hyperparameter for every trial. Names the space leaves out keep the family's
defaults. Everything is checked here, before a job is queued, so a study never fails on its space.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, get_args

import optuna
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from trainforge.errors import InvalidInput
from trainforge.models.families import get_family
from trainforge.models.params import ParamSpec
from trainforge.pipeline.config import OptimizationStrategy

# The one list of strategies is the request's OptimizationStrategy; the samplers are built in hpo.samplers.
STRATEGIES: tuple[str, ...] = get_args(OptimizationStrategy)
# Strategies whose Optuna sampler imports an optional package: strategy -> (module, what to install).
STRATEGY_REQUIREMENTS: dict[str, tuple[str, str]] = {
    "cmaes": ("cmaes", "the cmaes package"),
    "qmc": ("scipy", "SciPy"),
}
# A grid search evaluates every point: beyond this many the study would never finish.
MAX_GRID_POINTS = 100_000
# Most steps a stepped range may have between low and high.
MAX_STEPS_PER_RANGE = 10**12

Choice = str | int | float | bool


class SearchParam(BaseModel):
    """How one hyperparameter is searched: a numeric range (``int``/``float``) or a list of ``choices``."""

    # strict: a JSON string "0.1" is not a number here, as it is not for fixed hyperparameters either.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True, frozen=True)

    type: Literal["int", "float", "categorical"] = Field(
        description="`int` or `float` (the parameter's own kind) to search a range, `categorical` to pick a choice."
    )
    low: float | None = Field(default=None, description="Smallest value searched (int and float).")
    high: float | None = Field(default=None, description="Largest value searched (int and float).")
    log: bool = Field(default=False, description="Search on a log scale (needs low > 0; not with step).")
    step: float | None = Field(
        default=None, description="Distance between searched values; high - low must be a multiple of it."
    )
    choices: list[Choice] | None = Field(default=None, description="The values to pick from (categorical only).")

    def as_json(self) -> dict[str, Any]:
        """The normalised raw form: only the keys that apply to the type, ints for an ``int`` range."""
        if self.type == "categorical":
            return {"type": "categorical", "choices": list(self.choices or [])}
        out: dict[str, Any] = {"type": self.type, "low": self.low, "high": self.high, "log": self.log}
        if self.step is not None:
            out["step"] = self.step
        return out


@dataclass(frozen=True)
class SearchSpace:
    """A checked search space of one model family.

    Attributes:
        family: The model family's name (``"lightgbm"``).
        searched: The tuned hyperparameters, in the family's declaration order.
        fixed: Hyperparameters fixed for every trial (a plain number in the raw space), converted to their kind.
    """

    family: str
    searched: dict[str, SearchParam]
    fixed: dict[str, int | float]

    def distributions(self) -> dict[str, optuna.distributions.BaseDistribution]:
        """Optuna's distribution of every searched hyperparameter (for ``study.ask(fixed_distributions=...)``)."""
        return {name: _distribution(param) for name, param in self.searched.items()}

    def grid(self) -> dict[str, list[Any]]:
        """Every point of every searched hyperparameter, for a grid search.

        Raises:
            ValueError: A float range has no ``step`` (parse the space with ``strategy="grid"`` to refuse it as
                a user error instead).
        """
        points: dict[str, list[Any]] = {}
        for name, param in self.searched.items():
            if param.type == "float" and param.step is None:
                raise ValueError(f"{name}: a float range without step has no grid")
            points[name] = _grid_points(param)
        return points

    def grid_size(self) -> int | None:
        """How many points a grid search visits (the product of the lengths of :meth:`grid`), or ``None`` if a
        float range has no step."""
        size = 1
        for param in self.searched.values():
            count = _grid_count(param)
            if count is None:
                return None
            size *= count
        return size

    def as_json(self) -> dict[str, Any]:
        """The normalised raw form (searched ranges as objects, fixed values as numbers): what a job stores in
        its config, and what :func:`parse_search_space` reads back to the same space."""
        return {**{name: param.as_json() for name, param in self.searched.items()}, **self.fixed}

    def hyperparams(self, sampled: Mapping[str, Any]) -> dict[str, Any]:
        """The full hyperparameters of one trial: the family's defaults, then the fixed values, then ``sampled``."""
        return {**get_family(self.family).defaults(), **self.fixed, **sampled}


def parse_search_space(
    family: str,
    raw: Mapping[str, Any] | None,
    *,
    strategy: str = "tpe",
    field_prefix: str = "search_space",
) -> SearchSpace:
    """Check a raw search space against the family's hyperparameters and the strategy that will search it.

    Args:
        family: The model family's name; it declares the names, kinds and valid ranges.
        raw: Name -> range object or fixed number. ``None`` or empty: the family's default search space.
        strategy: One of :data:`STRATEGIES`; ``grid`` needs every range griddable and at most
            :data:`MAX_GRID_POINTS` points.
        field_prefix: Where the space sits in the request (``"search_space"``, ``"config.hyperparams"``).

    Returns:
        The checked space, bounds and choices converted to each parameter's kind.

    Raises:
        InvalidInput: With ``field=f"{field_prefix}.{name}"`` for a bad parameter, ``field=field_prefix`` for a
            space that is not an object or searches nothing, ``field="optimization_strategy"`` for an unknown
            strategy or one whose package is not installed, ``field="config.model_family"`` for an unknown family.
    """
    check_strategy(strategy)
    spec_of = get_family(family)
    if raw is None or (isinstance(raw, Mapping) and not raw):
        raw = spec_of.default_search_space()
    if not isinstance(raw, Mapping):
        raise InvalidInput(
            f"the search space must be an object of hyperparameter name: range or fixed number, "
            f"got {type(raw).__name__}",
            field=field_prefix,
        )
    for name in raw:
        if name not in spec_of.params:
            raise InvalidInput(
                f"{name!r} is not a hyperparameter of {spec_of.name}; expected one of {sorted(spec_of.params)}",
                field=f"{field_prefix}.{name}",
            )
    searched: dict[str, SearchParam] = {}
    fixed: dict[str, int | float] = {}
    for name, spec in spec_of.params.items():
        if name not in raw:
            continue
        value = raw[name]
        if isinstance(value, SearchParam | Mapping):
            searched[name] = _parse_param(name, spec, value, field_prefix)
        else:
            fixed[name] = spec.check(name, value, field_prefix=field_prefix)
    if not searched:
        raise InvalidInput(
            "the search space tunes no hyperparameter: give at least one as "
            '{"type": "int" or "float", "low": ..., "high": ...} or {"type": "categorical", "choices": [...]}',
            field=field_prefix,
        )
    space = SearchSpace(family=spec_of.name, searched=searched, fixed=fixed)
    check_space_fits_strategy(space, strategy, field_prefix=field_prefix)
    return space


def check_strategy(strategy: Any) -> str:
    """Return ``strategy`` if it is known and its sampler's package is installed.

    Raises:
        InvalidInput: ``field="optimization_strategy"``.
    """
    if not isinstance(strategy, str) or strategy not in STRATEGIES:
        raise InvalidInput(
            f"unknown optimization_strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}",
            field="optimization_strategy",
        )
    if strategy in STRATEGY_REQUIREMENTS:
        module, package = STRATEGY_REQUIREMENTS[strategy]
        if not _installed(module):
            raise InvalidInput(
                f"optimization_strategy {strategy!r} needs {package}, which is not installed on this server; "
                f"choose another strategy (e.g. 'tpe')",
                field="optimization_strategy",
            )
    return strategy


def check_space_fits_strategy(space: SearchSpace, strategy: str, *, field_prefix: str = "search_space") -> None:
    """Refuse a space the strategy cannot search: for ``grid``, a float range without step or too many points.

    Raises:
        InvalidInput: ``field=f"{field_prefix}.{name}"`` for an ungriddable range, ``field=field_prefix`` for a
            grid that is too large.
    """
    if strategy != "grid":
        return
    for name, param in space.searched.items():
        if param.type == "float" and param.step is None:
            raise InvalidInput(
                f"{name}: a grid search needs a step for a float range (high - low a multiple of it), "
                "or categorical choices",
                field=f"{field_prefix}.{name}",
            )
    size = space.grid_size()
    if size is not None and size > MAX_GRID_POINTS:
        counts = ", ".join(f"{name}: {_grid_count(param)}" for name, param in space.searched.items())
        raise InvalidInput(
            f"the grid has {size} points ({counts}); at most {MAX_GRID_POINTS} are allowed: "
            "use larger steps, fewer choices, or a strategy that samples (tpe, random, qmc, ...)",
            field=field_prefix,
        )


def _parse_param(name: str, spec: ParamSpec, value: SearchParam | Mapping[str, Any], field_prefix: str) -> SearchParam:
    field = f"{field_prefix}.{name}"
    if isinstance(value, SearchParam):
        value = value.model_dump(exclude_defaults=True)
    try:
        param = SearchParam.model_validate(dict(value))
    except ValidationError as exc:
        raise InvalidInput(f"{name}: {_describe(exc)}", field=field) from None
    if param.type == "categorical":
        return _parse_choices(name, spec, param, field_prefix)
    return _parse_range(name, spec, param, field_prefix)


def _parse_choices(name: str, spec: ParamSpec, param: SearchParam, field_prefix: str) -> SearchParam:
    field = f"{field_prefix}.{name}"
    for key in ("low", "high", "step"):
        if getattr(param, key) is not None:
            raise InvalidInput(f"{name}: a categorical parameter takes choices, not {key}", field=field)
    if param.log:
        raise InvalidInput(f"{name}: a categorical parameter takes choices, not log", field=field)
    if not param.choices:
        raise InvalidInput(f"{name}: choices must list at least one value", field=field)
    choices: list[int | float] = []
    for choice in param.choices:
        try:
            converted = spec.check(name, choice, field_prefix=field_prefix)
        except InvalidInput as exc:
            raise InvalidInput(f"{name}: choice {choice!r} is not valid: {exc.message}", field=field) from None
        if converted in choices:
            raise InvalidInput(f"{name}: choice {choice!r} is given twice", field=field)
        choices.append(converted)
    return param.model_copy(update={"choices": choices})


def _parse_range(name: str, spec: ParamSpec, param: SearchParam, field_prefix: str) -> SearchParam:
    field = f"{field_prefix}.{name}"
    if param.choices is not None:
        raise InvalidInput(f"{name}: choices need type 'categorical'", field=field)
    if param.type != spec.kind:
        raise InvalidInput(
            f"{name} is {'an' if spec.kind == 'int' else 'a'} {spec.kind} parameter: search it with type "
            f"{spec.kind!r} (or 'categorical'), not {param.type!r}",
            field=field,
        )
    if param.low is None or param.high is None:
        raise InvalidInput(f"{name}: a {param.type} range needs both low and high", field=field)
    low, high, step = param.low, param.high, param.step
    if spec.kind == "int":
        for key, number in (("low", low), ("high", high), ("step", step)):
            if number is not None and not float(number).is_integer():
                raise InvalidInput(f"{name}: {key} must be an integer, got {number}", field=field)
    if low > high:
        raise InvalidInput(f"{name}: low ({_number(low)}) is greater than high ({_number(high)})", field=field)
    if step is not None and step <= 0:
        raise InvalidInput(f"{name}: step must be greater than 0, got {_number(step)}", field=field)
    if param.log and step is not None:
        raise InvalidInput(f"{name}: log and step cannot be combined; give one of them", field=field)
    if param.log and low <= 0:
        raise InvalidInput(f"{name}: a log range needs low > 0, got {_number(low)}", field=field)
    for key, number in (("low", low), ("high", high)):
        try:
            spec.check(name, number, field_prefix=field_prefix)
        except InvalidInput:
            raise InvalidInput(
                f"{name}: {key} {_number(number)} is outside the valid range {spec.range_text()}", field=field
            ) from None
    if step is not None:
        span = Decimal(str(high)) - Decimal(str(low))
        # Bounded first: Decimal's 28 digits cannot divide a span by a step 1e300 times smaller (and nobody needs
        # a trillion points on one axis).
        if span / Decimal(str(step)) > MAX_STEPS_PER_RANGE:
            raise InvalidInput(
                f"{name}: step ({_number(step)}) is too small: at most {MAX_STEPS_PER_RANGE:,} steps from low to high",
                field=field,
            )
        if span % Decimal(str(step)) != 0:
            last = Decimal(str(low)) + (span // Decimal(str(step))) * Decimal(str(step))
            raise InvalidInput(
                f"{name}: high - low ({_number(float(span))}) must be a multiple of step ({_number(step)}); "
                f"e.g. high {_number(float(last))}",
                field=field,
            )
    if spec.kind == "int":
        update = {"low": int(low), "high": int(high), "step": None if step is None else int(step)}
    else:
        update = {"low": float(low), "high": float(high), "step": None if step is None else float(step)}
    return param.model_copy(update=update)


def _distribution(param: SearchParam) -> optuna.distributions.BaseDistribution:
    if param.type == "categorical":
        return optuna.distributions.CategoricalDistribution(list(param.choices or []))
    assert param.low is not None and param.high is not None  # guaranteed by parse_search_space
    if param.type == "int":
        return optuna.distributions.IntDistribution(
            int(param.low), int(param.high), log=param.log, step=int(param.step or 1)
        )
    return optuna.distributions.FloatDistribution(param.low, param.high, log=param.log, step=param.step)


def _grid_count(param: SearchParam) -> int | None:
    if param.type == "categorical":
        return len(param.choices or [])
    assert param.low is not None and param.high is not None
    if param.type == "int":
        return len(range(int(param.low), int(param.high) + 1, int(param.step or 1)))
    if param.step is None:
        return None
    return int((Decimal(str(param.high)) - Decimal(str(param.low))) / Decimal(str(param.step))) + 1


def _grid_points(param: SearchParam) -> list[Any]:
    if param.type == "categorical":
        return list(param.choices or [])
    assert param.low is not None and param.high is not None
    if param.type == "int":
        return list(range(int(param.low), int(param.high) + 1, int(param.step or 1)))
    assert param.step is not None
    # Decimal steps: low + i * step lands on the values a person wrote (0.3, not 0.30000000000000004).
    low, step = Decimal(str(param.low)), Decimal(str(param.step))
    count = _grid_count(param) or 0
    return [float(low + i * step) for i in range(count)]


def _describe(exc: ValidationError) -> str:
    """One sentence for the first problem pydantic found in a range object."""
    error = exc.errors()[0]
    loc = error["loc"]
    key = str(loc[0]) if loc else ""
    if error["type"] == "extra_forbidden":
        return f"unknown key {key!r}; expected {', '.join(SearchParam.model_fields)}"
    if error["type"] == "missing":
        return f"{key} is required (int, float or categorical)"
    if key == "choices" and len(loc) > 1 and isinstance(loc[1], int):
        return f"choices[{loc[1]}] must be a string, number or boolean"
    if error["type"] == "model_type":
        return "must be an object"
    return f"{key}: {error['msg']}" if key else error["msg"]


def _number(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        return str(int(value))
    return str(value)


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None
