"""A request-body size limit.

uvicorn does not limit the size of a request body, and Starlette's ``RequestBodyLimitMiddleware`` answers some
refusals in plain text, so this small ASGI middleware does it with the API's error body: it refuses a declared
``Content-Length`` over the limit before reading anything, and stops reading a chunked body as soon as it passes
the limit. Either way the request never reaches a route, so nothing is written.

The refusal is :class:`~trainforge.errors.RequestTooLarge`, of the one error tree. Raised while a chunked body is
read, FastAPI wraps it in a 400 ("There was an error parsing the body", as it does any error but an
HTTPException); ``trainforge.api.errors`` unwraps it and answers the 413.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trainforge.api.errors import error_response
from trainforge.errors import RequestTooLarge

DEFAULT_MAX_BODY_BYTES = 1024 * 1024


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await error_response(RequestTooLarge(self.max_bytes))(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise RequestTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)
