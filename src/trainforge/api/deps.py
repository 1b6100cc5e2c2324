"""Dependencies the routes declare: the stores built once in the app's lifespan.

The ones that only read ``app.state`` are ``async def``: FastAPI runs a plain ``def`` dependency in its thread
pool, and three such hops per request were a third of a status poll's CPU time.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from trainforge.features.store import ParquetFeatureStore
from trainforge.hpo.store import StudyStore
from trainforge.jobs.store import JobStore
from trainforge.notifications import WebhookStore
from trainforge.schedules import ScheduleStore
from trainforge.serving import Predictor
from trainforge.settings import Settings
from trainforge.tenancy import KeyStore, Principal

# auto_error=False: a missing key is our Unauthorized (401 with our error body), not FastAPI's bare 403.
_bearer = HTTPBearer(auto_error=False, description="An API key: `trainforge keys create --tenant T`.")


async def _job_store(request: Request) -> JobStore:
    return request.app.state.job_store


async def _feature_store(request: Request) -> ParquetFeatureStore:
    return request.app.state.feature_store


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


async def _schedule_store(request: Request) -> ScheduleStore:
    return request.app.state.schedule_store


async def _webhook_store(request: Request) -> WebhookStore:
    return request.app.state.webhook_store


async def _study_store(request: Request) -> StudyStore:
    return request.app.state.study_store


async def _predictor(request: Request) -> Predictor:
    return request.app.state.predictor


JobStoreDep = Annotated[JobStore, Depends(_job_store)]
ScheduleStoreDep = Annotated[ScheduleStore, Depends(_schedule_store)]
WebhookStoreDep = Annotated[WebhookStore, Depends(_webhook_store)]
StudyStoreDep = Annotated[StudyStore, Depends(_study_store)]
FeatureStoreDep = Annotated[ParquetFeatureStore, Depends(_feature_store)]
SettingsDep = Annotated[Settings, Depends(_settings)]
PredictorDep = Annotated[Predictor, Depends(_predictor)]


BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def _key_store(request: Request) -> KeyStore:
    return request.app.state.key_store


KeyStoreDep = Annotated[KeyStore, Depends(_key_store)]


def authenticate(keys: KeyStore, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    """The principal of a request's bearer key (blocking: it reads the key's row)."""
    token = credentials.credentials if credentials else None
    if token is not None and not (token.isascii() and token.isprintable()):
        # Not a key at all. A header value is visible ASCII on the wire; an in-process client can still send a NUL,
        # which PostgreSQL would refuse in the key lookup (a 500 instead of a 401).
        token = None
    return keys.authenticate(token)


def _principal(keys: KeyStoreDep, credentials: BearerDep) -> Principal:
    return authenticate(keys, credentials)


PrincipalDep = Annotated[Principal, Depends(_principal)]
