"""Forecasts of registered models: which version answers, its model loaded once, the history, the forecast.

The registered artefact is an MLflow ``pyfunc`` whose Python model forecasts from raw history
(``trainforge.models.forecaster``). The service calls its ``forecast(history, horizon, quantiles)`` directly rather
than ``predict``: MLflow's wrapper would turn the model's input errors into a bare ``MlflowException``, and the
service needs their ``field`` to answer a 422 naming it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pandas as pd

from trainforge.errors import InvalidInput, ModelNotFound, ModelVersionNotFound
from trainforge.features.store import ParquetFeatureStore
from trainforge.registry import RegisteredVersion, format_model_id
from trainforge.serving._cache import LoadingCache
from trainforge.serving._history import SERIES_ID, TIMESTAMP, rows_to_frame, stored_history
from trainforge.serving._request import PredictRequest

__all__ = ["CHAMPION_ALIAS", "Forecast", "LoadedModel", "Predictor"]

logger = logging.getLogger(__name__)

# The MLflow alias of the version a model name answers with by default (set by promotion).
CHAMPION_ALIAS = "champion"
# Fields of the model's input errors that are the request's own; any other (a column, ``timestamp``) is in history.
_REQUEST_FIELDS = ("horizon", "quantiles", "history", "series_ids")
# The version tag that holds a version's model id (``trainforge.registry``'s lineage).
_MODEL_ID_TAG = "model_id"
# Model ids remembered by MLflow version (an alias points at a version number); a bound, not a working set.
_MAX_MODEL_IDS = 10_000


@dataclass(frozen=True)
class LoadedModel:
    """A version's model, loaded: the pyfunc, its Python model and the spec it forecasts by."""

    version: RegisteredVersion
    pyfunc: Any  # mlflow.pyfunc.PyFuncModel
    python_model: Any  # trainforge.models.forecaster.ForecastModel, as MLflow loaded it
    spec: Mapping[str, Any]

    @property
    def model_id(self) -> str:
        return self.version.model_id

    @property
    def horizon(self) -> int:
        return int(self.spec["horizon"])

    @property
    def target(self) -> str:
        return str(self.spec["target"])

    @property
    def columns(self) -> list[str]:
        """The value columns a history needs: the target, then the covariates."""
        return [self.target, *[c for c in self.spec.get("covariates", []) if c != self.target]]

    @cached_property
    def known_series(self) -> frozenset[str]:
        """The series the model was trained on."""
        return frozenset(str(s) for s in self.spec.get("series", []))


@dataclass(frozen=True)
class Forecast:
    """A forecast: rows ``series_id, origin, timestamp, step, value`` and one ``q<quantile>`` column each."""

    model_id: str
    horizon: int
    quantiles: list[float]
    unseen_series: list[str]
    table: pd.DataFrame
    history: pd.DataFrame | None = None  # timestamp, series_id, value: the target the forecast started from

    @property
    def forecast_origin(self) -> pd.Timestamp | None:
        """The latest origin of any series (each series' own is in its rows)."""
        return None if self.table.empty else self.table["origin"].max()


