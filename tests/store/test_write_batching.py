"""The card writer gathers the rows of calls that arrive within its linger into one transaction, loses nothing on
close, and feedback that follows its card before the writer has stored it still finds the card."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event, func, select

from cdshooks.protocol.feedback import FeedbackItem
from cdshooks.store.store import WRITE_LINGER_S, IssuedCard, IssuedRating, Store
from cdshooks.store.tables import issued_cards, order_ratings

AT = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
LINGER = 2.0  # long enough that the test's calls (10 ms apart) all arrive within it, however busy the machine


def _call_rows(n: int) -> list[IssuedCard | IssuedRating]:
    """What one order-select call queues: two cards and a rating."""
    return [IssuedCard(f"card-{n}-{i}", "svc", "order-select", f"hi-{n}", "topic", "info", (), "pk", AT)
            for i in range(2)] + [IssuedRating(f"urn:uuid:{n}", "svc", "order-select", f"hi-{n}", "ct", "appropriate",
                                               "pk", AT)]


def _store(tmp_path: Path, linger: float = LINGER) -> Store:
    store = Store(f"sqlite:///{tmp_path}/w.db", b"k", linger=linger)
    store.create_schema()
    return store


def _count(store: Store, table: object) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_the_default_linger_is_short() -> None:
    assert 0 < WRITE_LINGER_S <= 0.1  # rows wait in memory at most this long (design default)


def test_calls_within_the_linger_are_one_transaction(tmp_path: Path) -> None:
    store = _store(tmp_path)
    commits: list[int] = []
    event.listen(store.engine, "commit", lambda _conn: commits.append(1))
    for n in range(20):
        store.record_cards(_call_rows(n))
        time.sleep(0.01)  # calls arrive one after another, as under load (the writer would wake for each)
    assert store.flush(timeout=30)
    assert _count(store, issued_cards) == 40 and _count(store, order_ratings) == 20
    assert len(commits) == 1
    store.close()


def test_without_linger_every_row_is_stored(tmp_path: Path) -> None:
    store = _store(tmp_path, linger=0)
    for n in range(5):
        store.record_cards(_call_rows(n))
    assert store.flush(timeout=30)
    assert _count(store, issued_cards) == 10
    store.close()


def test_close_writes_what_is_still_gathering(tmp_path: Path) -> None:
    store = _store(tmp_path, linger=0.5)
    store.record_cards(_call_rows(1))
    store.close()  # the writer is asleep in its linger: close waits for it
    reopened = Store(f"sqlite:///{tmp_path}/w.db", b"k")
    assert _count(reopened, issued_cards) == 2 and _count(reopened, order_ratings) == 1
    reopened.close()


def _feedback(card: str) -> FeedbackItem:
    return FeedbackItem.model_validate({"card": card, "outcome": "overridden", "outcomeTimestamp": AT.isoformat()})


def test_feedback_right_after_its_card_finds_it(tmp_path: Path) -> None:
    store = _store(tmp_path, linger=0.5)
    store.record_cards(_call_rows(1))  # still in the writer's linger when the feedback arrives
    result = store.add_feedback("svc", [_feedback("card-1-0"), _feedback("never-issued")], AT)
    assert (result.received, result.stored, result.unknown_cards) == (2, 2, 1)
    store.close()
