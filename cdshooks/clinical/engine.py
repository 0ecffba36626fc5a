"""Entry point of the clinical layer: (hook, record, now) -> findings and ratings.

Rule families plug in here; each is a pure function of the patient's facts and `now`.
"""

from __future__ import annotations

from datetime import datetime

from cdshooks.clinical.findings import Evaluation
from cdshooks.fhir.record import Record


def evaluate(hook: str, record: Record, now: datetime) -> Evaluation:
    """No rule families are registered yet: every hook answers with no guidance."""
    return Evaluation()
