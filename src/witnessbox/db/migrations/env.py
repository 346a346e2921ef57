"""Alembic environment: migrations run on the engine the app hands over.

Tables register on Base.metadata when their modules are imported; the callers
(bootstrap and the `witnessbox db` commands) import every domain first.
"""

from alembic import context
from sqlalchemy import Engine, create_engine

from witnessbox.db.base import Base

config = context.config

# Full-text search lives beside the mapped tables in database-specific form (an FTS5 table on
# SQLite, a generated tsvector column on PostgreSQL); the models do not describe it.
FULL_TEXT_TABLE_PREFIX = "item_text_fts"
FULL_TEXT_COLUMN = ("item_text", "document")


def _include_object(obj: object, name: str | None, kind: str, reflected: bool, compare_to: object) -> bool:
    if kind == "table" and name and name.startswith(FULL_TEXT_TABLE_PREFIX):
        return False
    table = getattr(getattr(obj, "table", None), "name", None)
    return not (kind in ("column", "index") and reflected and (table, name) in (
        FULL_TEXT_COLUMN, ("item_text", "ix_item_text_document")))


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
            include_object=_include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
