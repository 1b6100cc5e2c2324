"""The options that many commands share, defined once as Typer ``Annotated`` types.

A command declares ``tenant: TenantOption`` (or ``= None`` with :data:`TenantFilterOption`) instead of spelling the
option again, so each option has one name, one environment variable and one help text everywhere.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

DEFAULT_API_URL = "http://127.0.0.1:8000"


class Output(StrEnum):
    """How a list command prints its page."""

    TABLE = "table"
    JSON = "json"


# -- where the API is and who calls it -----------------------------------------------------------------------------
ApiUrlOption = Annotated[
    str,
    typer.Option(
        "--api-url",
        "--url",
        envvar=["TRAINFORGE_API_URL", "TRAINFORGE_URL"],
        help="Base URL of the trainforge API.",
    ),
]
ApiKeyOption = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar="TRAINFORGE_API_KEY",
        help="API key. Default: the local admin key that `trainforge serve` keeps in its home.",
    ),
]
HomeOption = Annotated[Path | None, typer.Option("--home", envvar="TRAINFORGE_HOME", help="trainforge home.")]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Log at DEBUG level.")]

# -- lists ---------------------------------------------------------------------------------------------------------
OutputOption = Annotated[
    Output, typer.Option("--output", "-o", help="table, or json: the API's JSON, with total, page and page_size.")
]
PageOption = Annotated[int, typer.Option("--page", min=1, help="Page number, from 1.")]
PageSizeOption = Annotated[int, typer.Option("--page-size", "--limit", min=1, help="Items per page.")]
TenantFilterOption = Annotated[
    str | None, typer.Option("--tenant", help="Only this tenant's. Default: the key's (an admin key: every tenant).")
]
JOB_STATUSES = "queued, running, completed, failed, cancelled"  # a study's status is its job's

# -- what a training job is ----------------------------------------------------------------------------------------
TenantOption = Annotated[str, typer.Option("--tenant", help="Tenant id.")]
ModelNameOption = Annotated[str, typer.Option("--model-name", help="Registered model name.")]
FeatureSetOption = Annotated[str, typer.Option("--feature-set", help="Feature set to train on.")]
TargetOption = Annotated[str, typer.Option("--target", help="Column to forecast.")]
HorizonOption = Annotated[int, typer.Option("--horizon", help="Steps ahead.")]
StartOption = Annotated[str | None, typer.Option("--start", help="First timestamp (ISO 8601).")]
EndOption = Annotated[str | None, typer.Option("--end", help="End timestamp, exclusive (ISO 8601).")]
PriorityOption = Annotated[str, typer.Option("--priority", help="low, normal, high, urgent or an integer.")]
ConfigFileOption = Annotated[
    Path | None,
    typer.Option("--config-file", exists=True, dir_okay=False, help="JSON with the `config` object (data, splits)."),
]
HyperparamOption = Annotated[list[str] | None, typer.Option("--param", help="Hyperparameter NAME=VALUE (repeatable).")]
