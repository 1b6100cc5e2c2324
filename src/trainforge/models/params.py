"""Declared hyperparameters: a name's type, valid range, default and default search range."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from trainforge.errors import InvalidInput


@dataclass(frozen=True)
class ParamSpec:
    """One hyperparameter of a model family.

    Attributes:
        kind: ``"int"`` or ``"float"``.
        default: Value used when the job does not set one.
        low: Smallest valid value (excluded when ``low_open``).
        high: Largest valid value (excluded when ``high_open``).
        low_open: ``low`` itself is invalid (e.g. a learning rate of 0).
        high_open: ``high`` itself is invalid.
        search: Default Optuna search range ``(low, high)`` when tuning, or ``None`` to leave it fixed.
        log: Search on a log scale.
        description: One line for docs and error messages.
    """

    kind: Literal["int", "float"]
    default: int | float
    low: float
    high: float
    low_open: bool = False
    high_open: bool = False
    search: tuple[float, float] | None = None
    log: bool = False
    description: str = ""

    def check(self, name: str, value: Any, *, field_prefix: str = "config.hyperparams") -> int | float:
        """Return ``value`` converted to the declared kind, or raise naming ``{field_prefix}.{name}``.

        Integral floats (``300.0``, as some JSON clients send) are accepted for ``int`` parameters; booleans and
        strings are not numbers here.
        """
        field = f"{field_prefix}.{name}"
        if isinstance(value, bool) or not isinstance(value, int | float):
            wanted = "an integer" if self.kind == "int" else "a number"
            raise InvalidInput(f"{name} must be {wanted}, got {type(value).__name__}", field=field)
        if not math.isfinite(value):
            raise InvalidInput(f"{name} must be a finite number, got {value}", field=field)
        if self.kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise InvalidInput(f"{name} must be an integer, got {value}", field=field)
            value = int(value)
        else:
            value = float(value)
        too_low = value <= self.low if self.low_open else value < self.low
        too_high = value >= self.high if self.high_open else value > self.high
        if too_low or too_high:
            raise InvalidInput(f"{name} must be in {self.range_text()}, got {value}", field=field)
        return value

    def range_text(self) -> str:
        """The valid range in interval notation, e.g. ``(0, 1]``."""
        low = _number(self.low)
        high = _number(self.high)
        return f"{'(' if self.low_open else '['}{low}, {high}{')' if self.high_open else ']'}"

    def search_space(self) -> dict[str, Any] | None:
        """The default search range in the API's format (``{"type", "low", "high", "log"}``), if any."""
        if self.search is None:
            return None
        low, high = self.search
        if self.kind == "int":
            low, high = int(low), int(high)
        return {"type": self.kind, "low": low, "high": high, "log": self.log}


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
