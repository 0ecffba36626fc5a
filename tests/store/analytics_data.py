"""Synthetic card and feedback history for the analytics page: seeded, so every run writes the same store.

`python -m tests.store.analytics_data OUTDIR` writes analytics-{empty,1w,10w}.html there (for screenshots).
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cdshooks.analytics.html import write_html
from cdshooks.analytics.report import Report, build_report
from cdshooks.catalog.loader import OVERRIDE_SYSTEM, load_catalog
from cdshooks.protocol.feedback import FeedbackItem
from cdshooks.store.store import IssuedCard, Store

MONDAY = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
GENERATED = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Profile:
    topic: str
    per_week: int  # cards issued a week
    accept: float  # chance a card with suggestions is accepted
    override: float  # chance a card is overridden
    suggestions: bool
    reasons: tuple[str, ...]  # override reason codes of the topic's card (displays from the catalog)


PROFILES = (
    Profile("acr-usually-not-appropriate", 24, 0.45, 0.35, True,
            ("problem-solving", "other-tests-unavailable", "clinician-judgement")),
    Profile("renal-impairment-contrast", 14, 0.6, 0.25, True, ("contrast-risk-accepted", "renal-value-outdated")),
    Profile("bone-mets-no-bma", 12, 0.0, 0.7, False, ("given-elsewhere", "declined", "not-bone-metastasis")),
    Profile("cns-symptoms-mri-brain", 11, 0.3, 0.5, True, ("symptoms-explained", "neuroimaging-done")),
    Profile("bone-scan-flare", 4, 0.0, 0.3, False, ("progression-confirmed",)),
    Profile("hypercalcaemia-of-malignancy", 2, 0.0, 0.1, False, ("already-treated",)),
)
CATALOG = load_catalog()


def _display(topic: str, code: str) -> str:
    return next(r.display for r in CATALOG[topic].override_reasons if r.code == code)


def populate(store: Store, weeks: int, start: datetime = MONDAY, seed: int = 7) -> int:
    """Issue `weeks` weeks of cards with feedback; returns the number of cards."""
    rng = random.Random(seed)
    cards: list[IssuedCard] = []
    items: list[FeedbackItem] = []
    for week in range(weeks):
        for profile in PROFILES:
            count = max(0, profile.per_week + rng.randint(-2, 2))
            drift = week * 0.03 if profile.topic == "cns-symptoms-mri-brain" else 0.0  # overrides rising
            for n in range(count):
                issued = start + timedelta(weeks=week, hours=rng.randint(0, 24 * 5 - 1))
                uuid = f"{profile.topic}-{week}-{n}"
                cards.append(IssuedCard(uuid, "svc", "order-select", f"hi-{uuid}", profile.topic, "warning",
                                        (f"s-{uuid}",) if profile.suggestions else (), "pk", issued))
                answered = issued + timedelta(seconds=rng.randint(20, 900))
                roll = rng.random()
                if profile.suggestions and roll < profile.accept - drift:
                    items.append(FeedbackItem.model_validate({
                        "card": uuid, "outcome": "accepted", "outcomeTimestamp": answered.isoformat(),
                        "acceptedSuggestions": [{"id": f"s-{uuid}"}]}))
                elif roll < profile.accept + profile.override + drift:
                    code = rng.choice(profile.reasons)
                    reason = {"system": OVERRIDE_SYSTEM, "code": code, "display": _display(profile.topic, code)}
                    items.append(FeedbackItem.model_validate({
                        "card": uuid, "outcome": "overridden", "outcomeTimestamp": answered.isoformat(),
                        "overrideReason": {"reason": reason}}))
    store.record_cards(cards)
    assert store.flush(timeout=60)
    if items:
        store.add_feedback("svc", items, start + timedelta(weeks=weeks))
    return len(cards)


def report_for(folder: Path, weeks: int) -> Report:
    store = Store(f"sqlite:///{folder}/analytics-{weeks}w.db", b"k")
    store.create_schema()
    try:
        populate(store, weeks)
        return build_report(store.engine, now=GENERATED)
    finally:
        store.close()


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, weeks in (("empty", 0), ("1w", 1), ("10w", 10)):
        write_html(report_for(out, weeks), out / f"analytics-{name}.html")
        (out / f"analytics-{weeks}w.db").unlink()
        print(out / f"analytics-{name}.html")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
