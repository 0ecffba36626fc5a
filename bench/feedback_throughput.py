"""Feedback write throughput of the store, on SQLite and (when reachable) PostgreSQL.

`python bench/feedback_throughput.py [--items 2000] [--concurrency 16] [--postgres URL]`

Writes N feedback items, each twice (the second copy must be a duplicate), from C threads, in batches of
one item per call as an EHR posts them, and prints items/s. Loopback only; bounded in count and time.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, func, select, text

from cdshooks.protocol.feedback import FeedbackItem
from cdshooks.store.schema import upgrade
from cdshooks.store.store import Store
from cdshooks.store.tables import feedback

T0 = datetime(2026, 6, 1, 9, tzinfo=UTC)
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def items(n: int) -> list[FeedbackItem]:
    out = []
    for i in range(n):
        body: dict[str, object] = {"card": f"card-{i % 500}", "outcome": "overridden" if i % 3 else "accepted",
                                   "outcomeTimestamp": (T0 + timedelta(seconds=i)).isoformat()}
        if i % 3 == 0:
            body["acceptedSuggestions"] = [{"id": f"s-{i}"}]
        else:
            body["overrideReason"] = {"reason": {"system": "x", "code": f"r{i % 4}", "display": f"Reason {i % 4}"}}
        out.append(FeedbackItem.model_validate(body))
    return out


def run(url: str, n: int, concurrency: int) -> tuple[float, int]:
    store = Store(url, b"bench-key")
    upgrade(store.engine)
    batch = items(n) * 2
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(lambda item: store.add_feedback("bench", [item], datetime.now(UTC)), batch))
    elapsed = time.perf_counter() - started
    with store.engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(feedback)).scalar_one()
    store.close()
    return len(batch) / elapsed, stored


def postgres_database(admin_url: str) -> tuple[str, str] | None:
    """Create a scratch database; (its URL, its name), or None when PostgreSQL does not answer."""
    name = f"cdshooks_bench_{uuid.uuid4().hex[:8]}"
    try:
        engine = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
    except Exception as exc:  # any failure means "no PostgreSQL here"
        print(f"PostgreSQL not reachable ({type(exc).__name__}): skipped")
        return None
    return admin_url.rsplit("/", 1)[0] + f"/{name}", name


def drop_database(admin_url: str, name: str) -> None:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--postgres", default=DEFAULT_PG, help="admin URL (a scratch database is created)")
    args = parser.parse_args()
    print(f"feedback writes: {args.items} items, each posted twice, {args.concurrency} threads, one item per call")
    with tempfile.TemporaryDirectory() as tmp:
        rate, stored = run(f"sqlite:///{tmp}/bench.db", args.items, args.concurrency)
        print(f"  SQLite      {rate:8.0f} posts/s   stored {stored} (expected {args.items})")
    scratch = postgres_database(args.postgres)
    if scratch is not None:
        url, name = scratch
        try:
            rate, stored = run(url, args.items, args.concurrency)
            print(f"  PostgreSQL  {rate:8.0f} posts/s   stored {stored} (expected {args.items})")
        finally:
            drop_database(args.postgres, name)


if __name__ == "__main__":
    main()
