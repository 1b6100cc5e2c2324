"""Several workers in one process: how one machine runs many jobs at once.

Each worker is a thread with its own id, lease and ``workers`` row, claiming one job at a time; the jobs' work runs
in Ray tasks, each reserving ``TRAINFORGE_JOB_CPUS`` (fractions let ten jobs share two cores). Ray is started once
and its worker processes are warmed once for the whole pool.
"""

from __future__ import annotations

import logging
import threading

import ray

from trainforge.compute.ray_runtime import ensure_ray, local_processes_to_keep
from trainforge.compute.tasks import warm_up_workers
from trainforge.jobs.store import JobStore
from trainforge.jobs.worker import Worker, default_worker_id
from trainforge.registry import ModelRegistry
from trainforge.settings import Settings

logger = logging.getLogger(__name__)


class WorkerPool:
    def __init__(self, settings: Settings, store: JobStore, registry: ModelRegistry, *, size: int | None = None):
        self.settings = settings
        base = default_worker_id()
        count = size or settings.worker_concurrency
        self.workers = [Worker(settings, store, registry, worker_id=f"{base}/{n}") for n in range(count)]
        self.threads: list[threading.Thread] = []

    def start(self, stop: threading.Event) -> None:
        """Start Ray (if needed), warm its worker processes, and start every worker thread."""
        ensure_ray(self.settings)
        if not self.settings.ray_address:
            # Local Ray only: a cluster's worker processes are the cluster's, and warm up on first use.
            cpus = int(ray.cluster_resources().get("CPU", 1))
            warmed = warm_up_workers(max(len(self.workers), local_processes_to_keep(self.settings, cpus)))
            logger.info("warmed %d Ray worker processes", len(warmed))
        for worker in self.workers:
            thread = threading.Thread(target=worker.run, args=(stop,), name=f"worker {worker.worker_id}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def join(self, timeout: float | None = None) -> None:
        for thread in self.threads:
            thread.join(timeout)
