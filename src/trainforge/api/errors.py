"""The one place where errors become HTTP responses.

Every error body has the same shape: ``{"error": <kind>, "message": <text>, "field": <where, or null>}``, plus
``"details"`` for validation errors and ``"error_id"`` for unexpected ones. A body that cannot be read at all (not
JSON, not UTF-8, nested too deeply, empty) is invalid input too: a 422 naming ``body``. No stack trace or SQL text
is ever sent; an unexpected error is logged with its error id so an operator can find it. An error that waiting
cures (a database that does not answer: a 503) says how long in ``Retry-After``.
"""

from __future__ import annotations

import json
import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from trainforge.errors import DatabaseUnavailable, TrainforgeError

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
_SOURCES = ("body", "query", "path", "header", "cookie")


class ErrorResponse(JSONResponse):
    """An error body as ASCII JSON: a field name or message may quote the request, and a lone surrogate in it
    (``"\\ud800"`` is valid JSON) cannot be encoded as UTF-8; escaped, it travels as it came."""

    def render(self, content: object) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def _field_from_location(location: tuple | list) -> str | None:
    # FastAPI locations look like ("body", "config", "horizon") or ("query", "limit"): the field is the rest. A
    # location of just ("body",) is the body as a whole (empty, not JSON, not an object).
    parts = [str(part) for part in location]
    if parts and parts[0] in _SOURCES:
        source, parts = parts[0], parts[1:]
        if not parts and source == "body":
            return "body"
    return ".".join(parts) or None


def error_response(error: TrainforgeError) -> ErrorResponse:
    """The response to an error of the tree (one a client can act on: not a 500). Also an ASGI app, for the
    middleware that refuses a request before any route (``trainforge.api.limits``)."""
    status = error.http_status
    headers = dict(BEARER_CHALLENGE) if status == 401 else {}
    if error.retry_after_seconds is not None:
        headers["Retry-After"] = str(error.retry_after_seconds)
    return ErrorResponse(
        {"error": ERROR_KINDS.get(status, "error"), "message": error.message, "field": error.field},
        status_code=status,
        headers=headers or None,
    )


async def _trainforge_error(request: Request, error: TrainforgeError) -> JSONResponse:
    if error.http_status >= 500 and error.http_status != 503:
        return await _unexpected_error(request, error)
    if isinstance(error, DatabaseUnavailable):  # the client hears which database; the log hears why
        logger.warning("%s %s: %s unavailable: %s", request.method, request.url.path, error.database, error.reason)
    return error_response(error)


async def _validation_error(_request: Request, error: RequestValidationError) -> JSONResponse:
    details = [_detail(item) for item in error.errors()]
    first = details[0] if details else {"field": None, "message": "invalid request"}
    message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return ErrorResponse(
        {"error": "invalid_input", "message": message, "field": first["field"], "details": details},
        status_code=422,
    )


def _detail(item: dict) -> dict:
    location = tuple(item.get("loc", ()))
    if item.get("type") == "json_invalid":
        # FastAPI locates a JSON syntax error at ("body", <character offset>): the offset is not a field.
        reason = (item.get("ctx") or {}).get("error", "JSON decode error")
        where = f" at character {location[1]}" if len(location) > 1 else ""
        return {"field": "body", "message": f"not valid JSON: {reason}{where}", "type": "json_invalid"}
    message = item.get("msg", "")
    if item.get("type") == "value_error":  # our validators' own words, without pydantic's "Value error, " prefix
        message = str((item.get("ctx") or {}).get("error", message))
    return {"field": _field_from_location(location), "message": message, "type": item.get("type")}


async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    if isinstance(error.__cause__, TrainforgeError):
        # FastAPI's 400 around any error raised while it reads the body: ours (RequestTooLarge) answers for itself.
        return await _trainforge_error(request, error.__cause__)
    if error.status_code == 400 and error.__cause__ is not None:
        # FastAPI's bare "There was an error parsing the body", chained to why: a body that is not UTF-8, or JSON
        # nested past the parser's recursion limit. Malformed JSON is already a 422 naming the body; so is this.
        return await _validation_error(request, _unparseable_body(error.__cause__))
    return ErrorResponse(
        {
            "error": ERROR_KINDS.get(error.status_code, "error"),
            "message": str(error.detail),
            "field": getattr(error, "field", None),
        },
        status_code=error.status_code,
        headers=getattr(error, "headers", None),
    )


def _unparseable_body(cause: BaseException) -> RequestValidationError:
    reasons = {
        RecursionError: "nested too deeply",
        UnicodeDecodeError: "not UTF-8 text",
        ValueError: "a number has too many digits",  # int() refuses over 4300 digits
    }
    reason = next((text for kind, text in reasons.items() if isinstance(cause, kind)), "unreadable")
    return RequestValidationError(
        [{"type": "json_invalid", "loc": ("body",), "msg": "JSON decode error", "ctx": {"error": reason}}]
    )


async def _unexpected_error(_request: Request, error: Exception) -> JSONResponse:
    error_id = uuid.uuid4().hex[:12]
    logger.error("unexpected error %s", error_id, exc_info=error)
    return ErrorResponse(
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
