"""Alembic environment: run migrations on the connection `cdshooks.store.schema` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine
from sqlalchemy.exc import ArgumentError

from cdshooks.store.tables import metadata

config = context.config
connection = config.attributes.get("connection")


def run(conn: Connection) -> None:
    context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run(connection)
else:  # `alembic` command line with -x url=...
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if url is None:  # what create_engine(None) raises, with the way out
        raise ArgumentError("no database URL: pass -x url=... or set sqlalchemy.url")
    with create_engine(url).connect() as conn:
        run(conn)
