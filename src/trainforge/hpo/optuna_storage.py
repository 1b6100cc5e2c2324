"""Optuna's RDB storage for HPO studies: where it lives, and one open storage per URL per process.

Optuna, MLflow and trainforge's own migrations all keep their schema version in a table named ``alembic_version``
(DESIGN §1), so Optuna never shares a schema with them: on SQLite it has its own file
(``Settings.resolved_optuna_storage_url``, ``<home>/optuna.db`` by default), on PostgreSQL its own schema
``optuna`` in the metadata database (or whatever database the URL names). optuna-dashboard opens the same URL.

Only a study's coordinator writes to this storage (trials on Ray never touch it), so SQLite's single writer is
enough; several coordinators of one worker share the file and wait for each other through the busy timeout.

A storage that does not answer is :class:`~trainforge.errors.DatabaseUnavailable`: :func:`open_storage` raises it,
and :func:`optuna_storage_errors` turns Optuna's ``StorageInternalError`` of a lost database into it.
"""

from __future__ import annotations

import contextlib
import copy
import threading
import uuid
from collections.abc import Callable, Container, Iterator, Sequence
from datetime import datetime
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.storages import BaseStorage, RDBStorage
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.study import StudyDirection
from optuna.study._frozen import FrozenStudy
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, ProgrammingError, SQLAlchemyError

from trainforge.db.engine import SQLITE_BUSY_TIMEOUT_S, normalise_url
from trainforge.db.errors import database_errors

__all__ = ["OPTUNA_SCHEMA", "SingleWriterStorage", "open_storage", "optuna_storage_errors", "optuna_study_name"]

OPTUNA_SCHEMA = "optuna"
_DATABASE = "Optuna storage"  # as DatabaseUnavailable names it

_storages: dict[str, RDBStorage] = {}
_lock = threading.Lock()


def open_storage(url: str) -> RDBStorage:
    """The Optuna storage at ``url``, opened once per process and then reused.

    Opening an ``RDBStorage`` creates Optuna's tables if they are missing and checks their schema version: a few
    hundred milliseconds on PostgreSQL, paid once per worker process rather than once per study.

    - SQLite: the file is switched to WAL (readers such as optuna-dashboard never block the coordinator) and
      each connection to ``synchronous=NORMAL``, so a commit does not wait for an fsync: a study writes ~10
      small transactions per trial, and with fsyncs those dominated the coordinator's overhead. A power loss
      can lose the last commits, never corrupt the file; a resumed study re-runs a trial whose result was lost.
      Transactions take the write lock when they begin, so concurrent studies on one file wait for each other
      (busy timeout) instead of failing with "database is locked".
    - PostgreSQL: the schema ``optuna`` is created if missing, and every connection gets
      ``search_path=optuna``. A URL that already sets ``options`` (its own search path) is used as it is.

    Args:
        url: SQLAlchemy URL; ``postgresql://`` URLs use psycopg 3.

    Returns:
        The storage (no heartbeat: only the coordinator writes to it, and on start it fails every trial a dead
        coordinator left RUNNING; see :mod:`trainforge.hpo.coordinator`).

    Raises:
        DatabaseUnavailable: the storage's database does not answer (nothing is kept: the next call tries again).
    """
    url = normalise_url(url)
    with _lock, optuna_storage_errors():  # one storage per URL, even when two jobs of one worker start studies
        storage = _storages.get(url)
        if storage is None:
            storage = _create(url)
            _storages[url] = storage
        return storage


def optuna_storage_errors() -> contextlib.AbstractContextManager[None]:
    """Raise :class:`~trainforge.errors.DatabaseUnavailable` for an Optuna storage that stops answering in the block.

    Optuna raises ``StorageInternalError`` from the SQLAlchemy error of a failed storage call (and SQLAlchemy's own
    while it opens a storage); the lost connections among them are translated, the rest pass through unchanged.
    """
    return database_errors(_DATABASE, wrapped=(optuna.exceptions.StorageInternalError, SQLAlchemyError))


def optuna_study_name(study_id: uuid.UUID) -> str:
    """The Optuna study name of a trainforge study (what optuna-dashboard lists)."""
    return f"trainforge-{study_id}"


