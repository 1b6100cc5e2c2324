"""The HTTP API: ``create_app(settings)`` builds the FastAPI application (routes under ``/ai/training``)."""

from trainforge._lazy import lazy_exports

_EXPORTS = {"create_app": "trainforge.api.app"}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
