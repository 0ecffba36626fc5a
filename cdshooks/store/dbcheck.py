"""Open the store's database for a command line tool and turn every way it can fail into one plain line.

A new user meets these first: a read-only working directory (the SQLite default lives under ./var), a
PostgreSQL server that is not running, a schema behind this version. Each becomes a `DatabaseProblem` whose
message says what to do; the commands print it and exit, without a traceback.
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from cdshooks.settings import redact_url


class DatabaseProblem(RuntimeError):
    """The database at CDSHOOKS_DATABASE_URL cannot be used; the message says why and what to do."""


def sqlite_path(url: str) -> str | None:
    """The file of a sqlite:/// URL (None for other databases and for in-memory SQLite)."""
    if not url.startswith("sqlite:") or ":///" not in url:
        return None
    path = url.split(":///", 1)[1]
    return path if path and path != ":memory:" else None


def _reason(exc: BaseException) -> str:
    """The driver's own first line (psycopg: 'connection ... failed: Connection refused'), short."""
    inner = getattr(exc, "orig", None) or exc
    text = str(getattr(inner, "strerror", None) or inner).strip().splitlines()
    line = text[0] if text else type(inner).__name__
    return line if len(line) <= 160 else line[:157] + "..."


def describe(url: str, exc: BaseException) -> str:
    path = sqlite_path(url)
    if path is not None:
        return (f"cannot open the SQLite store {path} ({_reason(exc)}): run from a writable directory or set "
                "CDSHOOKS_DATABASE_URL to a writable file, e.g. sqlite:////tmp/cdshooks.db")
    return (f"database not reachable at {redact_url(url)} ({_reason(exc)}): start it, or correct "
            "CDSHOOKS_DATABASE_URL, then run `cdshooks check-config`")


def open_engine(url: str, *, current: bool = True) -> Engine:
    """An engine that has answered once; with `current`, on this version's schema (SQLite upgrades itself,
    another database must be upgraded with `cdshooks db upgrade`)."""
    from cdshooks.store.schema import SchemaError, ensure_current
    from cdshooks.store.store import make_engine

    try:
        engine = make_engine(url)  # creates the SQLite file's folder
    except OSError as exc:
        raise DatabaseProblem(describe(url, exc)) from None
    try:
        if current:
            ensure_current(engine)
        else:
            with engine.connect():
                pass
    except SchemaError as exc:
        engine.dispose()
        raise DatabaseProblem(str(exc)) from None
    except (SQLAlchemyError, OSError) as exc:
        engine.dispose()
        raise DatabaseProblem(describe(url, exc)) from None
    return engine
