"""The metadata engine on PostgreSQL: a pooled connection the server closed is replaced before anyone uses it, and
reads run without a transaction around them."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from trainforge.db import engine as engine_module
from trainforge.db.engine import make_engine, read_transaction

pytestmark = pytest.mark.postgres


def backend_pid(engine) -> int:
    with read_transaction(engine) as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def terminate(url: str, pid: int) -> None:
    admin = make_engine(url)
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        conn.commit()
    admin.dispose()


def test_an_idle_connection_the_server_closed_is_replaced_at_checkout(pg_url, monkeypatch):
    engine = make_engine(pg_url)
    first = backend_pid(engine)
    terminate(pg_url, first)
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 0.0)  # every pooled connection counts as idle
    assert backend_pid(engine) != first  # no error: the ping found the dead connection and the pool replaced it
    engine.dispose()


def test_a_connection_used_moments_ago_is_handed_out_without_a_ping(pg_url, monkeypatch):
    engine = make_engine(pg_url)
    first = backend_pid(engine)
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 3600.0)
    pings = []
    monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: pings.append(conn) or True)
    assert backend_pid(engine) == first
    assert pings == []
    engine.dispose()


def test_reads_on_postgresql_run_outside_a_transaction(pg_url):
    engine = make_engine(pg_url)
    with read_transaction(engine) as conn:
        # now() is the transaction's start; clock_timestamp() the statement's. Outside a transaction block each
        # statement is its own transaction, so two statements see two different now() values.
        first = conn.execute(text("SELECT now()")).scalar_one()
        conn.execute(text("SELECT pg_sleep(0.01)"))
        second = conn.execute(text("SELECT now()")).scalar_one()
    assert second > first
    engine.dispose()