def _create(url: str) -> RDBStorage:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        storage = RDBStorage(
            url, engine_kwargs={"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}}
        )
        _tune_sqlite(storage.engine)
        return storage
    if backend == "postgresql" and "options" not in parsed.query:
        _create_schema(url)
        return RDBStorage(
            url,
            engine_kwargs={
                "connect_args": {"options": f"-csearch_path={OPTUNA_SCHEMA}"},
                # A worker lives for days: connections the server or a proxy dropped are replaced, not raised.
                "pool_pre_ping": True,
            },
        )
    return RDBStorage(url, engine_kwargs={"pool_pre_ping": True})


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # persistent: stored in the file
        cursor.execute("PRAGMA synchronous=NORMAL")  # per connection
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        # Optuna's transactions read, then write. Begun deferred, one that loses a race with another writer (two
        # studies of one worker share the file) fails at once with "database is locked" instead of waiting, the
        # error Optuna's users report under parallel trials; taking the write lock up front makes it wait.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    # Optuna has already connected (to create its tables): drop those connections so every pooled one is tuned.
    engine.dispose()


def _create_schema(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_namespace WHERE nspname = :name"), {"name": OPTUNA_SCHEMA}
            ).first()
            if exists is None:
                try:
                    conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{OPTUNA_SCHEMA}"'))
                    conn.commit()
                except (IntegrityError, ProgrammingError):
                    # Another process created it between our check and our CREATE ("IF NOT EXISTS" is not
                    # atomic in PostgreSQL: the loser of the race gets a unique violation). Theirs will do.
                    conn.rollback()
    finally:
        engine.dispose()


class SingleWriterStorage(BaseStorage, BaseHeartbeat):
    """An Optuna storage for the one process that writes a study: reads come from memory, writes go through.

    ``RDBStorage`` reads a running trial back from the database whenever Optuna needs it (``ask()`` and
    ``tell()`` together read it five times, six queries each) and writes each sampled parameter in a transaction
    of its own: ~57 statements and ~13 commits for a trial of four parameters, most of a coordinator's CPU (the
    SQL itself takes a few milliseconds; SQLAlchemy's ORM around it, tens). A study's coordinator is the only
    writer of its study (the study's job is leased to one worker, DESIGN §2), so what it wrote is what the
    database holds: reads can come from memory, and a new trial can be written once, whole, after ``ask()`` has
    sampled it.

    Contract:

    - A study's trials are read from the database once, on first use; after that its reads come from memory.
      Trials another process adds to the study later are not seen: one writer per study.
    - Every write goes to the wrapped storage first, in the transaction Optuna would use (so Optuna still checks
      it: a finished trial cannot change), and only then to the in-memory copy; except inside
      :meth:`creating_trials`, where a new trial is built in memory and written with everything ``ask()`` gave
      it (parameters, sampler attributes) in one transaction when the block ends. A crash inside the block
      loses a trial that had not started; nothing else is ever held back.
    - A ``FrozenTrial`` handed out is never changed afterwards (a write replaces the stored copy), as
      ``BaseStorage`` requires. Thread-safe.
    - Times held in memory for a state change (a retry's start, a trial's completion) are this process's
      clock, read just after the database's write: one write later (milliseconds) than the ones it holds.
    - Heartbeat methods are the wrapped storage's.

    Args:
        backend: The study's RDB storage (:func:`open_storage`).
    """

    def __init__(self, backend: RDBStorage) -> None:
        self._backend = backend
        self._lock = threading.RLock()
        self._trials: dict[int, dict[int, FrozenTrial]] = {}  # study_id -> trial number -> trial
        # trial_id -> (study_id, trial number). A trial created in creating_trials() keeps, for Optuna, the
        # provisional id it was created with (negative: never a database id); both ids lead to it.
        self._where: dict[int, tuple[int, int]] = {}
        self._database_id: dict[int, int] = {}  # provisional id -> the id the database gave the trial
        self._directions: dict[int, list[StudyDirection]] = {}
        self._distributions: dict[tuple[int, str], BaseDistribution] = {}  # (study_id, param name) -> first seen
        self._creating = False
        self._pending: list[int] = []  # provisional ids of trials not written yet
        self._last_provisional_id = 0

    @contextlib.contextmanager
    def creating_trials(self) -> Iterator[None]:
        """Write the trials created in this block once each, whole, when it ends (wrap ``study.ask()`` in it).

        ``ask()`` creates a trial, then lets the sampler set attributes on it and writes each parameter it
        samples: as many transactions. Here those gather on the in-memory trial, and the block's end writes it
        with all of them in one (``RDBStorage`` creating a trial from a template). If the block raises, its
        trials are dropped unwritten.

        Raises:
            RuntimeError: The database numbered a trial differently: another process added trials to the study.
        """
        with self._lock:
            self._creating = True
            try:
                yield
                self._write_pending()
            finally:
                self._creating = False
                self._drop_pending()

    # -- studies: the wrapped storage's ----------------------------------------------------------------------
    def create_new_study(self, directions: Sequence[StudyDirection], study_name: str | None = None) -> int:
        study_id = self._backend.create_new_study(directions, study_name)
        with self._lock:
            self._trials[study_id] = {}
            self._directions[study_id] = list(directions)
        return study_id

    def delete_study(self, study_id: int) -> None:
        self._backend.delete_study(study_id)
        with self._lock:
            self._trials.pop(study_id, None)
            for trial_id in [trial_id for trial_id, (owner, _) in self._where.items() if owner == study_id]:
                del self._where[trial_id]

    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        self._backend.set_study_user_attr(study_id, key, value)

    def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
        self._backend.set_study_system_attr(study_id, key, value)

    def get_study_id_from_name(self, study_name: str) -> int:
        return self._backend.get_study_id_from_name(study_name)

    def get_study_name_from_id(self, study_id: int) -> str:
        return self._backend.get_study_name_from_id(study_id)

    def get_study_directions(self, study_id: int) -> list[StudyDirection]:
        with self._lock:
            if study_id not in self._directions:
                self._directions[study_id] = self._backend.get_study_directions(study_id)
            return list(self._directions[study_id])

    def get_study_user_attrs(self, study_id: int) -> dict[str, Any]:
        return self._backend.get_study_user_attrs(study_id)

    def get_study_system_attrs(self, study_id: int) -> dict[str, Any]:
        return self._backend.get_study_system_attrs(study_id)

    def get_all_studies(self) -> list[FrozenStudy]:
        return self._backend.get_all_studies()

    # -- trials: written through, read from memory -----------------------------------------------------------
    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        with self._lock:
            trials = self._study(study_id)
            if self._creating and template_trial is None:
                # Numbers count the study's trials from 0 (RDBStorage's rule); _write_pending checks the database
                # agrees.
                self._last_provisional_id -= 1
                trial_id = self._last_provisional_id
                trial = FrozenTrial(
                    number=len(trials),
                    state=TrialState.RUNNING,
                    value=None,
                    datetime_start=datetime.now(),
                    datetime_complete=None,
                    params={},
                    distributions={},
                    user_attrs={},
                    system_attrs={},
                    intermediate_values={},
                    trial_id=trial_id,
                )
                self._pending.append(trial_id)
            else:
                # RDBStorage's own method for Optuna's cache (_CachedStorage uses it too): it returns the trial
                # as created, with the number and start time the database gave it, so it need not be read back.
                trial = self._backend._create_new_trial(study_id, template_trial)
            trials[trial.number] = trial
            self._where[trial._trial_id] = (study_id, trial.number)
            return trial._trial_id

    def set_trial_param(
        self, trial_id: int, param_name: str, param_value_internal: float, distribution: BaseDistribution
    ) -> None:
        with self._lock:
            study_id = self._where[trial_id][0] if trial_id in self._where else None
            known = self._distributions.get((study_id, param_name)) if study_id is not None else None
            if trial_id in self._pending:  # checked as RDBStorage would check it; written by _write_pending
                self.check_trial_is_updatable(trial_id, self.get_trial(trial_id).state)
                if known is not None:
                    optuna.distributions.check_distribution_compatibility(known, distribution)
            else:
                # Given the distribution the study already uses for this name (as _CachedStorage gives it),
                # RDBStorage checks compatibility against it instead of querying the study's parameters for it.
                self._backend._set_trial_param(
                    self._in_database(trial_id), param_name, param_value_internal, distribution, known
                )
            if study_id is not None and known is None:
                self._distributions[(study_id, param_name)] = distribution

        def change(trial: FrozenTrial) -> None:
            trial.params[param_name] = distribution.to_external_repr(param_value_internal)
            trial.distributions[param_name] = distribution

        self._replace(trial_id, change)

    def set_trial_state_values(self, trial_id: int, state: TrialState, values: Sequence[float] | None = None) -> bool:
        if trial_id in self._pending:
            raise RuntimeError("a trial being created cannot change state before it is written")
        if not self._backend.set_trial_state_values(self._in_database(trial_id), state, values):
            return False
        now = datetime.now()

        def change(trial: FrozenTrial) -> None:
            if values is not None:
                trial.values = [float(value) for value in values]
            trial.state = state
            if state == TrialState.RUNNING:
                trial.datetime_start = now
            if state.is_finished():
                trial.datetime_complete = now

        self._replace(trial_id, change)
        return True

    def set_trial_intermediate_value(self, trial_id: int, step: int, intermediate_value: float) -> None:
        self._write(trial_id, self._backend.set_trial_intermediate_value, step, intermediate_value)
        self._replace(trial_id, lambda trial: trial.intermediate_values.__setitem__(step, intermediate_value))

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._write(trial_id, self._backend.set_trial_user_attr, key, value)
        self._replace(trial_id, lambda trial: trial.user_attrs.__setitem__(key, value))

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._write(trial_id, self._backend.set_trial_system_attr, key, value)
        self._replace(trial_id, lambda trial: trial.system_attrs.__setitem__(key, value))

    def get_trial_id_from_study_id_trial_number(self, study_id: int, trial_number: int) -> int:
        with self._lock:
            trial = self._study(study_id).get(trial_number)
        if trial is None:
            return self._backend.get_trial_id_from_study_id_trial_number(study_id, trial_number)
        return trial._trial_id

    def get_trial(self, trial_id: int) -> FrozenTrial:
        with self._lock:
            where = self._where.get(trial_id)
            if where is not None:
                return self._trials[where[0]][where[1]]
        return self._backend.get_trial(trial_id)  # a trial of a study this storage has not loaded

    def get_all_trials(
        self, study_id: int, deepcopy: bool = True, states: Container[TrialState] | None = None
    ) -> list[FrozenTrial]:
        with self._lock:
            trials = list(self._study(study_id).values())  # in number order: loaded sorted, then appended
        if states is not None:
            trials = [trial for trial in trials if trial.state in states]
        return copy.deepcopy(trials) if deepcopy else trials

    def remove_session(self) -> None:
        self._backend.remove_session()

    # -- heartbeat: the wrapped storage's --------------------------------------------------------------------
    def record_heartbeat(self, trial_id: int) -> None:
        self._backend.record_heartbeat(self._in_database(trial_id))

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        return self._backend._get_stale_trial_ids(study_id)

    def get_heartbeat_interval(self) -> int | None:
        return self._backend.get_heartbeat_interval()

    def get_heartbeat_stale_trial_callback(self) -> Callable[[optuna.Study, FrozenTrial], None] | None:
        return self._backend.get_heartbeat_stale_trial_callback()

    # -- internals -------------------------------------------------------------------------------------------
    def _study(self, study_id: int) -> dict[int, FrozenTrial]:
        """The study's trials by number, read from the database on first use (call with the lock held)."""
        trials = self._trials.get(study_id)
        if trials is None:
            loaded = sorted(self._backend.get_all_trials(study_id, deepcopy=False), key=lambda trial: trial.number)
            trials = {trial.number: trial for trial in loaded}
            self._trials[study_id] = trials
            for trial in loaded:
                self._where[trial._trial_id] = (study_id, trial.number)
                for name, distribution in trial.distributions.items():
                    self._distributions.setdefault((study_id, name), distribution)
        return trials

    def _in_database(self, trial_id: int) -> int:
        return self._database_id.get(trial_id, trial_id)

    def _write(self, trial_id: int, method: Callable[..., None], *args: Any) -> None:
        """Write through, unless the trial is being created (then only the in-memory copy changes)."""
        with self._lock:
            if trial_id in self._pending:
                self.check_trial_is_updatable(trial_id, self.get_trial(trial_id).state)
                return
        method(self._in_database(trial_id), *args)

    def _write_pending(self) -> None:
        for trial_id in self._pending:
            study_id, number = self._where[trial_id]
            written = self._backend._create_new_trial(study_id, self._trials[study_id][number])
            if written.number != number:
                raise RuntimeError(
                    f"the database numbered a new trial {written.number}, not {number}: another process is adding "
                    "trials to this study, which must have one writer"
                )
            self._database_id[trial_id] = written._trial_id
            self._where[written._trial_id] = (study_id, number)
        self._pending.clear()

    def _drop_pending(self) -> None:
        for trial_id in self._pending:  # left only when the block raised: never written
            study_id, number = self._where.pop(trial_id)
            self._trials[study_id].pop(number, None)
        self._pending.clear()

    def _replace(self, trial_id: int, change: Callable[[FrozenTrial], None]) -> None:
        """Store a changed copy of a trial (never change one already handed out)."""
        with self._lock:
            where = self._where.get(trial_id)
            if where is None:
                return  # a trial of a study this storage has not loaded: nothing in memory to keep in step
            study_id, number = where
            trial = copy.copy(self._trials[study_id][number])
            trial.params = dict(trial.params)
            trial.distributions = dict(trial.distributions)
            trial.user_attrs = dict(trial.user_attrs)
            trial.system_attrs = dict(trial.system_attrs)
            trial.intermediate_values = dict(trial.intermediate_values)
            change(trial)
            self._trials[study_id][number] = trial
