"""Safe names for tenants, feature sets and models.

These names become parts of file paths (feature store), MLflow experiment and registered-model names, so they are
held to a pattern that cannot climb out of a directory (``..``, ``/``, NUL) or collide with our separators.
"""

from __future__ import annotations

import re

from trainforge.errors import InvalidInput

# Tenants carry no dots so that "{tenant}.{model_name}" (the MLflow registered-model name) splits unambiguously.
TENANT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
TENANT_RULE = "1-63 characters: letters, digits, '-' or '_', starting with a letter or digit"
NAME_RULE = "1-128 characters: letters, digits, '-' or '_', starting with a letter or digit"


def check_tenant(value: str, field: str = "tenant_id") -> str:
    """Return ``value`` if it is a safe tenant id, else raise :class:`InvalidInput` naming ``field``."""
    if not isinstance(value, str) or not TENANT_PATTERN.fullmatch(value):
        raise InvalidInput(f"{field} must be {TENANT_RULE}", field=field)
    return value


def check_name(value: str, field: str) -> str:
    """Return ``value`` if it is a safe feature-set/model/study name, else raise naming ``field``."""
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise InvalidInput(f"{field} must be {NAME_RULE}", field=field)
    return value
