"""Compute on Ray: the runtime (local or a cluster), the pipeline's Ray task, and resource measurement."""

from trainforge._lazy import lazy_exports

_EXPORTS = {
    "RayRuntime": "trainforge.compute.runtime_hook",
    "ResourceUsage": "trainforge.compute.resources",
    "ensure_ray": "trainforge.compute.ray_runtime",
    "measure_resources": "trainforge.compute.resources",
    "run_forecast_task": "trainforge.compute.tasks",
    "shutdown_ray": "trainforge.compute.ray_runtime",
    "warm_up_workers": "trainforge.compute.tasks",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
