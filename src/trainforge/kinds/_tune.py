"""The ``tune`` kind: an Optuna study over the job's search space, then the train kind's fit and registration of
the best trial.

Steps: ``tune`` (:func:`trainforge.hpo.tuning.tune`: the study's coordinator in the worker, its trials on Ray;
its study is its checkpoint, so a retried job resumes it), then ``train`` and ``register`` as in
:mod:`trainforge.kinds._train`, with the best hyperparameters, the study's id and best trial in the lineage, and the
fit's progress after the study's share.
"""

from __future__ import annotations

from dataclasses import replace

from trainforge.errors import IllegalTransition
from trainforge.hpo.store import StudyStore
from trainforge.hpo.tuning import TUNE_PROGRESS, tune
from trainforge.jobs.kind import Completion, Step
from trainforge.jobs.run import JobRun
from trainforge.kinds._train import TrainKind, TrainState
from trainforge.registry import ModelRegistry

__all__ = ["TuneKind"]


class TuneKind:
    """The ``tune`` kind (see the module docstring).

    Args:
        registry: Where the best trial's model is registered (its MLflow backend also tracks the study).
        studies: The study store, on the job store's database.
    """

    name = "tune"

    def __init__(self, registry: ModelRegistry, studies: StudyStore) -> None:
        self.train = TrainKind(registry)
        self.registry, self.studies = registry, studies
        self.steps: tuple[Step[TrainState], ...] = (Step("tune", self.tune), *self.train.steps)

    def start(self, run: JobRun) -> TrainState:
        return self.train.start(run)

    def complete(self, run: JobRun, state: TrainState) -> Completion:
        return self.train.complete(run, state)

    def abandon(self, run: JobRun, state: TrainState, lost: IllegalTransition) -> None:
        self.train.abandon(run, state, lost)

    def tune(self, run: JobRun, state: TrainState) -> None:
        """Run or resume the study; hand its best hyperparameters, id and best trial to the steps after it."""
        tuned = tune(run, state.request, study_store=self.studies, backend=self.registry.backend)
        state.request = replace(state.request, hyperparams=tuned.hyperparams)
        state.progress_from = TUNE_PROGRESS[1]
        state.lineage = {"study_id": str(tuned.study.study_id), "best_trial": tuned.best.number}
        state.extra_metrics = {"hpo_best_trial": float(tuned.best.number), "hpo_best_val_mae": tuned.best.value}
