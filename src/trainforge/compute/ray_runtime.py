"""Starting Ray once per process: a local Ray by default, or an existing cluster at the configured address."""

from __future__ import annotations

import logging
import os
import threading

import ray

from trainforge.settings import Settings

logger = logging.getLogger(__name__)
_lock = threading.Lock()


def ensure_ray(settings: Settings) -> None:
    """Connect to Ray if this process is not connected yet.

    ``ray.init`` costs ~3 s and ~0.8 GB on this class of machine (DESIGN §1), so it happens once per worker
    process, never per job. ``TRAINFORGE_RAY_ADDRESS`` (or Ray's own ``RAY_ADDRESS``) selects an existing cluster;
    the trainforge package must then be installed on the cluster's nodes too.
    """
    with _lock:
        if ray.is_initialized():
            return
        address = settings.ray_address or os.environ.get("RAY_ADDRESS")
        common = {
            "include_dashboard": False,
            "logging_level": logging.WARNING,
            "log_to_driver": False,
            # OpenMP threads that wait for each other spin on the CPU by default; on a shared machine that made a
            # 2-thread LightGBM fit 4-6x slower whenever another process held a core (see models/lightgbm_forecast).
            "runtime_env": {"env_vars": {"OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}},
        }
        if address:
            logger.info("connecting to the Ray cluster at %s", address)
            ray.init(address=address, **common)
        else:
            cpus = settings.ray_num_cpus or os.cpu_count() or 1
            logger.info("starting a local Ray with %d CPUs", cpus)
            # A local Ray must not pick up a RAY_ADDRESS meant for something else: address="local" forces a new one.
            ray.init(
                address="local",
                num_cpus=cpus,
                # Ray keeps only as many idle worker processes as CPUs and kills the rest after a second idle. With
                # fractional job_cpus, more jobs than CPUs run at once, so between two short jobs Ray would kill a
                # process and start a new one (~3 s of CPU importing pandas and LightGBM). Keep one per job slot.
                _system_config={"num_workers_soft_limit": local_processes_to_keep(settings, cpus)},
                **common,
            )


# Ray returns a finished task's process to its pool a moment after the task's last result reached the worker. A job
# claimed in that moment finds every kept process still leased, and Ray starts one more (~3 s of CPU, most of it
# importing the pipeline): 1-2 times per 1,000 back-to-back short jobs in bench/queue_throughput.py. Spare warm
# processes absorb that, at ~250 MB of memory each.
SPARE_PROCESSES = 2


def local_processes_to_keep(settings: Settings, cpus: int) -> int:
    """How many worker processes a local Ray keeps (and the worker warms): one per job slot or CPU, and spares."""
    return max(cpus, settings.worker_concurrency) + SPARE_PROCESSES


def shutdown_ray() -> None:
    with _lock:
        if ray.is_initialized():
            ray.shutdown()
