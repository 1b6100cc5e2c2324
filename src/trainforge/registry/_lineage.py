"""The lineage schema: what we write on an MLflow run and model version, and how we read it back.

A model version's tags are its lineage (DESIGN §5) and the only input of the next version's semver, so this module
is the single definition of their names and encodings. Lists and dicts are stored as canonical JSON so that a value
read back compares equal to the value written.

Version tags: ``job_id``, ``run_id``, ``experiment_id``, ``logged_model_id``, ``tenant_id``, ``model_name``,
``model_type``, ``model_family``, ``feature_set``, ``target_variable``, ``data_start``, ``data_end``,
``row_count``, ``series_count``, ``data_hash``, ``feature_columns`` (JSON list), ``hyperparams`` (JSON),
``metrics`` (JSON of the scalar metrics), ``refit_on_all``, ``study_id`` and ``hpo_best_trial`` (when tuned),
``code_version``, ``pkg.<name>`` per library, and, once the version is numbered, ``semver`` and ``model_id``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from trainforge.pipeline.result import PipelineResult, scalar_metrics
from trainforge.registry._provenance import code_version, package_versions
from trainforge.registry._records import JobIdentity
from trainforge.registry._versioning import SemVer, VersionFacts, canonical_json

__all__ = [
    "JOB_ID_TAG",
    "LOGGED_MODEL_TAG",
    "MODEL_ID_TAG",
    "SEMVER_TAG",
    "facts_from_tags",
    "facts_of",
    "facts_to_tags",
    "has_facts",
    "is_numbered",
    "run_metrics",
    "run_params",
    "run_step_metrics",
    "run_tags",
    "version_tags",
]

JOB_ID_TAG = "job_id"
LOGGED_MODEL_TAG = "logged_model_id"  # the SQL registry does not keep ModelVersion.model_id
SEMVER_TAG = "semver"
MODEL_ID_TAG = "model_id"
_FACT_TAGS = ("model_family", "feature_set", "feature_columns", "data_hash", "hyperparams")

# MLflow refuses longer parameter values; the full value is in the version's JSON tags anyway.
_MAX_PARAM_LENGTH = 6000
_TRUNCATED = "...(truncated)"


def facts_of(job: JobIdentity, result: PipelineResult) -> VersionFacts:
    """The version-deciding facts of a finished training (no semver yet)."""
    return VersionFacts(
        model_family=result.model_family,
        feature_set=job.feature_set,
        feature_columns=tuple(result.lineage.feature_columns),
        data_hash=result.lineage.data_hash,
        hyperparams=dict(result.hyperparams),
        data_start=result.lineage.start,
        data_end=result.lineage.end,
    )


def has_facts(tags: Mapping[str, str]) -> bool:
    """Whether a model version carries the facts trainforge writes (else someone registered it by hand)."""
    return all(name in tags for name in _FACT_TAGS)


def is_numbered(tags: Mapping[str, str]) -> bool:
    """Whether a model version has been given its semver and model id."""
    return SEMVER_TAG in tags and MODEL_ID_TAG in tags


# Families that were registered under another name: the same family, so retraining it is no major change.
_FORMER_FAMILY_NAMES = {"lightgbm_forecast": "lightgbm"}


def facts_from_tags(tags: Mapping[str, str]) -> VersionFacts | None:
    """Read the facts back from a model version's tags, or ``None`` if it was not registered by trainforge.

    Raises:
        ValueError: the JSON tags do not decode (hand-edited in the MLflow UI, say).
        InvalidInput: the ``semver`` tag is malformed.
    """
    if not has_facts(tags):
        return None
    semver = SemVer.parse(tags[SEMVER_TAG], field=SEMVER_TAG) if SEMVER_TAG in tags else None
    return VersionFacts(
        model_family=_FORMER_FAMILY_NAMES.get(tags["model_family"], tags["model_family"]),
        feature_set=tags["feature_set"],
        feature_columns=tuple(json.loads(tags["feature_columns"])),
        data_hash=tags["data_hash"],
        hyperparams=json.loads(tags["hyperparams"]),
        data_start=tags.get("data_start") or None,
        data_end=tags.get("data_end") or None,
        semver=semver,
    )


def facts_to_tags(facts: VersionFacts) -> dict[str, str]:
    """Encode the facts as version tags; :func:`facts_from_tags` reads them back equal."""
    tags = {
        "model_family": facts.model_family,
        "feature_set": facts.feature_set,
        "feature_columns": canonical_json(list(facts.feature_columns)),
        "data_hash": facts.data_hash,
        "hyperparams": canonical_json(facts.hyperparams),
        "data_start": facts.data_start or "",
        "data_end": facts.data_end or "",
    }
    if facts.semver is not None:
        tags[SEMVER_TAG] = str(facts.semver)
    return tags


def run_tags(job: JobIdentity) -> dict[str, str]:
    """Tags of the MLflow run of a job; ``job_id`` is how a retried job finds its run again."""
    return {
        JOB_ID_TAG: job.job_id,
        "tenant_id": job.tenant_id,
        "model_name": job.model_name,
        "model_type": job.model_type,
        "feature_set": job.feature_set,
    }


def run_params(job: JobIdentity, result: PipelineResult) -> dict[str, str]:
    """Run parameters: the final hyperparameters by name, and every config field as ``config.<field>``."""
    params = {name: _param_text(value) for name, value in result.hyperparams.items()}
    params.update({f"config.{name}": _param_text(value) for name, value in job.config.items()})
    params["model_family"] = result.model_family
    return params


def run_metrics(result: PipelineResult) -> dict[str, float]:
    """Run metrics: the scalar evaluation metrics, and each pipeline step's duration as ``seconds.<step>``."""
    metrics = scalar_metrics(result.metrics)
    metrics.update({f"seconds.{step}": float(seconds) for step, seconds in result.step_seconds.items()})
    return metrics


