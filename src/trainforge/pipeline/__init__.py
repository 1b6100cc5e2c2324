"""The training pipeline, one module per step: ``load`` → ``prepare`` → fit → ``evaluate``.

``forecast.run_forecast_pipeline`` strings the steps together as a generator of events; ``config``, ``request`` and
``result`` are the contracts with the job kinds. Names load on first use, so that reading ``TrainingConfig`` (the
API does) does not load LightGBM.
"""

from trainforge._lazy import lazy_exports

_EXPORTS = {
    "PipelineRequest": "trainforge.pipeline.request",
    "PipelineResult": "trainforge.pipeline.result",
    "StepEvent": "trainforge.pipeline.result",
    "TrainingConfig": "trainforge.pipeline.config",
    "TrainingSetup": "trainforge.pipeline.config",
    "TuningConfig": "trainforge.pipeline.config",
    "load_training_data": "trainforge.pipeline.load",
    "run_forecast_pipeline": "trainforge.pipeline.forecast",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
