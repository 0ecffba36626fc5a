"""Report section: the report split by the knowledge that produced the cards and ratings.

Every issued card and rating row names its knowledge version and content hash, so acceptance, overrides and
ratings can be compared before and after a knowledge change.
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from cdshooks.analytics.outcomes import card_rows, percent, rate, rating_rows, table


@dataclass(kw_only=True)
class _Counts:
    shown: int = 0
    accepted: int = 0
    overridden: int = 0
    silent: int = 0
    suppressed: int = 0
    acceptance_rate: float = 0.0
    override_rate: float = 0.0


@dataclass
class VersionTopic(_Counts):
    topic: str


@dataclass
class VersionStats(_Counts):
    version: str  # "1.0.0", or "(unrecorded)" for rows written before the store kept it
    hash: str
    first_issued: str | None = None
    last_issued: str | None = None
    ratings: dict[str, int] = field(default_factory=dict)
    topics: list[VersionTopic] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.version} ({self.hash[:12]})" if self.hash else self.version


def by_version(engine: Engine, since: datetime | None = None) -> list[VersionStats]:
    with engine.connect() as conn:
        cards = card_rows(conn, since)
        ratings = rating_rows(conn, since)
    versions: dict[tuple[str, str], VersionStats] = {}
    topics: dict[tuple[str, str, str], VersionTopic] = {}
    moments: dict[tuple[str, str], list[datetime]] = {}

    def of(version: str | None, digest: str | None) -> tuple[str, str]:
        key = (version or "(unrecorded)", digest or "")
        versions.setdefault(key, VersionStats(*key))
        return key

    for card in cards:
        key = of(card.knowledge_version, card.knowledge_hash)
        stats, entry = versions[key], topics.setdefault((*key, card.topic), VersionTopic(card.topic))
        moments.setdefault(key, []).append(card.issued_at)
        pair: tuple[VersionStats | VersionTopic, ...] = (stats, entry)
        for target in pair:
            if card.delivery == "silent":
                target.silent += 1
            elif card.delivery == "suppressed":
                target.suppressed += 1
            else:
                target.shown += 1
                target.accepted += card.outcome == "accepted"
                target.overridden += card.outcome == "overridden"
    counts: dict[tuple[str, str], Counter[str]] = {}
    for item in ratings:
        key = of(item.knowledge_version, item.knowledge_hash)
        counts.setdefault(key, Counter())[item.rating] += 1
        moments.setdefault(key, []).append(item.rated_at)
    for key, stats in versions.items():
        stats.ratings = dict(sorted(counts.get(key, Counter()).items()))
        stats.topics = sorted((t for (v, h, _), t in topics.items() if (v, h) == key),
                              key=lambda t: (-t.shown, t.topic))
        targets: list[VersionStats | VersionTopic] = [stats, *stats.topics]
        for target in targets:
            target.acceptance_rate = rate(target.accepted, target.shown)
            target.override_rate = rate(target.overridden, target.shown)
        when = sorted(moments.get(key, []))
        stats.first_issued = when[0].isoformat(timespec="seconds") if when else None
        stats.last_issued = when[-1].isoformat(timespec="seconds") if when else None
    return sorted(versions.values(), key=lambda s: (s.first_issued or "", s.version), reverse=True)


def text_lines(rows: list[VersionStats]) -> list[str]:
    if not rows:
        return []
    lines = ["", f"{'knowledge version':30} {'shown':>6} {'acc%':>6} {'ovr%':>6} {'silent':>6} {'suppr':>6}  ratings"]
    for v in rows:
        ratings = ", ".join(f"{k} {n}" for k, n in v.ratings.items()) or "-"
        lines.append(f"{v.label[:30]:30} {v.shown:6d} {v.acceptance_rate * 100:5.1f}% {v.override_rate * 100:5.1f}% "
                     f"{v.silent:6d} {v.suppressed:6d}  {ratings}")
    return lines


def html_fragment(rows: list[VersionStats]) -> str:
    if not rows:
        return ""
    summary = table(("knowledge", "in use", "cards shown", "accepted", "overridden", "acceptance", "silent",
                     "suppressed", "ratings"),
                    [(v.label, f"{v.first_issued or '-'} – {v.last_issued or '-'}", v.shown, v.accepted, v.overridden,
                      percent(v.acceptance_rate), v.silent, v.suppressed,
                      ", ".join(f"{k}: {n}" for k, n in v.ratings.items()) or "-") for v in rows], css="by-version")
    details = "".join(
        f"<details><summary>{html.escape(v.label)}: per topic</summary>"
        + table(("topic", "shown", "accepted", "overridden", "acceptance", "silent", "suppressed"),
                [(t.topic, t.shown, t.accepted, t.overridden, percent(t.acceptance_rate), t.silent, t.suppressed)
                 for t in v.topics]) + "</details>" for v in rows)
    return (f'<section id="by-version"><h2>By knowledge version</h2><p>Each card and rating names the knowledge '
            f"that produced it (version and content hash).</p>{summary}{details}</section>")
