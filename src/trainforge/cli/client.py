"""The CLI's one HTTP client of the trainforge API.

The command groups that talk to the API (``jobs``, ``schedules``, ``studies``) register :func:`configure` as their
callback: ``--api-key`` (or the local admin key of ``--home``) is read there, once, for the command that
follows; the command then asks :func:`connect` for a client of its ``--api-url``.

An API error prints its status, message and ``field`` and exits 1; an unreachable server exits 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import typer
from rich.markup import escape

from trainforge.cli.context import errors
from trainforge.cli.options import ApiKeyOption, HomeOption
from trainforge.settings import load_settings
from trainforge.tenancy import read_local_key

# The key of the command being run: one command per process (or per CliRunner invocation, each of which runs its
# group's callback again). Typer vendors Click, so the Click context is not ours to reach from a helper.
_credentials: dict[str, str | None] = {"key": None}


def configure(api_key: ApiKeyOption = None, home: HomeOption = None) -> None:
    """Options of every command that talks to the API (given before the subcommand)."""
    _credentials["key"] = api_key or read_local_key(load_settings(home=home))


@dataclass(frozen=True)
class ApiClient:
    """Calls of one command to the API at ``url``."""

    url: str
    key: str | None

    def call(self, method: str, path: str, **kwargs: Any) -> dict:
        """The JSON body of a successful response; an error is printed and ends the command."""
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        try:
            response = httpx.request(method, self.url.rstrip("/") + path, timeout=30, headers=headers, **kwargs)
        except httpx.HTTPError as error:
            errors.print(f"[red]cannot reach {self.url}[/]: {error}. Is `trainforge serve` running?")
            raise typer.Exit(2) from None
        body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        if response.is_error:
            field = f" (field: {body['field']})" if body.get("field") else ""
            # soft_wrap: one line however long, so that the field survives a pipe into grep
            message = escape(f"{body.get('message', response.text)}{field}")
            errors.print(f"[red]{response.status_code}[/] {message}", soft_wrap=True)
            raise typer.Exit(1)
        return body

    def get(self, path: str, **params: Any) -> dict:
        """``GET path`` with the query ``params`` that are not None."""
        return self.call("GET", path, params={name: value for name, value in params.items() if value is not None})


def connect(url: str) -> ApiClient:
    """The client of the running command: ``url`` and the key its group's :func:`configure` chose."""
    return ApiClient(url, _credentials["key"])
