"""The store: issued cards and order ratings (written in the background) and feedback (written before answering).

A store outage never blocks a hook answer: issued-card and rating rows go through a bounded queue to one writer
thread that retries and, when it must give up, counts the rows as lost (metric + log). Feedback is
written synchronously (the client is told it was kept) and idempotently: the same item posted twice is
stored once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, and_, create_engine, event, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from cdshooks.protocol.feedback import FeedbackItem
from cdshooks.store.tables import feedback, issued_cards, order_ratings

log = logging.getLogger(__name__)

_STOP = object()
# The writer gathers the rows of the calls that arrive within this time into one transaction (design default,
# issue 15): at 300 calls/s one transaction per call cost the writer about 0.23 ms of CPU per call, under the GIL the
# request threads share; gathered, 0.05 ms (bench/card_writer.py). Rows wait in memory this much longer.
WRITE_LINGER_S = 0.05
MAX_BATCH_ROWS = 500
FEEDBACK_WAIT_S = 1.0  # feedback naming a card not yet stored waits at most the linger and this (design default)


@dataclass(frozen=True)
class IssuedCard:
    card_uuid: str
    service_id: str
    hook: str
    hook_instance: str
    topic: str | None
    indicator: str
    suggestion_uuids: tuple[str, ...]
    patient_key: str | None
    issued_at: datetime
    delivery: str = "shown"  # shown | silent (would have shown) | suppressed (repeat of an overridden card)
    evidence_key: str | None = None
    knowledge_version: str | None = None
    knowledge_hash: str | None = None
    user_key: str | None = None
    client_id: str | None = None
    tenant: str | None = None

    def row(self) -> dict[str, Any]:
        """The `issued_cards` row: the fields by name, suggestion uuids space-separated."""
        row = {f.name: getattr(self, f.name) for f in fields(self)}
        row["suggestion_uuids"] = " ".join(self.suggestion_uuids)
        return row


@dataclass(frozen=True)
class IssuedRating:
    """One appropriateness rating of a drafted order (no order id is kept: the class, the rating, who and when)."""

    consult_id: str
    service_id: str
    hook: str
    hook_instance: str
    procedure_class: str | None
    rating: str
    patient_key: str | None
    rated_at: datetime
    knowledge_version: str | None = None
    knowledge_hash: str | None = None
    user_key: str | None = None
    client_id: str | None = None
    tenant: str | None = None

    def row(self) -> dict[str, Any]:
        """The `order_ratings` row: the fields by name."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class FeedbackResult:
    received: int
    stored: int
    duplicates: int
    unknown_cards: int


def feedback_key(service_id: str, item: FeedbackItem) -> str:
    """Idempotency key: the same decision about the same card at the same moment is one item."""
    canonical = {
        "service": service_id,
        "card": item.card,
        "outcome": item.outcome,
        "accepted": sorted(s.id for s in item.acceptedSuggestions or []),
        "reason": item.overrideReason.model_dump(mode="json") if item.overrideReason else None,
        "at": item.outcomeTimestamp.astimezone(UTC).isoformat(),
    }
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 5})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


