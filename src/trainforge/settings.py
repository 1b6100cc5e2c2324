"""Every setting trainforge reads, in one pydantic-settings class.

Values come from ``TRAINFORGE_*`` environment variables (or a ``.env`` file in the working directory). Nothing
reads the environment at import time: call :func:`load_settings` and pass the result down.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """trainforge's configuration; see docs/configuration.md for each variable."""

    model_config = SettingsConfigDict(env_prefix="TRAINFORGE_", env_file=".env", extra="ignore")

    home: Path = Field(
        default=Path("~/.trainforge"),
        description="Directory of the embedded defaults: SQLite files, artifacts, feature store, checkpoints, API key.",
    )
    database_url: str | None = Field(
        default=None,
        description="Metadata database (jobs, events, logs). Default: sqlite:///<home>/trainforge.db.",
    )
    optuna_storage_url: str | None = Field(
        default=None,
        description="Optuna RDB storage of HPO studies. Default: with a PostgreSQL database_url, that database "
        "(Optuna's tables in their own schema, 'optuna'); otherwise sqlite:///<home>/optuna.db (its own file).",
    )
    mlflow_tracking_uri: str | None = Field(
        default=None,
        description="MLflow tracking + registry backend. Default: sqlite:///<home>/mlflow.db.",
    )
    artifact_root: str | None = Field(
        default=None, description="Where MLflow stores model files and plots. Default: <home>/artifacts."
    )
    feature_store_root: str | None = Field(
        default=None, description="Root of the Parquet feature store. Default: <home>/features."
    )
    checkpoint_root: str | None = Field(
        default=None,
        description="Where each job's finished pipeline steps are kept until the job ends, so a retry skips them. "
        "Default: <home>/checkpoints.",
    )
    ray_address: str | None = Field(
        default=None,
        description="Address of an existing Ray cluster ('auto', 'ray://host:10001'). Default: start a local Ray.",
    )
    ray_num_cpus: int | None = Field(
        default=None,
        ge=1,
        description="CPUs for the local Ray (ignored with ray_address). Default: all cores.",
    )
    job_cpus: float = Field(
        default=1.0, gt=0, le=256, description="Ray CPUs reserved per training job (fractions let jobs share a core)."
    )
    train_threads: int | None = Field(
        default=None, ge=1, le=256, description="Threads LightGBM uses inside a job. Default: the machine's cores."
    )
    webhook_allow_private: bool = Field(
        default=False,
        description="Let webhooks POST to private, loopback and link-local addresses (a receiver on this network). "
        "Off by default: a tenant could otherwise aim the server at internal services.",
    )
    api_threads: int = Field(
        default=8,
        ge=1,
        le=256,
        description="Threads the API runs its blocking work in (database reads and writes). More threads only "
        "contend for Python's GIL: with 40 (AnyIO's default) under 200 status polls a second beside a busy worker, "
        "polls took 10 times longer at the 99th percentile than with a few.",
    )
    model_cache_size: int = Field(
        default=8,
        ge=1,
        le=1000,
        description="Loaded models the predict API keeps in memory (least recently used dropped first). Loading a "
        "version takes MLflow a fraction of a second to seconds; a loaded model holds its booster, a few MB. Eight "
        "keep a handful of busy models (each tenant's champion, a version being compared) warm in tens of MB; a "
        "server that forecasts with many models at once wants more.",
    )
    max_request_bytes: int = Field(
        default=1024 * 1024, ge=1024, le=64 * 1024 * 1024, description="Largest request body the API accepts."
    )
    worker_concurrency: int = Field(
        default=1, ge=1, le=64, description="Jobs one worker process runs at once (one thread each)."
    )
    max_running_jobs: int | None = Field(
        default=None, ge=1, le=10_000, description="Most jobs running at once across all workers. Default: no limit."
    )
    max_running_jobs_per_tenant: int | None = Field(
        default=None, ge=1, le=10_000, description="Most jobs of one tenant running at once. Default: no limit."
    )
    lease_seconds: float = Field(
        default=30.0, ge=1, le=3600, description="How long a job's claim holds without a heartbeat from its worker."
    )
    max_attempts: int = Field(default=3, ge=1, le=100, description="Attempts a job gets before it fails for good.")
    retry_base_delay_seconds: float = Field(
        default=5.0, ge=0, le=3600, description="Backoff before the 2nd attempt; doubles per attempt (with jitter)."
    )
    priority_aging_seconds: float = Field(
        default=60.0,
        gt=0,
        le=86_400,
        description="Waiting time one priority point is worth: a job is only overtaken by jobs that arrive within "
        "(priority difference x this) after it, so every wait is bounded.",
    )
    drain_seconds: float = Field(
        default=60.0,
        ge=0,
        le=86_400,
        description="On SIGTERM, how long running jobs may finish before they are returned to the queue.",
    )
    worker_poll_seconds: float = Field(
        default=0.5, gt=0, le=60, description="How often an idle worker looks for a queued job."
    )

    @field_validator("home")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'trainforge.db'}"

    @property
    def resolved_optuna_storage_url(self) -> str:
        if self.optuna_storage_url:
            return self.optuna_storage_url
        if self.database_url and self.database_url.startswith("postgresql"):
            return self.database_url  # trainforge.hpo.optuna_storage puts Optuna in its own schema there
        return f"sqlite:///{self.home / 'optuna.db'}"

    @property
    def resolved_mlflow_tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{self.home / 'mlflow.db'}"

    @property
    def resolved_artifact_root(self) -> str:
        return self.artifact_root or str(self.home / "artifacts")

    @property
    def resolved_feature_store_root(self) -> str:
        return self.feature_store_root or str(self.home / "features")

    @property
    def resolved_checkpoint_root(self) -> str:
        return self.checkpoint_root or str(self.home / "checkpoints")

    def ensure_home(self) -> None:
        """Create the home directory (owner-only) so the embedded SQLite files have somewhere to live."""
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)


def load_settings(**overrides: object) -> Settings:
    """Build the settings from the environment, with explicit overrides (used by the CLI and tests)."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
