"""The public surface of every package, pinned (in the manner of httpx's ``test_exported_members.py``).

A package's ``__init__`` states what users may import (``__all__``); its implementation modules are private
(``_name.py``) where nothing outside the package needs them. Changing what a package exports is a decision: this
test makes it one, in the same commit as the change.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import trainforge

EXPORTS = {
    "trainforge": ["__version__"],
    "trainforge.api": ["create_app"],
    "trainforge.cli": ["app", "main"],
    "trainforge.compute": [
        "RayRuntime",
        "ResourceUsage",
        "ensure_ray",
        "measure_resources",
        "run_forecast_task",
        "shutdown_ray",
        "warm_up_workers",
    ],
    "trainforge.db": [
        "ensure_schema",
        "head_revision",
        "make_engine",
        "read_transaction",
        "upgrade",
        "write_transaction",
    ],
    "trainforge.features": [
        "FeatureSetInfo",
        "ParquetFeatureStore",
        "generate_demo_load",
        "infer_frequency",
        "latest_history",
    ],
    "trainforge.hpo": [
        "NewStudy",
        "STRATEGIES",
        "SearchSpace",
        "StudyOutcome",
        "StudyRecord",
        "StudySpec",
        "StudyStore",
        "TrialRecord",
        "TuningOutcome",
        "make_sampler",
        "open_storage",
        "parse_search_space",
        "run_study",
        "tune",
    ],
    "trainforge.jobs": [
        "CheckpointCleanup",
        "Completion",
        "JobHook",
        "JobKind",
        "JobOutcome",
        "JobRecord",
        "JobRun",
        "JobStatus",
        "JobStore",
        "NewJob",
        "RetryPolicy",
        "Step",
        "Worker",
        "WorkerDraining",
        "WorkerPool",
    ],
    "trainforge.kinds": [
        "TRAIN",
        "TUNE",
        "TrainKind",
        "TuneKind",
        "job_kinds",
        "kind_for",
        "make_worker",
        "make_worker_pool",
        "standard_hooks",
    ],
    "trainforge.models": [
        "DEFAULT_FAMILY",
        "FAMILIES",
        "ModelFamily",
        "ParamSpec",
        "family_for",
        "get_family",
        "validate_hyperparams",
    ],
    "trainforge.notifications": [
        "Delivery",
        "DeliveryAttempt",
        "DeliveryStatus",
        "DispatchReport",
        "NOTIFY_EVENTS",
        "NotificationDispatcher",
        "NotificationOutbox",
        "RetryPolicy",
        "SendOutcome",
        "Webhook",
        "WebhookRequest",
        "WebhookSender",
        "WebhookStore",
        "build_payload",
        "check_webhook_url",
        "refused_destination",
        "start_dispatcher",
    ],
    "trainforge.observability": ["ServiceMetricsCollector"],
    "trainforge.pipeline": [
        "PipelineRequest",
        "PipelineResult",
        "StepEvent",
        "TrainingConfig",
        "TrainingSetup",
        "TuningConfig",
        "load_training_data",
        "run_forecast_pipeline",
    ],
    "trainforge.registry": [
        "Bump",
        "JobIdentity",
        "ModelId",
        "ModelRegistry",
        "RegisteredVersion",
        "SemVer",
        "VersionFacts",
        "classify_change",
        "format_model_id",
        "next_version",
        "parse_model_id",
    ],
    "trainforge.schedules": [
        "CronSchedule",
        "Firing",
        "ScheduleRecord",
        "ScheduleRequest",
        "ScheduleStatus",
        "ScheduleStore",
        "Scheduler",
        "create_schedule",
        "job_for",
        "start_recurring_job",
    ],
    "trainforge.submission": [
        "JobRequest",
        "OptimizeRequest",
        "default_study_name",
        "enqueue_job_in",
        "enqueue_with_study",
        "enqueue_with_study_in",
        "prepare_job",
        "submit_job",
        "submit_study",
    ],
    "trainforge.tenancy": [
        "ApiKey",
        "CreatedKey",
        "KeyStore",
        "Principal",
        "ensure_local_admin_key",
        "local_key_path",
        "read_local_key",
    ],
    "trainforge.tracking": ["MlflowBackend", "TrainingRuns", "experiment_name", "forecast_vs_actual", "mlflow_errors"],
}


def test_every_package_is_pinned():
    packages = {f"trainforge.{m.name}" for m in pkgutil.iter_modules(trainforge.__path__) if m.ispkg}
    assert packages | {"trainforge"} == set(EXPORTS)


@pytest.mark.parametrize("package", sorted(EXPORTS))
def test_exports_are_pinned_and_importable(package):
    module = importlib.import_module(package)
    assert sorted(module.__all__) == EXPORTS[package]
    for name in module.__all__:
        member = getattr(module, name)  # loads a lazy export; raises if it is gone
        if inspect.isclass(member) or inspect.isfunction(member):  # ours, not a library's re-exported
            assert member.__module__.startswith("trainforge"), f"{package}.{name} comes from {member.__module__}"
