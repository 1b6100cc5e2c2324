"""The metadata database: tables, engines and transactions, Alembic migrations, and the boundary where a database
that does not answer becomes ``DatabaseUnavailable``."""

from trainforge._lazy import lazy_exports

_EXPORTS = {
    "ensure_schema": "trainforge.db.migrate",
    "head_revision": "trainforge.db.migrate",
    "make_engine": "trainforge.db.engine",
    "read_transaction": "trainforge.db.engine",
    "upgrade": "trainforge.db.migrate",
    "write_transaction": "trainforge.db.engine",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
