"""Report section: live and silent topics side by side, and repeat alerts suppressed.

Per topic: cards shown (live), cards that would have shown (silent mode: evaluated and recorded, not sent),
repeats suppressed (overridden before, evidence unchanged), and the patients behind each, so a team can compare
a piloted rule with the live ones before switching it on.
"""

from __future__ import annotations

import html
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from cdshooks.analytics.outcomes import card_rows, table


@dataclass
class DeliveryRow:
    topic: str
    mode: str  # live | silent | live+silent (both in the period: the mode changed)
    shown: int = 0
    silent: int = 0  # would have shown
    suppressed: int = 0  # repeats of overridden cards on unchanged evidence
    patients_shown: int = 0
    patients_silent: int = 0


def delivery_by_topic(engine: Engine, since: datetime | None = None) -> list[DeliveryRow]:
    with engine.connect() as conn:
        cards = card_rows(conn, since)
    rows: dict[str, DeliveryRow] = {}
    patients: dict[tuple[str, str], set[str]] = defaultdict(set)
    for card in cards:
        row = rows.setdefault(card.topic, DeliveryRow(card.topic, "live"))
        if card.delivery == "silent":
            row.silent += 1
        elif card.delivery == "suppressed":
            row.suppressed += 1
        else:
            row.shown += 1
        if card.patient_key and card.delivery in ("shown", "silent"):
            patients[(card.topic, card.delivery)].add(card.patient_key)
    for row in rows.values():
        row.mode = "live+silent" if row.shown and row.silent else ("silent" if row.silent else "live")
        row.patients_shown = len(patients[(row.topic, "shown")])
        row.patients_silent = len(patients[(row.topic, "silent")])
    return sorted(rows.values(), key=lambda r: (r.mode == "live", -(r.shown + r.silent), r.topic))


def text_lines(rows: list[DeliveryRow]) -> list[str]:
    if not rows:
        return []
    lines = ["", f"{'delivery by topic':46} {'mode':>11} {'shown':>6} {'silent':>6} {'suppr':>6} {'pat.':>5}"]
    for r in rows:
        lines.append(f"{r.topic[:46]:46} {r.mode:>11} {r.shown:6d} {r.silent:6d} {r.suppressed:6d} "
                     f"{r.patients_shown + r.patients_silent:5d}")
    return lines


def html_fragment(rows: list[DeliveryRow]) -> str:
    if not rows:
        return ""
    body = table(("topic", "mode", "shown (live)", "would have shown (silent)", "repeats suppressed",
                  "patients shown", "patients (silent)"),
                 [(r.topic, r.mode, r.shown, r.silent, r.suppressed, r.patients_shown, r.patients_silent)
                  for r in rows], css="delivery")
    suppressed = sum(r.suppressed for r in rows)
    return (f'<section id="delivery"><h2>Live and silent topics</h2><p>Silent topics are evaluated and recorded '
            f'as "would have shown", never sent; {suppressed} repeat alert{"s" if suppressed != 1 else ""} '
            f"{html.escape('were' if suppressed != 1 else 'was')} suppressed (overridden before, evidence "
            f"unchanged).</p>{body}</section>")
