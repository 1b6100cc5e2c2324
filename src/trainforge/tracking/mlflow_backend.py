"""One MLflow backend (tracking + registry store and artifact root), and the one place that touches MLflow's
process-global state.

Almost everything goes through an explicit ``MlflowClient(tracking_uri=..., registry_uri=...)``. Two MLflow 3.17
calls cannot: ``mlflow.<flavor>.log_model`` creates its LoggedModel through ``MlflowClient()`` with the global
tracking URI and takes its experiment from the fluent active run, and the SQL registry store's
``create_model_version`` resolves a ``models:/<id>`` source with ``MlflowClient()`` as well (its own TODO admits
it). Those calls run inside :meth:`MlflowBackend.global_state`, which holds a process-wide lock, points the global
tracking URI at this backend and restores the previous value afterwards, so two backends in one process (tests, or
several registries) never see each other's URI, and code outside trainforge finds MLflow's globals as it left them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

# MLflow draws a progress bar on stderr for every artifact download (each model load): noise in a service's log
# and between the CLI's own tables. Read when MLflow resolves the setting, so set before any download.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

import mlflow
from mlflow import MlflowClient
from mlflow.tracking import _tracking_service
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from trainforge.tracking.mlflow_errors import mlflow_errors

__all__ = ["MlflowBackend", "redacted_uri"]

# Re-entrant: a registration that logs a model and then creates a version may nest the two blocks.
_GLOBAL_STATE_LOCK = threading.RLock()
_TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"


class MlflowBackend:
    """A tracking/registry URI, an artifact root, and the client bound to them.

    Args:
        tracking_uri: SQLAlchemy URI of MLflow's own database (``sqlite:///…/mlflow.db``,
            ``postgresql+psycopg://…/mlflow``) or an ``http(s)://`` tracking server. The registry uses the same URI.
        artifact_root: Directory or URI (``s3://bucket/prefix``) under which each experiment gets its own
            artifact location. A relative directory is made absolute now, not against whatever the working
            directory is when MLflow first writes.
    """

    def __init__(self, tracking_uri: str, artifact_root: str) -> None:
        self.tracking_uri = tracking_uri
        self.artifact_root = _artifact_root_uri(artifact_root)
        # MlflowClient opens a SQL backend at once, and creates or checks MLflow's schema there.
        with mlflow_errors(f"open the MLflow backend at {redacted_uri(tracking_uri)}"):
            self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    def artifact_location(self, *parts: str) -> str:
        """The artifact URI for an experiment named by ``parts`` (already-validated, path-safe names)."""
        return "/".join([self.artifact_root, *parts])

    @contextmanager
    def global_state(self) -> Iterator[None]:
        """Point MLflow's process-global tracking URI at this backend for the block.

        Holds a process-wide lock for the duration: fluent MLflow calls made by other threads at the same time
        would otherwise read this backend's URI (or we theirs). The registry URI is left alone: unset, MLflow
        derives it from the tracking URI, which is what the code inside needs.
        """
        with _GLOBAL_STATE_LOCK:
            # set_tracking_uri also exports MLFLOW_TRACKING_URI to the environment (for subprocesses), and the
            # private module attribute is the only way to tell "never set" from "set to the default": restore both.
            previous_uri = _tracking_service.utils._tracking_uri
            previous_env = os.environ.get(_TRACKING_URI_ENV)
            mlflow.set_tracking_uri(self.tracking_uri)
            try:
                yield
            finally:
                mlflow.set_tracking_uri(previous_uri)
                if previous_env is None:
                    os.environ.pop(_TRACKING_URI_ENV, None)
                else:
                    os.environ[_TRACKING_URI_ENV] = previous_env


def redacted_uri(uri: str) -> str:
    """``uri`` without its password, for messages and logs."""
    try:
        return make_url(uri).render_as_string(hide_password=True)
    except ArgumentError:  # not a database URL: an http(s) tracking server, say
        parts = urlsplit(uri)
        if parts.password is None:
            return uri
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))


def _artifact_root_uri(artifact_root: str) -> str:
    if "://" in artifact_root or artifact_root.startswith("file:"):
        return artifact_root.rstrip("/")
    return Path(artifact_root).expanduser().resolve().as_uri()