class Store:
    def __init__(self, url: str, pseudonym_key: bytes, queue_size: int = 10_000,
                 keep_comments: bool = False, linger: float = WRITE_LINGER_S) -> None:
        self.engine = make_engine(url)
        self._linger = linger
        self._key = pseudonym_key
        self._keep_comments = keep_comments
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self.lost_cards = 0
        self._writer = threading.Thread(target=self._write_loop, name="cdshooks-store-writer", daemon=True)
        self._writer.start()

    # -- schema and health -------------------------------------------------------------------------
    def create_schema(self) -> None:
        """Bring the schema to this version (SQLite) or check it is there (SchemaError otherwise)."""
        from cdshooks.store.schema import ensure_current

        ensure_current(self.engine)

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    def patient_key(self, patient_id: str) -> str:
        return hmac.new(self._key, patient_id.encode(), hashlib.sha256).hexdigest()

    def user_key(self, user_id: str) -> str:
        """The ordering clinician as a keyed hash (its own domain: never equal to a patient key)."""
        return "u:" + hmac.new(self._key, b"user\0" + user_id.encode(), hashlib.sha256).hexdigest()

    # -- issued cards and ratings (background) -----------------------------------------------------
    def record_cards(self, cards: Sequence[IssuedCard | IssuedRating]) -> None:
        """Queue card and rating rows for the writer (never blocks; a full queue counts them as lost)."""
        if not cards:
            return
        try:
            self._queue.put_nowait(list(cards))
        except queue.Full:
            self.lost_cards += len(cards)
            log.error("store queue full: issued cards not recorded", extra={"lost": len(cards)})

    def recent_overrides(self, patient_key: str, topics: Sequence[str], since: datetime) -> dict[str, set[str]]:
        """Topic -> evidence fingerprints of this patient's cards overridden at or after `since` (feedback
        `overridden`, by outcomeTimestamp). Raises SQLAlchemyError when the store is out."""
        if not topics:
            return {}
        query = (select(issued_cards.c.topic, issued_cards.c.evidence_key)
                 .join(feedback, feedback.c.card_uuid == issued_cards.c.card_uuid)
                 .where(and_(issued_cards.c.patient_key == patient_key, issued_cards.c.topic.in_(list(topics)),
                             feedback.c.outcome == "overridden", feedback.c.outcome_at >= since)))
        found: dict[str, set[str]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                if row.evidence_key:
                    found.setdefault(row.topic, set()).add(row.evidence_key)
        return found

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued card row is written (or given up). Tests and shutdown use it."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.005)
        return self._queue.unfinished_tasks == 0

    def _write_loop(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is _STOP:
                self._queue.task_done()
                return
            items = list(batch)
            # gather what else arrives within the linger, up to a bounded batch: one transaction for many calls
            # costs the writer (and the GIL it shares with the request threads) far less than one per call
            # (one sleep, not a wake-up per arriving call)
            if self._linger > 0:
                time.sleep(self._linger)
            drained = 0
            while len(items) < MAX_BATCH_ROWS:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    self._queue.put_nowait(_STOP)
                    self._queue.task_done()
                    break
                items.extend(more)
                drained += 1
            self._insert_cards(items)
            for _ in range(drained + 1):
                self._queue.task_done()

    def _insert_cards(self, items: list[IssuedCard | IssuedRating]) -> None:
        cards = [item.row() for item in items if isinstance(item, IssuedCard)]
        ratings = [item.row() for item in items if isinstance(item, IssuedRating)]
        rows = cards + ratings
        for attempt in range(3):
            try:
                with self.engine.begin() as conn:  # one transaction: a retry never writes a rating twice
                    if cards:
                        conn.execute(self._insert_ignore(issued_cards, "card_uuid"), cards)
                    if ratings:
                        conn.execute(order_ratings.insert(), ratings)
                return
            except SQLAlchemyError as exc:
                log.warning("issued-card write failed", extra={"attempt": attempt + 1, "error": type(exc).__name__})
                time.sleep(0.05 * (2**attempt))
        self.lost_cards += len(rows)
        log.error("issued cards lost after retries", extra={"lost": len(rows), "lost_total": self.lost_cards})

    def _insert_ignore(self, table: Any, key: str) -> Any:
        if self.engine.dialect.name == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing(index_elements=[key])
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=[key])

    def _comment(self, text: str | None) -> str | None:
        """Free text may name a patient: stored only when allowed (CDSHOOKS_STORE_USER_COMMENTS), else its
        length and the fact that there was one."""
        if not text:
            return None
        return text if self._keep_comments else f"[comment withheld: {len(text)} characters]"

    # -- feedback (synchronous) --------------------------------------------------------------------
    def add_feedback(
        self, service_id: str, items: Iterable[FeedbackItem], received_at: datetime
    ) -> FeedbackResult:
        items = list(items)
        rows: list[dict[str, Any]] = []
        for item in items:
            reason = item.overrideReason.reason if item.overrideReason else None
            rows.append({
                "item_key": feedback_key(service_id, item),
                "service_id": service_id,
                "card_uuid": item.card,
                "outcome": item.outcome,
                "accepted_suggestions": " ".join(s.id for s in item.acceptedSuggestions or []),
                "override_system": reason.system if reason else None,
                "override_code": reason.code if reason else None,
                "override_display": reason.display if reason else None,
                "user_comment": self._comment(item.overrideReason.userComment if item.overrideReason else None),
                "outcome_at": item.outcomeTimestamp,
                "received_at": received_at,
            })
        cards = {r["card_uuid"] for r in rows}
        if self._queue.unfinished_tasks and cards - self._known_cards(cards):
            # feedback can follow its card within the writer's linger: let queued rows land first (bounded)
            self.flush(timeout=self._linger + FEEDBACK_WAIT_S)
        with self.engine.begin() as conn:
            known = self._known_cards(cards, conn)
            for row in rows:
                row["known_card"] = row["card_uuid"] in known
            stored = 0
            seen: set[str] = set()
            for row in rows:
                if row["item_key"] in seen:
                    continue
                seen.add(row["item_key"])
                # RETURNING says whether the row went in: `rowcount` is -1 on the PostgreSQL driver
                inserted = conn.execute(self._insert_ignore(feedback, "item_key").returning(feedback.c.item_key),
                                        row).first()
                stored += inserted is not None
        unknown = sum(1 for r in rows if not r["known_card"])
        if unknown:
            log.info("feedback for unknown cards kept and flagged", extra={"unknown": unknown})
        return FeedbackResult(len(rows), stored, len(rows) - stored, unknown)

    def _known_cards(self, card_uuids: set[str], conn: Connection | None = None) -> set[str]:
        """Which of these card uuids the store holds."""
        query = select(issued_cards.c.card_uuid).where(issued_cards.c.card_uuid.in_(card_uuids))
        if conn is not None:
            return set(conn.execute(query).scalars())
        with self.engine.connect() as own:
            return set(own.execute(query).scalars())

    def close(self) -> None:
        self.flush(timeout=5.0)
        self._queue.put(_STOP)
        self._writer.join(timeout=5.0)
        self.engine.dispose()
