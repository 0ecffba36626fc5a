"""No repeat alerts: a card overridden for a patient is not shown again on the same evidence for a while.

The evidence fingerprint of a finding is a hash of what the card rests on, taken from the clinical layer's typed
values, never from raw FHIR: the topic, every value the rule hands to the card (studies, results, dates, agents,
the draft order's name), the drafted orders it is about (`order_ids`), the date of its newest evidence
(`recency`) and the renal risk it carries. A new study, a new result or a new order changes it. Values that only
count days up to the moment of evaluation (`days_since`) are left out: time passing is not new evidence.

With CDSHOOKS_REPEAT_WINDOW_DAYS > 0, a live card whose topic was overridden for the same patient (the store's
keyed `patient_key`) within the window, on a card with the same fingerprint, is suppressed: recorded in the store
as `suppressed` and counted in the report, not sent. The check reads the store, so every replica must share one
store (PostgreSQL); with a per-replica SQLite file a replica knows only its own overrides. When the store cannot
be read the card is shown (fail open: a repeat is better than a missed warning).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from cdshooks.clinical.findings import Finding
from cdshooks.store.store import Store

log = logging.getLogger(__name__)

# card values that count days from the evidence up to the evaluation: they change daily, the evidence does not
NOW_RELATIVE = frozenset({"days_since"})
# whole-number values that describe the evidence itself (intervals between two recorded dates, windows)
EVIDENCE_COUNTS = frozenset({"window_days", "days_apart", "days_after", "weeks_after"})

# topic -> fingerprints of this patient's cards overridden within the window
Overridden = Callable[[Sequence[str]], Mapping[str, set[str]]]


def evidence_fingerprint(finding: Finding) -> str:
    values = sorted((f.name, repr(getattr(finding.values, f.name))) for f in fields(finding.values)
                    if f.name not in NOW_RELATIVE)
    recency = finding.recency.isoformat() if finding.recency else None
    canonical = repr((finding.topic, values, sorted(finding.order_ids), recency, finding.contrast_risk))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class RepeatGuard:
    store: Store
    window: timedelta

    def for_patient(self, patient_key: str, now: datetime) -> Overridden:
        since = now - self.window

        def overridden(topics: Sequence[str]) -> Mapping[str, set[str]]:
            try:
                return self.store.recent_overrides(patient_key, topics, since)
            except SQLAlchemyError as exc:
                log.warning("repeat-alert check skipped: store unavailable", extra={"error": type(exc).__name__})
                return {}

        return overridden
