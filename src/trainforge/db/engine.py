"""Creating SQLAlchemy engines that behave well on both SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.engine import make_url

from trainforge.db.errors import database_errors

SQLITE_BUSY_TIMEOUT_S = 30
# A pooled PostgreSQL connection idle for longer than this is pinged before it is handed out (see _ping_when_idle).
PING_AFTER_IDLE_SECONDS = 2.0


def normalise_url(url: str) -> str:
    """Point plain ``postgresql://`` URLs at psycopg 3, the driver we install (SQLAlchemy defaults to psycopg2)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str) -> Engine:
    """Create an engine for the metadata database.

    On SQLite: WAL journal (readers never block the writer), foreign keys on, a busy timeout, and transactions
    begun explicitly so that :func:`write_transaction` can take the write lock up front with ``BEGIN IMMEDIATE``.
    pysqlite's own transaction handling would start with a deferred BEGIN, and a deferred transaction that reads
    and then writes fails with "database is locked" instead of waiting when another writer got in between.
    """
    url = normalise_url(url)
    if make_url(url).get_backend_name() != "sqlite":
        engine = create_engine(url, pool_size=10, max_overflow=20)
        _ping_when_idle(engine)
        return engine

    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see above)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN " + conn.get_execution_options().get("sqlite_begin", "DEFERRED"))

    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection before handing it out, but only if it sat idle in the pool for a while.

    A connection that PostgreSQL closed meanwhile (a restart, an idle timeout) is then replaced before anyone uses
    it. SQLAlchemy's ``pool_pre_ping`` does the same on every checkout, a round trip each time: at a few hundred
    checkouts a second (status polls, a busy worker) that was a tenth of their database time, for connections used
    milliseconds earlier. SQLAlchemy has no idle threshold for it, hence these two listeners; a DisconnectionError
    raised at checkout makes the pool discard the connection and retry with a new one (up to three times).
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection, record, _proxy) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return  # new, or used moments ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # any failure of the ping: the connection is not fit to hand out
            raise exc.DisconnectionError(f"pooled connection failed its ping: {error}") from error


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write: serialised up front on SQLite, ordinary (row locks) on PostgreSQL.

    Raises:
        DatabaseUnavailable: the database did not answer (see :mod:`trainforge.db.errors`); as for reads.
    """
    with database_errors(), engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn, conn.begin():
        yield conn


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection for reading; never blocks writers on either backend.

    On SQLite it is a deferred transaction: its statements read one snapshot. On PostgreSQL it is an autocommit
    connection: at READ COMMITTED (the default) each statement sees its own snapshot whether or not a transaction
    wraps them, so the BEGIN and ROLLBACK would only be two more round trips (a third of a status poll's database
    time).
    """
    with database_errors():
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                yield conn
            return
        with engine.connect() as conn, conn.begin():
            yield conn
