"""Apply and inspect Alembic migrations from code (make run, the tests, /readyz)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str | None = None) -> AlembicConfig:
    """An Alembic config pointing at our migrations folder."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if database_url:
        cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(database_url: str) -> None:
    """Bring the database schema to the newest revision."""
    command.upgrade(alembic_config(database_url), "head")


def head_revision() -> str | None:
    """The newest revision in the migrations folder."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    """The revision the connected database is at."""
    return MigrationContext.configure(connection).get_current_revision()
