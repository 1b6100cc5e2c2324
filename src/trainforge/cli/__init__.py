"""The ``trainforge`` command (Typer): ``app`` is the command group, ``main`` its entry point."""

from trainforge._lazy import lazy_exports

_EXPORTS = {"app": "trainforge.cli.main", "main": "trainforge.cli.main"}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
