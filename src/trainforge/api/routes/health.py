"""Liveness and readiness: ``GET /healthz``."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from trainforge.api.deps import JobStoreDep
from trainforge.api.schemas import Health
from trainforge.db.migrate import current_revision

router = APIRouter(tags=["service"])


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
def healthz(store: JobStoreDep):
    """``ok`` when the metadata database answers; 503 otherwise."""
    try:
        revision = current_revision(store.engine)
    except SQLAlchemyError:
        return JSONResponse(
            Health(status="unavailable", database="unreachable", schema_revision=None).model_dump(), status_code=503
        )
    return Health(status="ok", database="ok", schema_revision=revision)
