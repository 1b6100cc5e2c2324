"""Step 1, load: the rows and columns a training job asks for, and a hash that identifies them."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

import pandas as pd

from trainforge.errors import InsufficientData, InvalidInput
from trainforge.features.frequency import infer_frequency
from trainforge.features.info import FeatureSetInfo
from trainforge.features.store import ParquetFeatureStore
from trainforge.pipeline.config import TrainingConfig


@dataclass(frozen=True)
class TrainingData:
    """The loaded rows of one job.

    Attributes:
        frame: Columns ``timestamp``, ``series_id``, the target and the covariates, sorted by series then time.
        target: The target column.
        covariates: The covariate columns.
        frequency: Pandas offset alias of the data.
        info: The feature set's summary at load time (its ``version`` belongs in the lineage).
    """

    frame: pd.DataFrame
    target: str
    covariates: list[str]
    frequency: str
    info: FeatureSetInfo

    # The load step's event and the model's lineage both state these; each costs a pass over the rows.
    @functools.cached_property
    def series_count(self) -> int:
        return int(self.frame["series_id"].nunique())

    @functools.cached_property
    def start(self) -> pd.Timestamp:
        return self.frame["timestamp"].min()

    @functools.cached_property
    def end(self) -> pd.Timestamp:
        return self.frame["timestamp"].max()


def load_training_data(
    store: ParquetFeatureStore, tenant_id: str, feature_set: str, config: TrainingConfig
) -> TrainingData:
    """Load the target and covariates of ``config`` within its date window and series.

    Covariates are ``config.features``, or every numeric column but the target when that is ``None``.

    Raises:
        FeatureSetNotFound: The tenant has no such feature set.
        InvalidInput: The target (``field="config.target_variable"``) or a covariate (``"config.features"``) is
            missing or not numeric.
        InsufficientData: No rows in the window.
    """
    info = store.info(tenant_id, feature_set)
    target = config.target_variable
    if target not in info.numeric_columns:
        problem = "is not numeric" if target in info.columns else "does not exist"
        raise InvalidInput(
            f"target column {target!r} {problem} in feature set {feature_set!r}; numeric columns are "
            f"{info.numeric_columns}",
            field="config.target_variable",
        )
    if config.features is None:
        covariates = [c for c in info.numeric_columns if c != target]
    else:
        covariates = list(dict.fromkeys(c for c in config.features if c != target))
        unusable = [c for c in covariates if c not in info.numeric_columns]
        if unusable:
            raise InvalidInput(
                f"covariates {unusable} are missing or not numeric in feature set {feature_set!r}; numeric "
                f"columns are {info.numeric_columns}",
                field="config.features",
            )
    frame = store.load(
        tenant_id,
        feature_set,
        start=config.start_date,
        end=config.end_date,
        series=config.series,
        columns=[target, *covariates],
    )
    if frame.empty:
        raise InsufficientData(
            f"feature set {feature_set!r} has 0 rows between {config.start_date or 'its start'} and "
            f"{config.end_date or 'its end'}" + (" for the requested series" if config.series else ""),
            field="config.start_date",
        )
    frequency = info.frequency or infer_frequency(frame["timestamp"], frame["series_id"])
    return TrainingData(frame, target, covariates, frequency, info)


def data_hash(frame: pd.DataFrame) -> str:
    """SHA-256 of a frame's column names, values and timestamps, in row order (stable across runs)."""
    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()
