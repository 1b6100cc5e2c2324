"""Run one study's coordinator in a process of its own, as a worker would: the kill-and-resume test SIGKILLs it.

Usage: python resume_study.py RAY_ADDRESS STORAGE_URL STUDY_ID FEATURE_STORE_ROOT N_TRIALS

Joins the Ray cluster at RAY_ADDRESS (the test session's), prepares the study's data, and runs the study; prints
one line per finished trial and a JSON line with the outcome at the end.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import uuid

import ray

from trainforge.hpo.coordinator import StudySpec, TrialRecord, run_study
from trainforge.hpo.optuna_storage import open_storage
from trainforge.hpo.space import parse_search_space
from trainforge.hpo.study_data import prepare_study_data
from trainforge.pipeline.config import TrainingConfig
from trainforge.pipeline.request import PipelineRequest

# Trials of a few hundred milliseconds: the test must see the study mid-way to kill it there.
SPACE = {
    "n_estimators": {"type": "int", "low": 60, "high": 200},
    "learning_rate": {"type": "float", "low": 0.02, "high": 0.2, "log": True},
    "max_depth": {"type": "int", "low": 3, "high": 8},
    "early_stopping_rounds": 10,
}


class PrintingListener:
    def trials_resumed(self, trials: list[TrialRecord], best: TrialRecord | None, counts: dict[str, int]) -> None:
        print(f"resumed {len(trials)}", flush=True)

    def trial_started(self, trial: TrialRecord) -> None:
        print(f"started {trial.number}", flush=True)

    def trial_finished(self, trial: TrialRecord, best: TrialRecord | None, counts: dict[str, int]) -> None:
        print(f"finished {trial.number} {trial.state}", flush=True)

    def should_stop(self) -> bool:
        return False


def main(ray_address: str, storage_url: str, study_id: str, feature_store_root: str, n_trials: str) -> None:
    ray.init(
        address=ray_address,
        logging_level=logging.WARNING,
        log_to_driver=False,
        runtime_env={"env_vars": {"OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}},
    )
    request = PipelineRequest(
        tenant_id="t1",
        feature_set="site_load",
        config=TrainingConfig(target_variable="load_kw", horizon=24),
        feature_store_root=feature_store_root,
    )
    spec = StudySpec(
        study_id=uuid.UUID(study_id),
        space=parse_search_space("lightgbm", SPACE),
        strategy="tpe",
        seed=7,
        n_trials=int(n_trials),
        parallel_jobs=2,
        timeout_seconds=None,
    )
    outcome = run_study(spec, open_storage(storage_url), prepare_study_data.remote(request), PrintingListener())
    print(json.dumps({"reason": outcome.reason, "counts": outcome.counts}), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
