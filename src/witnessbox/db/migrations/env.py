"""Alembic environment: migrations run on the engine the app hands over.

Tables register on Base.metadata when their modules are imported; the callers
(bootstrap and the `witnessbox db` commands) import every domain first.
"""

from alembic import context
from sqlalchemy import Engine, create_engine

from witnessbox.db.base import Base

config = context.config


def _engine() -> Engine:
    given = config.attributes.get("engine")
    if given is not None:
        return given  # type: ignore[no-any-return]
    return create_engine(config.get_main_option("sqlalchemy.url") or "")


def run_migrations_online() -> None:
    """Run migrations inside one transaction per run."""
    engine = _engine()
    # Plain BEGIN for DDL: our SQLite engine otherwise begins IMMEDIATE, which is fine too.
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
