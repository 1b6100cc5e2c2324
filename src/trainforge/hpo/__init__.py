"""Hyperparameter optimisation: search spaces, samplers, and the study coordinator that runs trials on Ray.

A study is a training job with ``config.enable_hpo=true``. Its search space is parsed and checked at submission
(:func:`trainforge.hpo.space.parse_search_space`), its sampler built from the strategy
(:func:`trainforge.hpo.samplers.make_sampler`), and its trials run by the coordinator in the worker that claims
the job.
"""
