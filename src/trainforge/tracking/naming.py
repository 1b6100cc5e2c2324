"""How trainforge names what it keeps in MLflow."""

from __future__ import annotations

__all__ = ["experiment_name"]


def experiment_name(tenant_id: str, model_name: str) -> str:
    """MLflow experiment name ``"{tenant}/{model_name}"``: one experiment per model of a tenant."""
    return f"{tenant_id}/{model_name}"
