"""Several workers in one process: how one machine runs many jobs at once.

Each worker is a thread with its own id, lease and ``workers`` row, claiming one job at a time. The hooks'
``workers_starting`` runs once for the whole pool (the Ray runtime hook starts Ray and warms its worker processes
there), before any worker claims.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from trainforge.jobs.worker import Worker, default_worker_id

__all__ = ["WorkerPool"]


class WorkerPool:
    """``size`` workers made by ``make_worker(worker_id)``, run as threads (they share their hooks' runtime)."""

    def __init__(self, make_worker: Callable[[str], Worker], *, size: int) -> None:
        base = default_worker_id()
        self.workers = [make_worker(f"{base}/{n}") for n in range(size)]
        self.threads: list[threading.Thread] = []

    def start(self, stop: threading.Event) -> None:
        """Run the hooks' start-up once, then start every worker thread."""
        if self.workers:
            for hook in self.workers[0].hooks:
                hook.workers_starting(len(self.workers))
        for worker in self.workers:
            thread = threading.Thread(
                target=worker.run,
                args=(stop,),
                kwargs={"started": True},
                name=f"worker {worker.worker_id}",
                daemon=True,
            )
            thread.start()
            self.threads.append(thread)

    def join(self, timeout: float | None = None) -> None:
        for thread in self.threads:
            thread.join(timeout)
