"""The Ray runtime as a worker hook: started once per worker process, its processes warmed before any claim."""

from __future__ import annotations

import logging

import ray

from trainforge.compute.ray_runtime import ensure_ray, local_processes_to_keep
from trainforge.compute.tasks import warm_up_workers
from trainforge.jobs.hooks import JobHook
from trainforge.jobs.run import JobRun
from trainforge.settings import Settings

__all__ = ["RayRuntime"]

logger = logging.getLogger(__name__)


class RayRuntime(JobHook):
    """Connects this process to Ray (a local one, or ``TRAINFORGE_RAY_ADDRESS``'s cluster) before its workers
    claim; with ``warm_up`` (a worker pool's), warms a local Ray's worker processes so that no job pays the
    pipeline's import (one per worker thread or CPU, and spares)."""

    def __init__(self, settings: Settings, *, warm_up: bool = False) -> None:
        self.settings, self.warm_up = settings, warm_up

    def workers_starting(self, count: int) -> None:
        ensure_ray(self.settings)
        if self.warm_up and not self.settings.ray_address:
            # Local Ray only: a cluster's worker processes are the cluster's, and warm up on first use.
            cpus = int(ray.cluster_resources().get("CPU", 1))
            warmed = warm_up_workers(max(count, local_processes_to_keep(self.settings, cpus)))
            logger.info("warmed %d Ray worker processes", len(warmed))

    def before_job(self, run: JobRun) -> None:
        ensure_ray(self.settings)  # a no-op once connected; a worker used without run() connects here
