"""Alembic, driven from code: the app upgrades its own schema at start-up."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


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
    """Bring the schema up to `revision`."""
    command.upgrade(alembic_config(engine), revision)


def new_revision(engine: Engine, message: str) -> None:
    """Write a migration for the difference between the models and the database."""
    command.revision(alembic_config(engine), message=message, autogenerate=True)


def check(engine: Engine) -> None:
    """Fail if the models have drifted from the migrations."""
    command.check(alembic_config(engine))
