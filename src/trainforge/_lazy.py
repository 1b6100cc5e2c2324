"""Package exports loaded on first use.

Several packages re-export names whose modules import heavy libraries (Ray, Optuna, MLflow, LightGBM): importing
``TrainingConfig`` for the API must not load LightGBM, nor ``JobStore`` load Ray. Python's module ``__getattr__``
(PEP 562) does this; this function builds one from a table, so each package states its exports once.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``exports[name]`` (a module) and returns its ``name``."""

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
