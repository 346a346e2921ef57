"""Engines and units of work.

A unit of work is one transaction. Work that must only happen once the change is
durable (enqueueing a job, telling a client) is registered with `after_commit`
and runs after COMMIT succeeds, never before, never on rollback.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from witnessbox.core.errors import Conflict

READONLY = "witnessbox_readonly"


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and serialised writers."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        _tune_sqlite(engine)
        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers BEGIN IMMEDIATE: the write lock is taken up front, so the audit
        # chain's read-last-then-append never interleaves with another writer.
        # Readers begin deferred and run alongside writers (WAL).
        readonly = connection.get_execution_options().get(READONLY, False)
        connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


class UnitOfWork:
    """One transaction plus the callbacks to run after it commits."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._after_commit: list[Callable[[], None]] = []

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run callback once the transaction has committed (e.g. enqueue a job)."""
        self._after_commit.append(callback)

    def run_after_commit(self) -> None:
        """Run and forget the registered callbacks."""
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()


class Database:
    """Hands out units of work on one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._readers = sessionmaker(engine.execution_options(**{READONLY: True}))

    @property
    def dialect(self) -> str:
        """The backend's name: 'sqlite' or 'postgresql'."""
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[UnitOfWork]:
        """Open a transaction: commit on success, roll back on error, then run after-commit work."""
        with self._sessions() as session:
            uow = UnitOfWork(session)
            with session.begin():
                yield uow
            uow.run_after_commit()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading only; it never takes SQLite's write lock."""
        with self._readers() as session:
            yield session

    def refresh_statistics(self) -> None:
        """Keep SQLite's query planner informed of how the tables have grown.

        Without statistics SQLite may walk the wrong index (a search that takes 1 ms with them
        takes 250 ms without, at a million items). The items are analysed again whenever they
        have doubled since last time (ANALYZE takes about a second per million items).
        PostgreSQL's autovacuum does this by itself.
        """
        if self.dialect != "sqlite":
            return
        with self.engine.connect() as connection:
            run = connection.exec_driver_sql
            analysed = 0
            if run("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'").scalar():
                stats = run("SELECT stat FROM sqlite_stat1 WHERE tbl = 'items'").scalars()
                analysed = max((int(stat.split()[0]) for stat in stats), default=0)
            items = run("SELECT count(*) FROM items").scalar() or 0
            if items > 2 * analysed:
                run("ANALYZE")
            connection.commit()


def flush_unique(session: Session, clash: str) -> None:
    """Flush pending rows; a unique-constraint clash becomes Conflict(clash) (the transaction rolls back)."""
    try:
        session.flush()
    except IntegrityError as error:
        raise Conflict(clash) from error
