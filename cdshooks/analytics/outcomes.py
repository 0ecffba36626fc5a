"""Shared reads of the store for the governance sections of the report: card rows with their latest outcome."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from cdshooks.store.tables import feedback, issued_cards, order_ratings


@dataclass(frozen=True)
class CardRow:
    card_uuid: str
    topic: str
    delivery: str
    patient_key: str | None
    issued_at: datetime
    knowledge_version: str | None
    knowledge_hash: str | None
    user_key: str | None
    client_id: str | None
    tenant: str | None
    outcome: str | None  # the latest feedback: accepted | overridden | None (no feedback)


@dataclass(frozen=True)
class RatingRow:
    rating: str
    procedure_class: str | None
    rated_at: datetime
    knowledge_version: str | None
    knowledge_hash: str | None
    user_key: str | None
    client_id: str | None
    tenant: str | None


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def card_rows(conn: Connection, since: datetime | None = None) -> list[CardRow]:
    query = select(issued_cards)
    if since is not None:
        query = query.where(issued_cards.c.issued_at >= since)
    rows = list(conn.execute(query))
    latest: dict[str, tuple[datetime, int, str]] = {}
    for item in conn.execute(select(feedback.c.id, feedback.c.card_uuid, feedback.c.outcome, feedback.c.outcome_at)):
        key = (aware(item.outcome_at), item.id, item.outcome)
        if item.card_uuid not in latest or key[:2] > latest[item.card_uuid][:2]:
            latest[item.card_uuid] = key
    return [CardRow(r.card_uuid, r.topic or "(none)", r.delivery or "shown", r.patient_key, aware(r.issued_at),
                    r.knowledge_version, r.knowledge_hash, r.user_key, r.client_id, r.tenant,
                    latest[r.card_uuid][2] if r.card_uuid in latest else None) for r in rows]


def rating_rows(conn: Connection, since: datetime | None = None) -> list[RatingRow]:
    query = select(order_ratings)
    if since is not None:
        query = query.where(order_ratings.c.rated_at >= since)
    return [RatingRow(r.rating, r.procedure_class, aware(r.rated_at), r.knowledge_version, r.knowledge_hash,
                      r.user_key, r.client_id, r.tenant) for r in conn.execute(query)]


def table(headers: Iterable[str], rows: Iterable[Iterable[Any]], css: str = "") -> str:
    """A plain HTML table (cells escaped)."""
    import html

    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><tr>{head}</tr>{body}</table>' if css else f"<table><tr>{head}</tr>{body}</table>"


def percent(value: float) -> str:
    return f"{value * 100:.0f}%"
