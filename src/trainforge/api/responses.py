"""The error responses routes document, in one place, so that every router documents them the same way (the
schemathesis run in tests checks that every status a route returns is documented)."""

from __future__ import annotations

from typing import Any

from trainforge.api.schemas import ErrorBody

# Every authenticated router: no key (401), a body over the size limit (413, answered before a route is chosen, so
# any route can give it), invalid input (422), and a metadata database that does not answer (503: the key check
# alone reads it).
COMMON: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No API key, or an unknown or revoked one."},
    413: {"model": ErrorBody, "description": "The request body is over the size limit."},
    422: {"model": ErrorBody, "description": "Invalid input; `field` names the culprit."},
    503: {
        "model": ErrorBody,
        "description": "The metadata database did not answer: try again after `Retry-After` seconds.",
        "headers": {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
    },
}
FORBIDDEN = {403: {"model": ErrorBody, "description": "The key may not act for the tenant named."}}


def not_found(what: str) -> dict[int | str, dict[str, Any]]:
    return {404: {"model": ErrorBody, "description": f"No such {what} (or another tenant's)."}}


def conflict(what: str) -> dict[int | str, dict[str, Any]]:
    return {409: {"model": ErrorBody, "description": f"The {what}'s status does not allow this."}}
