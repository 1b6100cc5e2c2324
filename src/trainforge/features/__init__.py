"""The feature store: tenants' time series as Parquet datasets, and demo data to fill it."""

from trainforge.features.demo_data import generate_demo_load
from trainforge.features.frequency import infer_frequency
from trainforge.features.history import latest_history
from trainforge.features.info import FeatureSetInfo
from trainforge.features.store import ParquetFeatureStore

__all__ = ["FeatureSetInfo", "ParquetFeatureStore", "generate_demo_load", "infer_frequency", "latest_history"]
