"""Dependencies the routes declare: the stores built once in the app's lifespan."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from trainforge.features.store import ParquetFeatureStore
from trainforge.jobs.store import JobStore
from trainforge.settings import Settings


def _job_store(request: Request) -> JobStore:
    return request.app.state.job_store


def _feature_store(request: Request) -> ParquetFeatureStore:
    return request.app.state.feature_store


def _settings(request: Request) -> Settings:
    return request.app.state.settings


JobStoreDep = Annotated[JobStore, Depends(_job_store)]
FeatureStoreDep = Annotated[ParquetFeatureStore, Depends(_feature_store)]
SettingsDep = Annotated[Settings, Depends(_settings)]
