"""What a long-running trainforge process does once it has started (the API server, a worker, a warmed Ray worker
process): take its start-up objects out of the garbage collector's full collections.

Such a process holds a few hundred thousand objects once pandas, pyarrow, SQLAlchemy, FastAPI or Ray are imported,
and CPython's full collection walks every one of them: in the API server that paused everything for 215-260 ms
every 25 s or so under 200 status polls a second, which was the whole of the polls' 99th percentile. Frozen objects
are never walked again (what the process creates afterwards still is), and a full collection took 3-5 ms.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Collect once, then freeze every object alive now (``gc.get_freeze_count()`` tells how many).

    For a process that starts once and then serves: a test that builds many apps would keep their garbage forever.
    """
    gc.collect()
    gc.freeze()
