"""The one place where errors become HTTP responses.

Every error body has the same shape: ``{"error": <kind>, "message": <text>, "field": <where, or null>}``, plus
``"details"`` for validation errors and ``"error_id"`` for unexpected ones. No stack trace or SQL text is ever
sent; an unexpected error is logged with its error id so an operator can find it.
"""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from trainforge.errors import TrainforgeError

logger = logging.getLogger("trainforge.api")

ERROR_KINDS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid_input",
    503: "unavailable",
}
BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _field_from_location(location: tuple | list) -> str | None:
    # FastAPI locations look like ("body", "config", "horizon") or ("query", "limit"); the field is the rest.
    parts = [str(part) for part in location if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


async def _trainforge_error(_request: Request, error: TrainforgeError) -> JSONResponse:
    status = error.http_status
    if status >= 500 and status != 503:
        return await _unexpected_error(_request, error)
    kind = ERROR_KINDS.get(status, "error")
    return JSONResponse(
        {"error": kind, "message": error.message, "field": error.field},
        status_code=status,
        headers=BEARER_CHALLENGE if status == 401 else None,
    )


async def _validation_error(_request: Request, error: RequestValidationError) -> JSONResponse:
    details = [
        {"field": _field_from_location(item.get("loc", ())), "message": item.get("msg", ""), "type": item.get("type")}
        for item in error.errors()
    ]
    first = details[0] if details else {"field": None, "message": "invalid request"}
    message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return JSONResponse(
        {"error": "invalid_input", "message": message, "field": first["field"], "details": details},
        status_code=422,
    )


async def _http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
    return JSONResponse(
        {
            "error": ERROR_KINDS.get(error.status_code, "error"),
            "message": str(error.detail),
            "field": getattr(error, "field", None),
        },
        status_code=error.status_code,
        headers=getattr(error, "headers", None),
    )


async def _unexpected_error(_request: Request, error: Exception) -> JSONResponse:
    error_id = uuid.uuid4().hex[:12]
    logger.error("unexpected error %s", error_id, exc_info=error)
    return JSONResponse(
        {
            "error": "internal",
            "message": f"internal error; quote error id {error_id}",
            "field": None,
            "error_id": error_id,
        },
        status_code=500,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(TrainforgeError, _trainforge_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
