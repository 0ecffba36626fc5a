"""What the rules return: findings (a topic plus the typed values its card needs) and order ratings.

Findings are plain values, never cards or JSON: the catalog in `cards/` turns them into CDS cards. Everything a
card or a rating needs from the record travels here (the draft orders as received, the patient reference), so
the catalog never reads FHIR itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from cdshooks.clinical.facts import DraftOrder


@dataclass(frozen=True, kw_only=True)
class CardValues:
    """Base of every topic's values (cdshooks.clinical.topics). `variant` names the card wording to use (None:
    the base texts); a topic with variants narrows it to a Literal of their names."""

    variant: str | None = None

    def shown(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Finding:
    topic: str
    values: CardValues = field(default_factory=CardValues)
    order_ids: tuple[str, ...] = ()  # `Type/id` of the draft orders the finding is about
    suggestions: tuple[str, ...] = ()  # catalog suggestion ids that apply (in order of preference)
    recency: datetime | None = None  # date of the newest evidence (for ordering)
    # renal evidence that makes iodinated contrast high-risk (set by the engine on every finding; the catalog's
    # safety net then keeps contrast studies out of the card's suggestions)
    contrast_risk: str | None = None
    orders: tuple[DraftOrder, ...] = ()  # the drafts of order_ids, as facts (with the resource as received)


@dataclass(frozen=True)
class Rating:
    order_id: str  # `ServiceRequest/id` of the rated draft
    rating: str  # appropriate | not-appropriate | no-criteria-apply
    procedure_class: str | None = None
    resource: Mapping[str, Any] | None = None  # the draft as received (the update carries it back rated)


@dataclass(frozen=True)
class Evaluation:
    findings: tuple[Finding, ...] = ()
    ratings: tuple[Rating, ...] = ()
    patient: str | None = None  # `Patient/id`: the subject of orders a card suggests
    # order hooks: procedure class -> the rating an order of it would get now (a draft updated to a better
    # order carries that rating); empty when the record does not allow ratings
    class_ratings: Mapping[str, str] = field(default_factory=dict)
