"""The ``train`` kind: fit one model on Ray, evaluate it, and register it as a new version.

Steps: ``train`` (the pipeline as one Ray task, load → prepare → fit → evaluate, whose events stream back as the
job's log and progress) and ``register`` (the model version in MLflow, with its lineage; skipped when the config
says ``register_model: false``). The ``tune`` kind runs the same steps after its study
(:mod:`trainforge.kinds._tune`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

import ray

from trainforge.compute.tasks import run_forecast_task
from trainforge.errors import IllegalTransition, PipelineError
from trainforge.jobs.checkpoint_dirs import job_checkpoint_dir
from trainforge.jobs.kind import Completion, Step
from trainforge.jobs.run import JobRun
from trainforge.jobs.status import JobStatus
from trainforge.pipeline.checkpoints import stored_steps
from trainforge.pipeline.config import TrainingConfig
from trainforge.pipeline.request import PipelineRequest
from trainforge.pipeline.result import STEPS, PipelineResult, StepEvent
from trainforge.registry import JobIdentity, ModelRegistry, RegisteredVersion

__all__ = ["TrainKind", "TrainState"]

logger = logging.getLogger(__name__)


@dataclass
class TrainState:
    """What the steps of a train (or tune) job share.

    Attributes:
        request: What the pipeline runs from; a study's best hyperparameters are set on it before the fit.
        progress_from: Where the fit's progress starts (after a study, the study's share of the job).
        lineage: Extra lineage of the version (a study's id and best trial).
        extra_metrics: Metrics the job ends with beside the pipeline's (a study's best trial).
        result: The pipeline's result, once it ran.
        version: The registered version, once registered.
    """

    request: PipelineRequest
    progress_from: float = 0.0
    lineage: dict[str, Any] = field(default_factory=dict)
    extra_metrics: dict[str, float] = field(default_factory=dict)
    result: PipelineResult | None = None
    version: RegisteredVersion | None = None

    @property
    def config(self) -> TrainingConfig:
        return self.request.config


class TrainKind:
    """The ``train`` kind (see the module docstring).

    Args:
        registry: Where versions are registered.
    """

    name = "train"

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry
        self.steps: tuple[Step[TrainState], ...] = (Step("train", self.fit_on_ray), Step("register", self.register))

    # -- the kind's protocol -------------------------------------------------------------------------------
    def start(self, run: JobRun) -> TrainState:
        """The job's config, checked again, and where its checkpoints are (said in the log on a retry)."""
        config = TrainingConfig.model_validate(run.job.config)
        checkpoint_dir = job_checkpoint_dir(run.settings.resolved_checkpoint_root, run.job.job_id)
        _log_stored_checkpoints(run, stored_steps(checkpoint_dir))
        request = PipelineRequest(
            tenant_id=run.job.tenant_id,
            feature_set=run.job.feature_set,
            config=config,
            feature_store_root=str(run.settings.resolved_feature_store_root),
            num_threads=run.settings.train_threads,
            # Written by the Ray task itself: on a remote cluster, the checkpoint root must be shared storage.
            checkpoint_dir=str(checkpoint_dir),
        )
        return TrainState(request=request)

    def complete(self, run: JobRun, state: TrainState) -> Completion:
        result = _result_of(state)
        metrics = {
            **result.metrics,
            **state.extra_metrics,
            **{f"{step}_seconds": seconds for step, seconds in result.step_seconds.items()},
        }
        if state.version is None:
            return Completion("evaluated (register_model is false)", metrics=metrics)
        model_id = state.version.model_id
        return Completion(f"trained and registered {model_id}", model_id=model_id, metrics=metrics)

    def abandon(self, run: JobRun, state: TrainState, lost: IllegalTransition) -> None:
        """Delete the version the job registered if the job ended otherwise meanwhile (cancelled, or failed by the
        reaper): no version may stand for a job that did not complete. A job that went back to the queue, or that
        another attempt completed, keeps it: registration is idempotent per job, and that attempt reuses it."""
        version = state.version
        if version is None or lost.current not in (JobStatus.CANCELLED.value, JobStatus.FAILED.value):
            return
        try:
            self.registry.withdraw_version(version)
        except Exception:  # the job has ended either way; say what is left behind
            logger.exception("job %s: could not withdraw %s", run.job.job_id, version.model_id)
            run.log("ERROR", "register", f"The job ended {lost.current}, but {version.model_id} could not be withdrawn")
            return
        run.log(
            "WARNING",
            "register",
            f"Withdrew {version.model_id}: the job ended {lost.current} while it was being registered",
        )

    # -- steps -----------------------------------------------------------------------------------------------
    def fit_on_ray(self, run: JobRun, state: TrainState) -> None:
        """Run the pipeline as a Ray task, recording its events as they stream back; keep its result."""
        stream = run_forecast_task.options(num_cpus=run.settings.job_cpus).remote(state.request)
        try:
            state.result = _follow(run, stream, progress_from=state.progress_from)
        except BaseException:
            ray.cancel(stream, force=True)  # never leave a Ray task computing for a job that has ended
            raise
        if state.result is None:
            raise PipelineError("the pipeline ended without a result")

    def register(self, run: JobRun, state: TrainState) -> None:
        """Register the model in MLflow (unless the config says not to); nothing for a job cancelled meanwhile."""
        if not state.config.registers_model:
            return
        result = _result_of(state)
        run.report("INFO", "register", "Registering the model in MLflow", progress=STEPS["evaluate"])
        run.flush()  # registration takes a while: show where the job is, and stop here if it was cancelled
        job = run.job
        identity = JobIdentity(
            job_id=str(job.job_id),
            tenant_id=job.tenant_id,
            model_name=job.model_name,
            model_type=job.model_type,
            feature_set=job.feature_set,
            config=job.config,
            **state.lineage,
        )
        if state.extra_metrics:  # e.g. the study's best trial: part of the version's run metrics too
            result = replace(result, metrics={**result.metrics, **state.extra_metrics})
        state.version = self.registry.register_job_result(identity, result)
        run.log("INFO", "register", f"Registered {state.version.model_id} (MLflow run {state.version.run_id})")


