"""Schema versions (Alembic): upgrade, and the start-up check that says what to run when behind.

The embedded SQLite default upgrades itself at start (no step for a developer); any other database must be
upgraded explicitly with `cdshooks db upgrade`, and the service refuses to start on an old schema.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"
_REVISION = re.compile(r"^(down_revision|revision)\s*(?::[^=]+)?=\s*(None|\"[^\"]*\"|'[^']*')\s*$", re.MULTILINE)


class SchemaError(RuntimeError):
    """The database schema is behind (or ahead of) this version of the service."""


def _config() -> Config:
    from alembic.config import Config  # Alembic is imported only to change a schema (start-up checks need none)

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@cache
def head_revision() -> str:
    """The newest migration: the one revision no other migration names as its `down_revision` (read from the
    migration files' `revision = ...` lines; a test checks it against Alembic's own answer)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        found: dict[str, str] = {m.group(1): m.group(2) for m in _REVISION.finditer(path.read_text(encoding="utf-8"))}
        if "revision" in found:
            revisions.add(found["revision"].strip("\"'"))
            if found.get("down_revision", "None") != "None":
                parents.add(found["down_revision"].strip("\"'"))
    heads = revisions - parents
    if len(heads) != 1:  # pragma: no cover - the package ships one line of migrations
        raise SchemaError(f"schema migrations have {len(heads)} heads: {sorted(heads)}")
    return heads.pop()


def current_revision(engine: Engine) -> str | None:
    """The revision recorded in the database's Alembic version table (None: no table or no row)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return None
        row = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).first()
        return str(row[0]) if row is not None else None


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

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
