"""The training pipeline, one module per step: ``load`` → ``prepare`` → (tune) → fit → ``evaluate``.

``forecast.run_forecast_pipeline`` strings the steps together as a generator of events; ``config`` and ``result``
are the contracts with the worker. Nothing is imported here, so that reading ``TrainingConfig`` (the API does)
does not load LightGBM.
"""