def _follow(run: JobRun, stream, *, progress_from: float) -> PipelineResult | None:
    """Record the stream's events until it ends.

    Raises:
        IllegalTransition: the job was cancelled meanwhile.
        WorkerDraining: the worker is shutting down and the job's grace period is over.
    """
    result: PipelineResult | None = None
    while True:
        run.check_drain()
        # Wake when the stream has more or when the buffer's next write is due (at least every
        # progress.CHECK_SECONDS: the write renews the lease and tells whether the job was cancelled meanwhile).
        ready, _ = ray.wait([stream], timeout=run.progress.due_in())
        if not ready:
            run.heartbeat()
            continue
        try:
            batch = ray.get(next(stream))  # a list of events (see run_forecast_task), the result last
        except StopIteration:
            break
        except ray.exceptions.RayTaskError as error:
            raise error.cause if isinstance(error.cause, Exception) else error from None
        for item in batch:
            if isinstance(item, StepEvent):
                progress = item.progress
                if progress_from and progress is not None:  # after a study: the fit's progress starts there
                    progress = progress_from + (1 - progress_from) * progress
                run.report(item.level, item.step, item.message, progress=progress, metrics=item.metrics)
            else:
                result = item
    return result


def _result_of(state: TrainState) -> PipelineResult:
    if state.result is None:
        raise PipelineError("the pipeline has not run")
    return state.result


def _log_stored_checkpoints(run: JobRun, steps: list[str]) -> None:
    """Say at the start of a retry what earlier attempts left (the pipeline says what it reuses)."""
    job = run.job
    if job.attempts <= 1 and not steps:
        return
    found = f"checkpoints of steps {', '.join(map(repr, steps))}" if steps else "no checkpoints"
    run.log("INFO", None, f"Attempt {job.attempts} of {job.max_attempts}: {found} from an earlier attempt")
