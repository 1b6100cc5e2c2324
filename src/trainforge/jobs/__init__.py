"""The job engine: the queue, claims, the state machine, leases and the reaper, retries, draining, and the worker
loop that runs a job's kind with hooks around its steps. What a job does is its kind's (:mod:`trainforge.kinds`).
"""

from trainforge._lazy import lazy_exports

_EXPORTS = {
    "CheckpointCleanup": "trainforge.jobs.checkpoint_dirs",
    "Completion": "trainforge.jobs.kind",
    "JobHook": "trainforge.jobs.hooks",
    "JobKind": "trainforge.jobs.kind",
    "JobOutcome": "trainforge.jobs.worker",
    "JobRecord": "trainforge.jobs.records",
    "JobRun": "trainforge.jobs.run",
    "JobStatus": "trainforge.jobs.status",
    "JobStore": "trainforge.jobs.store",
    "NewJob": "trainforge.jobs.records",
    "RetryPolicy": "trainforge.jobs.retry",
    "Step": "trainforge.jobs.kind",
    "Worker": "trainforge.jobs.worker",
    "WorkerDraining": "trainforge.jobs.run",
    "WorkerPool": "trainforge.jobs.worker_pool",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
