"""What the rules return: findings (a topic plus the values its card needs) and order ratings.

Findings are plain values, never cards or JSON: the catalog in `cards/` turns them into CDS cards.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Finding:
    topic: str
    values: Mapping[str, Any] = field(default_factory=dict)
    order_ids: tuple[str, ...] = ()  # `Type/id` of the draft orders the finding is about
    suggestions: tuple[str, ...] = ()  # catalog suggestion ids that apply (in order of preference)
    recency: datetime | None = None  # date of the newest evidence (for ordering)
    # renal evidence that makes iodinated contrast high-risk (set by the engine on every finding; the catalog's
    # safety net then keeps contrast studies out of the card's suggestions)
    contrast_risk: str | None = None


@dataclass(frozen=True)
class Rating:
    order_id: str  # `ServiceRequest/id` of the rated draft
    rating: str  # appropriate | not-appropriate | no-criteria-apply
    procedure_class: str | None = None


@dataclass(frozen=True)
class Evaluation:
    findings: tuple[Finding, ...] = ()
    ratings: tuple[Rating, ...] = ()
