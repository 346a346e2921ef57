"""Alembic, driven from code: the app upgrades its own schema at start-up."""

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

MIGRATIONS = Path(__file__).with_name("migrations")
# Several servers and workers start at once on one database: one migrates, the others wait for it.
_MIGRATION_LOCK = 0x5742_4D49_4752  # any fixed number unique among our advisory locks


def alembic_config(engine: Engine) -> Config:
    """An Alembic config that runs our migrations on this engine."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Dated file names: the history reads in order in a directory listing.
    config.set_main_option(
        "file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d_%%(slug)s"
    )
    url = engine.url.render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # configparser escaping
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision`, one process at a time (the others then find it done)."""
    with _one_migrator(engine):
        command.upgrade(alembic_config(engine), revision)


@contextmanager
def _one_migrator(engine: Engine) -> Iterator[None]:
    """Hold a lock every process that migrates this database takes: an advisory lock on PostgreSQL,
    a lock file beside the database file on SQLite (its processes share one machine)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK})
                connection.commit()
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with Path(f"{database}.migrating").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def new_revision(engine: Engine, message: str) -> None:
    """Write a migration for the difference between the models and the database."""
    command.revision(alembic_config(engine), message=message, autogenerate=True)


def check(engine: Engine) -> None:
    """Fail if the models have drifted from the migrations."""
    command.check(alembic_config(engine))
