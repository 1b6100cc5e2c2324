"""Step checkpoints: a job's finished pipeline steps, kept on disk so that a retried attempt skips them.

A job's checkpoints live in one directory, ``<checkpoint_root>/<job_id>/``, which the worker names and removes when
the job ends; the pipeline, running in a Ray task, reads and writes the files there::

    load.parquet + load.json   the loaded rows; the target, covariates, frequency, feature set summary, data hash
    fit.txt + fit.json         the LightGBM booster as model text; its hyperparameters and best iteration

The ``tune`` step needs no file here: its study lives in Optuna's storage, and a retried job resumes it there
(``trainforge.hpo.coordinator``); a finished study ends at once and hands back the same best trial.

Each ``.json`` manifest is written last and records the fingerprint of the step's inputs and the SHA-256 of its
data file. A checkpoint whose fingerprint differs from the running job's is ignored (and overwritten when the step
finishes again), so a changed input never reuses a stale step; one that is missing, partial or corrupt is ignored
with a warning. Nothing here raises for a bad checkpoint or a failed write: the step just runs (again).

Every file is written atomically: to a temporary file in the same directory, flushed to disk, then renamed over the
old one.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from trainforge import __version__
from trainforge.features.info import FeatureSetInfo
from trainforge.pipeline.config import TrainingConfig
from trainforge.pipeline.load import TrainingData, data_hash
from trainforge.pipeline.result import StepEvent

if TYPE_CHECKING:  # at run time, imported where it is used: after models.lightgbm_forecast has set up OpenMP
    import lightgbm as lgb

__all__ = ["CHECKPOINT_STEPS", "DataSnapshot", "StepCheckpoints", "inputs_fingerprint", "stored_steps"]

# The steps that can be checkpointed, in pipeline order. Prepare and evaluate are cheap and always recomputed.
CHECKPOINT_STEPS = ("load", "fit")
# The data file of each step that has one, beside its manifest ``<step>.json``.
DATA_FILES = {"load": "load.parquet", "fit": "fit.txt"}
# Part of every fingerprint: a change to what a checkpoint holds makes the old ones stale, not misread.
FORMAT = 2  # 2: multi-step features (trainforge.models.forecaster)

T = TypeVar("T")


@dataclass(frozen=True)
class DataSnapshot:
    """The output of the ``load`` step: the loaded data and its :func:`~trainforge.pipeline.load.data_hash`."""

    data: TrainingData
    digest: str


def inputs_fingerprint(tenant_id: str, feature_set: str, config: TrainingConfig, info: FeatureSetInfo) -> str:
    """SHA-256 of what a job's steps start from: its configuration and the feature set as it is now.

    The feature set counts by its version and the time that version was written (a set deleted and created again
    starts over at version 1, but not at the same time). Versions only grow, so if the set changes while an
    attempt loads it, the snapshot is filed under an older version than it holds and is simply not reused.
    """
    return _sha256_json(
        {
            "format": FORMAT,
            "trainforge": __version__,
            "tenant_id": tenant_id,
            "feature_set": feature_set,
            "config": config.model_dump(mode="json"),
            "feature_set_version": info.version,
            "feature_set_written_at": info.updated_at.isoformat() if info.updated_at else None,
        }
    )


def stored_steps(directory: str | Path) -> list[str]:
    """The steps with a checkpoint in ``directory`` (whether or not it suits the next attempt), in pipeline order."""
    return [step for step in CHECKPOINT_STEPS if (Path(directory) / f"{step}.json").is_file()]


class StepCheckpoints:
    """The checkpoints of one job, in one directory, for one set of inputs.

    Reading a step returns what it stored, or ``None`` when there is nothing to reuse. Neither reading nor saving
    raises: a checkpoint that cannot be used or saved only means its step runs (again), and a :class:`StepEvent`
    saying why waits in :meth:`take_notices` for the job's log.

    Args:
        directory: The job's checkpoint directory (created by the first save).
        inputs: :func:`inputs_fingerprint` of the job as it runs now.
    """

    def __init__(self, directory: str | Path, inputs: str) -> None:
        self.directory = Path(directory)
        self.inputs = inputs
        self._notices: list[StepEvent] = []

    def take_notices(self) -> list[StepEvent]:
        """The warnings and notes since the last call (checkpoints ignored or not saved), for the job's log."""
        notices, self._notices = self._notices, []
        return notices

    # -- load ------------------------------------------------------------------------------------------------
    def save_data(self, snapshot: DataSnapshot) -> None:
        """Store the output of the ``load`` step."""
        data = snapshot.data

        def payload() -> bytes:
            buffer = io.BytesIO()
            pq.write_table(pa.Table.from_pandas(data.frame, preserve_index=False), buffer)
            return buffer.getvalue()

        manifest = {
            "target": data.target,
            "covariates": data.covariates,
            "frequency": data.frequency,
            "info": data.info.to_json(),
            "data_hash": snapshot.digest,
        }
        self._save("load", self.inputs, manifest, payload)

    def load_data(self) -> DataSnapshot | None:
        """The output of an earlier ``load`` step with the same inputs, or ``None``."""

        def parse(manifest: dict[str, Any], payload: bytes) -> DataSnapshot:
            frame = pq.read_table(pa.BufferReader(payload)).to_pandas()
            if data_hash(frame) != manifest["data_hash"]:  # the same rows, or the metrics could differ
                raise ValueError("the stored rows do not hash to the data hash recorded with them")
            info = FeatureSetInfo.from_json(manifest["info"])
            data = TrainingData(frame, manifest["target"], list(manifest["covariates"]), manifest["frequency"], info)
            return DataSnapshot(data, manifest["data_hash"])

        return self._restore("load", self.inputs, parse)

    # -- fit -------------------------------------------------------------------------------------------------
    def save_model(self, model: lgb.Booster, *, params: Mapping[str, Any], data_hash: str) -> None:
        """Store the output of the ``fit`` step, fitted with ``params`` on the data of ``data_hash``."""

        def payload() -> bytes:
            # Every tree, not only up to the best iteration (model_to_string's default): the same booster comes back.
            return model.model_to_string(num_iteration=-1).encode()

        manifest = {"params": dict(params), "best_iteration": int(model.best_iteration)}
        self._save("fit", self._fit_fingerprint(params, data_hash), manifest, payload)

    def load_model(self, *, params: Mapping[str, Any], data_hash: str) -> lgb.Booster | None:
        """The booster an earlier ``fit`` step made with the same inputs, hyperparameters and data, or ``None``."""

        def parse(manifest: dict[str, Any], payload: bytes) -> lgb.Booster:
            from trainforge.models.lightgbm_forecast import lgb  # the family module sets up OpenMP, then loads it

            model = lgb.Booster(model_str=payload.decode())
            model.best_iteration = int(manifest["best_iteration"])  # not part of the model text
            return model

        return self._restore("fit", self._fit_fingerprint(params, data_hash), parse)

    def _fit_fingerprint(self, params: Mapping[str, Any], digest: str) -> str:
        return _sha256_json({"inputs": self.inputs, "params": dict(params), "data_hash": digest})

    # -- files -----------------------------------------------------------------------------------------------
    def _save(self, step: str, fingerprint: str, manifest: dict[str, Any], payload: Callable[[], bytes] | None) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            record = {"format": FORMAT, "step": step, "fingerprint": fingerprint, "saved_at": _now(), **manifest}
            if payload is not None:
                content = payload()
                record["sha256"] = hashlib.sha256(content).hexdigest()
                _write_atomically(self.directory / DATA_FILES[step], content)
            # The manifest last: until it is replaced, the old one's hash no longer matches, so nothing is reused.
            _write_atomically(self.directory / f"{step}.json", json.dumps(record, indent=1).encode())
        except Exception as error:  # a checkpoint that cannot be saved costs a retry some time, never the job
            self._notice(
                step,
                "WARNING",
                f"Could not save the checkpoint of step {step!r} ({_describe(error)}): a retry "
                "would run this step again",
            )

    def _restore(self, step: str, fingerprint: str, parse: Callable[[dict[str, Any], bytes], T]) -> T | None:
        path = self.directory / f"{step}.json"
        if not path.exists():
            return None
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
            if manifest.get("fingerprint") != fingerprint:
                self._notice(
                    step,
                    "INFO",
                    f"The checkpoint of step {step!r} from an earlier attempt was made from other "
                    "inputs (configuration, feature set version or hyperparameters): running the step again",
                )
                return None
            payload = b""
            if step in DATA_FILES:
                payload = (self.directory / DATA_FILES[step]).read_bytes()
                if hashlib.sha256(payload).hexdigest() != manifest["sha256"]:
                    raise ValueError(f"{DATA_FILES[step]} does not match its manifest (a partial or later write)")
            return parse(manifest, payload)
        except Exception as error:  # a broken checkpoint costs a re-run of its step, never the job
            self._notice(
                step,
                "WARNING",
                f"Ignored the checkpoint of step {step!r} from an earlier attempt, which cannot "
                f"be used ({_describe(error)}): running the step again",
            )
            return None

    def _notice(self, step: str, level: str, message: str) -> None:
        self._notices.append(StepEvent(step, message, level=level))


def _write_atomically(path: Path, content: bytes) -> None:
    """Replace ``path`` with ``content`` so that a reader, or a crash, sees the old file or the new one, never part."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    # The rename is only durable once the directory itself is on disk.
    descriptor = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _sha256_json(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


def _now() -> str:
    return datetime.now(UTC).isoformat()
