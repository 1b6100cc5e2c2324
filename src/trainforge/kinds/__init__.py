"""The kinds of job trainforge runs, and the standard worker that runs them.

A kind is one module: :mod:`~trainforge.kinds._train` (fit, evaluate, register) and :mod:`~trainforge.kinds._tune`
(a study, then the same). :func:`job_kinds` builds the mapping a :class:`~trainforge.jobs.worker.Worker` is given,
:func:`standard_hooks` the hooks every job runs with (the Ray runtime, checkpoint cleanup), and
:func:`make_worker`/:func:`make_worker_pool` put them together, as ``trainforge serve``, ``trainforge worker``
and the demo do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trainforge.compute.runtime_hook import RayRuntime
from trainforge.hpo.store import StudyStore
from trainforge.jobs.checkpoint_dirs import CheckpointCleanup
from trainforge.jobs.hooks import JobHook
from trainforge.jobs.kind import JobKind
from trainforge.jobs.store import JobStore
from trainforge.jobs.worker import Worker
from trainforge.jobs.worker_pool import WorkerPool
from trainforge.kinds._train import TrainKind
from trainforge.kinds._tune import TuneKind
from trainforge.registry import ModelRegistry
from trainforge.settings import Settings

__all__ = [
    "TRAIN",
    "TUNE",
    "TrainKind",
    "TuneKind",
    "job_kinds",
    "kind_for",
    "make_worker",
    "make_worker_pool",
    "standard_hooks",
]

TRAIN = TrainKind.name
TUNE = TuneKind.name


def kind_for(config: Mapping[str, Any]) -> str:
    """The kind of a job with this (checked) training config: ``tune`` with ``enable_hpo``, else ``train``."""
    return TUNE if config.get("enable_hpo") else TRAIN


def job_kinds(store: JobStore, registry: ModelRegistry) -> dict[str, JobKind]:
    """Every kind a standard worker runs, by name."""
    return {TRAIN: TrainKind(registry), TUNE: TuneKind(registry, StudyStore(store.engine))}


def standard_hooks(settings: Settings, store: JobStore, *, warm_up: bool = False) -> list[JobHook]:
    """The hooks every job runs with: Ray's runtime (``warm_up``: warm its processes at start), and the removal
    of ended jobs' checkpoints."""
    return [RayRuntime(settings, warm_up=warm_up), CheckpointCleanup(settings.resolved_checkpoint_root, store)]


def make_worker(
    settings: Settings, store: JobStore, registry: ModelRegistry, *, warm_up: bool = False, **options: Any
) -> Worker:
    """A worker that runs every kind with the standard hooks (``options``: ``worker_id``, ``poll_seconds``,
    ``retry_policy``)."""
    hooks = standard_hooks(settings, store, warm_up=warm_up)
    return Worker(settings, store, job_kinds(store, registry), hooks=hooks, **options)


def make_worker_pool(
    settings: Settings, store: JobStore, registry: ModelRegistry, *, size: int | None = None
) -> WorkerPool:
    """``size`` standard workers (default ``TRAINFORGE_WORKER_CONCURRENCY``) as threads of this process."""
    return WorkerPool(
        lambda worker_id: make_worker(settings, store, registry, worker_id=worker_id, warm_up=True),
        size=size or settings.worker_concurrency,
    )
