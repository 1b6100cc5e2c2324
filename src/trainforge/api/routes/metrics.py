"""Prometheus metrics: ``GET /metrics`` (no API key: it names no tenant; see trainforge.observability)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client.exposition import choose_encoder
from sqlalchemy.exc import SQLAlchemyError

from trainforge.errors import DatabaseUnavailable

router = APIRouter(tags=["service"])
logger = logging.getLogger(__name__)

_TEXT = {"schema": {"type": "string"}}


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={
        200: {
            "description": "Prometheus text format (OpenMetrics when the scraper asks for it).",
            "content": {"text/plain": _TEXT, "application/openmetrics-text": _TEXT},
        },
        503: {"description": "The metadata database did not answer.", "content": {"text/plain": _TEXT}},
    },
)
def metrics(request: Request) -> Response:
    """Jobs by status, queue depth and oldest wait, queue-wait, job, step, CPU and memory distributions of the last
    hour, workers alive, and webhook deliveries waiting: read from the metadata database at each scrape."""
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    try:
        body = encode(request.app.state.metrics_registry)
    except (DatabaseUnavailable, SQLAlchemyError):
        logger.warning("metrics scrape failed: the metadata database did not answer", exc_info=True)
        return PlainTextResponse("metadata database unreachable\n", status_code=503)
    return Response(body, media_type=content_type)
