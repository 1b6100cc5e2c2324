"""The one place where MLflow's exceptions become trainforge's (see ``trainforge.errors``).

Every call into MLflow from ``tracking/`` and ``registry/`` runs inside :func:`mlflow_errors`, so callers only ever
see the trainforge error tree:

    MlflowException RESOURCE_DOES_NOT_EXIST     → the caller's NotFound (ModelVersionNotFound, …), else NotFound
    MlflowException INVALID_PARAMETER_VALUE     → InvalidInput   (a name or value MLflow refuses)
    MlflowException "out-of-date database schema" → SchemaOutOfDate (with MLflow's upgrade command)
    any other MlflowException, SQLAlchemyError, OSError → TrainforgeError
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from mlflow.exceptions import MlflowException
from sqlalchemy.exc import SQLAlchemyError

from trainforge.errors import InvalidInput, NotFound, SchemaOutOfDate, TrainforgeError

__all__ = ["mlflow_errors"]


@contextmanager
def mlflow_errors(action: str, *, not_found: NotFound | None = None, field: str | None = None) -> Iterator[None]:
    """Translate MLflow, database and artifact-store failures raised inside the block.

    Args:
        action: What we were doing, for the message: ``"register model t1.load"``.
        not_found: The error to raise when MLflow says the resource does not exist (``ModelVersionNotFound(…)``);
            default: a :class:`NotFound` whose message is derived from ``action``.
        field: The request field to blame in that default :class:`NotFound` and in :class:`InvalidInput` (e.g.
            ``"model_id"``).

    Raises:
        TrainforgeError: or one of its subclasses, chained to the original exception.
    """
    try:
        yield
    except TrainforgeError:
        raise
    except MlflowException as error:
        raise _translate(error, action, not_found, field) from error
    except SQLAlchemyError as error:
        raise TrainforgeError(f"MLflow's database failed to {action}: {_first_line(error)}") from error
    except OSError as error:
        # Artifact files, or the directory of a SQLite backend.
        raise TrainforgeError(f"MLflow could not {action}: {error}") from error


def _translate(error: MlflowException, action: str, not_found: NotFound | None, field: str | None) -> TrainforgeError:
    code = error.error_code
    message = _first_line(error.message)
    if code == "RESOURCE_DOES_NOT_EXIST":
        return not_found or NotFound(f"cannot {action}: {message}", field=field)
    if "out-of-date database schema" in message:
        return SchemaOutOfDate(f"the MLflow database is behind this MLflow version: {error.message}")
    if code == "INVALID_PARAMETER_VALUE":
        return InvalidInput(f"MLflow refused to {action}: {message}", field=field)
    return TrainforgeError(f"MLflow failed to {action}: {message} ({code})")


def _first_line(error: object) -> str:
    # SQLAlchemy appends the full statement and a background link; the first line says what went wrong.
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
