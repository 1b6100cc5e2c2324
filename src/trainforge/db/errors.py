"""The one place where a database that does not answer becomes :class:`~trainforge.errors.DatabaseUnavailable`.

    sqlalchemy OperationalError                     (refused or dropped connection, server shutting down, …)
    sqlalchemy DBAPIError with connection_invalidated (a disconnect, whatever class the driver gave it)
    sqlalchemy DisconnectionError, pool TimeoutError  (no connection could be had)
        → DatabaseUnavailable, chained to the original

Every other SQLAlchemy error (an IntegrityError a store turns into a 409, a bug's ProgrammingError) passes through
unchanged. The metadata database's transactions (``trainforge.db.engine``) and Optuna's storage
(``trainforge.hpo.optuna_storage``) translate here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc

from trainforge.errors import DatabaseUnavailable

__all__ = ["database_errors", "unavailable"]


def unavailable(error: BaseException, database: str = "metadata database") -> DatabaseUnavailable | None:
    """The :class:`DatabaseUnavailable` that ``error`` (or the error it was raised from) means, else None."""
    for cause in (error, error.__cause__):
        if isinstance(cause, exc.OperationalError | exc.DisconnectionError | exc.TimeoutError) or (
            isinstance(cause, exc.DBAPIError) and cause.connection_invalidated
        ):
            return DatabaseUnavailable(database, reason=_first_line(cause))
    return None


@contextmanager
def database_errors(
    database: str = "metadata database", *, wrapped: tuple[type[Exception], ...] = (exc.SQLAlchemyError,)
) -> Iterator[None]:
    """Raise :class:`DatabaseUnavailable` for a database that does not answer inside the block.

    Args:
        database: what the message calls it.
        wrapped: the errors to look at: SQLAlchemy's, or also a library's raised from them (Optuna's).

    Raises:
        DatabaseUnavailable: chained to the original error.
    """
    try:
        yield
    except wrapped as error:
        translated = unavailable(error, database)
        if translated is None:
            raise
        raise translated from error


def _first_line(error: BaseException) -> str:
    # SQLAlchemy appends the statement and a background link; the first line says what went wrong.
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
