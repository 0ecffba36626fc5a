"""Schema versions (Alembic): upgrade, and the start-up check that says what to run when behind.

The embedded SQLite default upgrades itself at start (no step for a developer); any other database must be
upgraded explicitly with `cdshooks db upgrade`, and the service refuses to start on an old schema.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class SchemaError(RuntimeError):
    """The database schema is behind (or ahead of) this version of the service."""


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:  # pragma: no cover - the package ships its migrations
        raise SchemaError("no schema migrations found")
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = _config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def ensure_current(engine: Engine) -> None:
    """SQLite: upgrade in place. Other databases: raise SchemaError naming the command to run."""
    head = head_revision()
    current = current_revision(engine)
    if current == head:
        return
    if engine.dialect.name == "sqlite":
        upgrade(engine)
        return
    raise SchemaError(f"database schema is at {current or 'no version'}, this service needs {head}: "
                      "run `cdshooks db upgrade` (with the same CDSHOOKS_DATABASE_URL)")
