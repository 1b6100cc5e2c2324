"""Observability: service metrics for Prometheus, read from the metadata database at scrape time.

The per-job CPU and memory figures come from inside the job's Ray task (:mod:`trainforge.compute.resources`) and
are stored with the job's metrics; this package only reads them. See docs/observability.md.
"""

from trainforge.observability._collector import ServiceMetricsCollector

__all__ = ["ServiceMetricsCollector"]