class Predictor:
    """Forecasts with the registered models of every tenant, keeping the latest used ones loaded.

    Args:
        registry: Builds the :class:`~trainforge.registry.ModelRegistry`, on the first forecast: MLflow takes
            seconds to import, which an API that never forecasts should not pay at start-up.
        features: The feature store the default history is read from.
        cache_size: How many loaded models to keep (see ``Settings.model_cache_size``).
    """

    def __init__(self, registry: Callable[[], Any], features: ParquetFeatureStore, *, cache_size: int) -> None:
        self._make_registry = registry
        self._registry: Any = None
        self._registry_lock = threading.Lock()
        self._features = features
        self.cache: LoadingCache[str, LoadedModel] = LoadingCache(self._load, cache_size)
        self._model_ids: dict[tuple[str, int], str] = {}

    @property
    def registry(self) -> Any:
        with self._registry_lock:
            if self._registry is None:
                self._registry = self._make_registry()
            return self._registry

    # -- which version -----------------------------------------------------------------------------------------------

    def resolve(self, tenant_id: str, model_name: str, version: str | None) -> str:
        """The model id that answers for ``model_name`` of ``tenant_id`` at ``version`` (default: the champion,
        else the latest).

        An explicit version is not looked up here: a cached model answers without a trip to MLflow, and a missing
        one is found missing when it is loaded.

        Raises:
            ModelNotFound: the tenant has no such model (or no version of it yet).
        """
        if version is not None:
            return format_model_id(tenant_id, model_name, version)
        from trainforge.tracking.mlflow_errors import mlflow_errors  # imports MLflow: only once a forecast is asked

        registry = self.registry
        name = f"{tenant_id}.{model_name}"  # the registered model of a tenant's model (registry._records)
        # One query answers both: the model's aliases and its newest version (MLflow's latest version per stage).
        with mlflow_errors(f"look up model {name}", not_found=ModelNotFound(tenant_id, model_name)):
            registered = registry.backend.client.get_registered_model(name)
        champion = registered.aliases.get(CHAMPION_ALIAS)
        if champion is not None:
            model_id = self._model_id_of(name, int(champion))
            if model_id is not None:
                return model_id
            logger.warning(
                "%s: the %r alias is on version %s, which trainforge did not register; forecasting "
                "with the latest version",
                name,
                CHAMPION_ALIAS,
                champion,
            )
        newest = max(registered.latest_versions or [], key=lambda v: int(v.version), default=None)
        if newest is not None and _MODEL_ID_TAG in newest.tags:
            return newest.tags[_MODEL_ID_TAG]
        # The newest version is still being numbered (or was registered by hand): the newest numbered one.
        versions = registry.list_versions(tenant_id, model_name)
        if not versions:
            raise ModelNotFound(tenant_id, model_name)
        return versions[0].model_id

    def _model_id_of(self, name: str, mlflow_version: int) -> str | None:
        """The model id of MLflow's version ``mlflow_version`` of ``name`` (looked up once: it never changes), or
        None for a version trainforge did not register."""
        key = (name, mlflow_version)
        if key not in self._model_ids:
            from trainforge.tracking.mlflow_errors import mlflow_errors

            with mlflow_errors(f"look up version {mlflow_version} of {name}"):
                tags = self.registry.backend.client.get_model_version(name, str(mlflow_version)).tags
            if _MODEL_ID_TAG not in tags:
                return None  # not remembered: it may be a trainforge version still being numbered
            if len(self._model_ids) >= _MAX_MODEL_IDS:
                self._model_ids.clear()
            self._model_ids[key] = tags[_MODEL_ID_TAG]
        return self._model_ids[key]

    def _load(self, model_id: str) -> LoadedModel:
        registry = self.registry
        version = registry.get_version(model_id)
        pyfunc = registry.load_model(model_id)
        python_model = pyfunc.unwrap_python_model()
        return LoadedModel(version=version, pyfunc=pyfunc, python_model=python_model, spec=dict(python_model.spec))

    def model(self, tenant_id: str, model_name: str, version: str | None) -> LoadedModel:
        """The loaded model that answers for ``model_name`` of ``tenant_id`` (see :meth:`resolve`).

        Raises:
            ModelNotFound: no such model or version for this tenant (the same whether another tenant has one).
        """
        model_id = self.resolve(tenant_id, model_name, version)
        try:
            return self.cache.get(model_id)
        except ModelVersionNotFound:
            raise ModelNotFound(tenant_id, model_name, version) from None

    # -- the forecast ------------------------------------------------------------------------------------------------

    def predict(self, model_name: str, request: PredictRequest) -> Forecast:
        """Forecast with ``model_name`` of ``request.tenant_id`` as ``request`` asks.

        Raises:
            ModelNotFound: no such model or version for the tenant.
            InvalidInput: a horizon over the trained one (``horizon``), a requested series without history
                (``series_ids``), a history the model cannot forecast from (``history``, ``history.<column>``),
                quantiles of a model without intervals (``quantiles``).
        """
        model = self.model(request.tenant_id, model_name, request.version)
        horizon = model.horizon if request.horizon is None else request.horizon
        if horizon > model.horizon:
            raise InvalidInput(
                f"horizon must be at most {model.horizon}, the horizon {model.model_id} was trained for; got {horizon}",
                field="horizon",
            )
        history = self._history(model, request)
        try:
            table = model.python_model.forecast(history, horizon, list(request.quantiles))
        except ValueError as error:
            raise _input_error(error, from_request=request.history is not None) from error
        seen = model.known_series
        unseen = sorted(s for s in table[SERIES_ID].unique() if str(s) not in seen)
        kept_history = None
        if request.include_history:
            kept_history = history[[TIMESTAMP, SERIES_ID, model.target]].rename(columns={model.target: "value"})
        return Forecast(
            model_id=model.model_id,
            horizon=horizon,
            quantiles=list(request.quantiles),
            unseen_series=unseen,
            table=table,
            history=kept_history,
        )

    def _history(self, model: LoadedModel, request: PredictRequest) -> pd.DataFrame:
        steps = int(model.spec["history_steps"])
        if request.history is not None:
            history = rows_to_frame(request.history)
            if request.series_ids is not None:
                history = history[history[SERIES_ID].isin(request.series_ids)]
        else:
            history = stored_history(
                self._features,
                model.version.tenant_id,
                model.version.facts.feature_set,
                columns=model.columns,
                freq=str(model.spec["freq"]),
                steps=steps,
                series=request.series_ids,
            )
        present = set(history[SERIES_ID].unique())
        missing = [s for s in request.series_ids or () if s not in present]
        if missing:
            source = "the request's history" if request.history is not None else "the feature set"
            raise InvalidInput(
                f"no history for series {', '.join(map(repr, missing[:5]))}{' ...' if len(missing) > 5 else ''} "
                f"in {source}",
                field="series_ids",
            )
        if history.empty:
            raise InvalidInput("there is no history to forecast from", field="history")
        return history


def _input_error(error: ValueError, *, from_request: bool) -> InvalidInput:
    """The 422 of an input error of the model (``ForecastInputError``, whose ``field`` names the input).

    MLflow loads the model's code under a module name of its own, so its ``ForecastInputError`` is not the class
    of ``trainforge.models.forecaster``: the error is known by its ``field``.
    """
    field = getattr(error, "field", None)
    if not isinstance(field, str):
        raise error
    if field not in _REQUEST_FIELDS:
        # A column or the timestamps of the history: the request's rows if it sent them, else the feature set's.
        field = f"history.{field}" if from_request else "history"
    message = str(error)
    if not from_request and field == "history":
        message = f"the feature set's latest rows: {message}; send `history` to forecast from other rows"
    return InvalidInput(message, field=field)