def run_step_metrics(result: PipelineResult) -> dict[str, dict[int, float]]:
    """Per-lead metrics as MLflow metric histories: ``<metric>_by_step`` → {lead: value} (the UI charts them)."""
    histories: dict[str, dict[int, float]] = {}
    for entry in result.metrics.get("per_step") or []:
        for name, value in entry.items():
            if name not in ("step", "rows"):
                histories.setdefault(f"{name}_by_step", {})[int(entry["step"])] = float(value)
    return histories


def version_tags(
    job: JobIdentity, result: PipelineResult, *, run_id: str, experiment_id: str, logged_model_id: str
) -> dict[str, str]:
    """The lineage tags written when a version is created (everything but ``semver`` and ``model_id``)."""
    lineage = result.lineage
    tags = {
        JOB_ID_TAG: job.job_id,
        "run_id": run_id,
        "experiment_id": experiment_id,
        LOGGED_MODEL_TAG: logged_model_id,
        "tenant_id": job.tenant_id,
        "model_name": job.model_name,
        "model_type": job.model_type,
        "target_variable": lineage.target_variable,
        "row_count": str(lineage.row_count),
        "series_count": str(lineage.series_count),
        "metrics": canonical_json(scalar_metrics(result.metrics)),  # per_step is in the run (MLflow tags are short)
        "refit_on_all": str(lineage.refit_on_all).lower(),
        "code_version": code_version(),
        **facts_to_tags(facts_of(job, result)),
    }
    if job.study_id is not None:
        tags["study_id"] = job.study_id
    if job.best_trial is not None:
        tags["hpo_best_trial"] = str(job.best_trial)
    tags.update({f"pkg.{name}": version for name, version in package_versions().items()})
    return tags


def _param_text(value: Any) -> str:
    text = value if isinstance(value, str) else canonical_json(value)
    if len(text) > _MAX_PARAM_LENGTH:
        return text[: _MAX_PARAM_LENGTH - len(_TRUNCATED)] + _TRUNCATED
    return text
