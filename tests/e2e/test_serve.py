"""As a user runs it: `trainforge features import`, `trainforge serve` as a subprocess, a job over HTTP."""

from __future__ import annotations

import os
import subprocess

import httpx
import pytest

from trainforge.features.demo_data import generate_demo_load
from trainforge.registry import ModelRegistry
from trainforge.testing import TRAINFORGE, local_auth, trainforge_server, wait_for

pytestmark = pytest.mark.slow


def test_a_job_submitted_over_http_completes_and_its_model_is_in_mlflow(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "TRAINFORGE_HOME": str(home), "TRAINFORGE_RAY_NUM_CPUS": "2"}
    env.pop("TRAINFORGE_DATABASE_URL", None)
    csv = tmp_path / "load.csv"
    generate_demo_load(n_series=2, periods=24 * 90).to_csv(csv, index=False)
    imported = subprocess.run(
        [
            TRAINFORGE,
            "features",
            "import",
            str(csv),
            "--tenant",
            "e2e",
            "--feature-set",
            "site_load",
            "--timestamp-col",
            "timestamp",
            "--series-col",
            "site_id",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert imported.returncode == 0, imported.stderr
    assert "4,320 rows" in imported.stdout

    with trainforge_server(home, env=env) as base:
        assert httpx.get(f"{base}/ai/training/jobs", timeout=10).status_code == 401  # a key is required
        auth = local_auth(home)
        assert oct((home / "api_key").stat().st_mode & 0o777) == "0o600"
        accepted = httpx.post(
            f"{base}/ai/training/jobs/start",
            json={
                "tenant_id": "e2e",
                "model_type": "forecast",
                "model_name": "site_load",
                "feature_set": "site_load",
                "config": {"target_variable": "load_kw", "horizon": 24, "hyperparams": {"n_estimators": 50}},
            },
            headers=auth,
            timeout=10,
        )
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["job_id"]

        def finished():
            job = httpx.get(f"{base}/ai/training/jobs/{job_id}", headers=auth, timeout=10).json()
            return job if job["status"] in ("completed", "failed", "cancelled") else None

        job = wait_for(finished, 240, "the job to finish", interval=0.3)
        logs = httpx.get(f"{base}/ai/training/jobs/{job_id}/logs", headers=auth, timeout=10).json()
        assert job["status"] == "completed", logs
        assert job["model_id"] == "e2e:site_load:1.0.0"
        assert job["metrics"]["mae"] < job["metrics"]["baseline_mae"]
        assert {line["step"] for line in logs["logs"]} >= {"load", "prepare", "fit", "evaluate", "register"}

    registry = ModelRegistry(f"sqlite:///{home / 'mlflow.db'}", str(home / "artifacts"))
    version = registry.get_version("e2e:site_load:1.0.0")
    assert version.tags["job_id"] == job_id
