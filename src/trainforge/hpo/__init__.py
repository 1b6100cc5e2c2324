"""Hyperparameter optimisation: search spaces, samplers, the study coordinator that runs trials on Ray, the
study store, and the ``tune`` step.

A study is a ``tune`` job (``config.enable_hpo=true``). Its search space is parsed and checked at submission
(:func:`parse_search_space`), its sampler built from the strategy (:func:`make_sampler`), and its trials run by
the coordinator (:func:`run_study`) in the worker that claims the job (:func:`tune`). Names load on first use:
Optuna and Ray are not imported with the package.
"""

from trainforge._lazy import lazy_exports

_EXPORTS = {
    "STRATEGIES": "trainforge.hpo.space",
    "NewStudy": "trainforge.hpo.records",
    "SearchSpace": "trainforge.hpo.space",
    "StudyOutcome": "trainforge.hpo.coordinator",
    "StudyRecord": "trainforge.hpo.records",
    "StudySpec": "trainforge.hpo.coordinator",
    "StudyStore": "trainforge.hpo.store",
    "TrialRecord": "trainforge.hpo.records",
    "TuningOutcome": "trainforge.hpo.tuning",
    "make_sampler": "trainforge.hpo.samplers",
    "open_storage": "trainforge.hpo.optuna_storage",
    "parse_search_space": "trainforge.hpo.space",
    "run_study": "trainforge.hpo.coordinator",
    "tune": "trainforge.hpo.tuning",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
