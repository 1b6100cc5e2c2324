"""The ``workers`` table: which workers exist, their heartbeats, and which are draining or stopped.

Job leases (in ``training_jobs``) decide who owns a job; this table is for people and metrics ("workers alive").
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, insert, select, update

from trainforge.db.engine import read_transaction, write_transaction
from trainforge.db.tables import workers
from trainforge.db.types import utcnow


class WorkerRegistry:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def register(self, worker_id: str) -> None:
        now = utcnow()
        with write_transaction(self.engine) as conn:
            conn.execute(
                insert(workers).values(
                    worker_id=worker_id,
                    hostname=socket.gethostname(),
                    pid=os.getpid(),
                    status="running",
                    started_at=now,
                    heartbeat_at=now,
                )
            )

    def heartbeat(self, worker_id: str, *, status: str | None = None) -> None:
        values = {"heartbeat_at": utcnow(), **({"status": status} if status else {})}
        with write_transaction(self.engine) as conn:
            conn.execute(update(workers).where(workers.c.worker_id == worker_id).values(**values))

    def stopped(self, worker_id: str) -> None:
        now = utcnow()
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(workers).where(workers.c.worker_id == worker_id).values(status="stopped", stopped_at=now)
            )

    def alive(self, *, within_seconds: float, now: datetime | None = None) -> int:
        """Workers not stopped whose last heartbeat is recent."""
        since = (now or utcnow()) - timedelta(seconds=within_seconds)
        with read_transaction(self.engine) as conn:
            return conn.execute(
                select(func.count()).where(workers.c.status != "stopped", workers.c.heartbeat_at >= since)
            ).scalar_one()
