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
    reasons: tuple[str, ...]


PROFILES = (
    Profile("acr-usually-not-appropriate", 24, 0.45, 0.35, True,
            ("Problem-solving of a known or equivocal lesion", "Recommended tests unavailable or already done",
             "Other clinical reason")),
    Profile("renal-impairment-contrast", 14, 0.6, 0.25, True,
            ("Benefit outweighs the renal risk", "Recent eGFR not representative")),
    Profile("bone-mets-no-bma", 12, 0.0, 0.7, False,
            ("Already on a bone-modifying agent elsewhere", "Patient declined", "Other clinical reason")),
    Profile("cns-symptoms-mri-brain", 11, 0.3, 0.5, True,
            ("Symptom explained by another cause", "Brain MRI already planned")),
    Profile("bone-scan-flare", 4, 0.0, 0.3, False, ("Progression already confirmed",)),
    Profile("hypercalcaemia-of-malignancy", 2, 0.0, 0.1, False, ("Already treated",)),
)


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
                    reason = rng.choice(profile.reasons)
                    items.append(FeedbackItem.model_validate({
                        "card": uuid, "outcome": "overridden", "outcomeTimestamp": answered.isoformat(),
                        "overrideReason": {"reason": {"system": "urn:x", "code": reason[:20], "display": reason}}}))
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
