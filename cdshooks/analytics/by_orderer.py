"""Report section: per ordering clinician and per site (calling client), with counts, rates, a chart and CSV.

Ratings of drafted orders (appropriate / not appropriate / no criteria apply) and card outcomes (shown,
accepted, overridden) per ordering clinician (`context.userId`, stored as a keyed hash unless
CDSHOOKS_STORE_USER_IDS) and per site (the client's JWT `iss`, with its `tenant` when it sends one; development
mode calls have no client).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from cdshooks.analytics.outcomes import CardRow, RatingRow, card_rows, percent, rate, rating_rows, table
from cdshooks.analytics.svg import stacked_bars

RATING_CODES = ("appropriate", "not-appropriate", "no-criteria-apply")
NO_CLIENT = "(no client: development mode)"
UNKNOWN_USER = "(no userId)"
CHART_ROWS = 20


@dataclass
class GroupStats:
    view: str  # orderer | site
    key: str  # user key (keyed hash or plain id) | client issuer [tenant]
    ratings: int = 0
    appropriate: int = 0
    not_appropriate: int = 0
    no_criteria_apply: int = 0
    appropriate_rate: float = 0.0
    not_appropriate_rate: float = 0.0
    no_criteria_rate: float = 0.0
    cards_shown: int = 0
    accepted: int = 0
    overridden: int = 0
    acceptance_rate: float = 0.0
    override_rate: float = 0.0

    @property
    def label(self) -> str:
        """Keyed hashes shortened for display (the CSV keeps them whole)."""
        return self.key[:14] + "…" if self.key.startswith("u:") and len(self.key) > 15 else self.key


@dataclass
class OrdererViews:
    orderers: list[GroupStats] = field(default_factory=list)
    sites: list[GroupStats] = field(default_factory=list)


def site_of(client_id: str | None, tenant: str | None) -> str:
    return (client_id or NO_CLIENT) + (f" [{tenant}]" if tenant else "")


def _group(view: str, key_of: Callable[[CardRow | RatingRow], str], cards: list[CardRow],
           ratings: list[RatingRow]) -> list[GroupStats]:
    groups: dict[str, GroupStats] = {}
    for item in ratings:
        entry = groups.setdefault(key_of(item), GroupStats(view, key_of(item)))
        entry.ratings += 1
        if item.rating in RATING_CODES:
            attribute = item.rating.replace("-", "_")
            setattr(entry, attribute, getattr(entry, attribute) + 1)
    for card in cards:
        if card.delivery != "shown":
            continue
        entry = groups.setdefault(key_of(card), GroupStats(view, key_of(card)))
        entry.cards_shown += 1
        entry.accepted += card.outcome == "accepted"
        entry.overridden += card.outcome == "overridden"
    for entry in groups.values():
        entry.appropriate_rate = rate(entry.appropriate, entry.ratings)
        entry.not_appropriate_rate = rate(entry.not_appropriate, entry.ratings)
        entry.no_criteria_rate = rate(entry.no_criteria_apply, entry.ratings)
        entry.acceptance_rate = rate(entry.accepted, entry.cards_shown)
        entry.override_rate = rate(entry.overridden, entry.cards_shown)
    return sorted(groups.values(), key=lambda g: (-g.ratings, -g.cards_shown, g.key))


def orderer_views(engine: Engine, since: datetime | None = None) -> OrdererViews:
    with engine.connect() as conn:
        cards = card_rows(conn, since)
        ratings = rating_rows(conn, since)
    return OrdererViews(
        orderers=_group("orderer", lambda r: r.user_key or UNKNOWN_USER, cards, ratings),
        sites=_group("site", lambda r: site_of(r.client_id, r.tenant), cards, ratings),
    )


def write_csv(views: OrdererViews, path: Path) -> None:
    """One row per orderer and per site: counts and rates (keyed hashes whole)."""
    names = [f.name for f in fields(GroupStats)]
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=names)
        writer.writeheader()
        for entry in views.orderers + views.sites:
            writer.writerow(asdict(entry))


def text_lines(views: OrdererViews) -> list[str]:
    lines: list[str] = []
    for title, groups in (("orderer", views.orderers), ("site", views.sites)):
        if not groups:
            continue
        lines += ["", f"{'by ' + title:46} {'rated':>6} {'appr%':>6} {'not%':>6} {'none%':>6} {'shown':>6} {'acc%':>6}"]
        lines += [f"{g.label[:46]:46} {g.ratings:6d} {g.appropriate_rate * 100:5.1f}% "
                  f"{g.not_appropriate_rate * 100:5.1f}% {g.no_criteria_rate * 100:5.1f}% {g.cards_shown:6d} "
                  f"{g.acceptance_rate * 100:5.1f}%" for g in groups]
    return lines


def _section(title: str, groups: list[GroupStats]) -> str:
    rows = [(g.label, g.ratings, g.appropriate, g.not_appropriate, g.no_criteria_apply,
             percent(g.not_appropriate_rate), g.cards_shown, g.accepted, g.overridden, percent(g.acceptance_rate))
            for g in groups]
    chart = stacked_bars(f"Ratings of drafted orders by {title}",
                         [(g.label, (g.appropriate, g.not_appropriate, g.no_criteria_apply))
                          for g in groups[:CHART_ROWS] if g.ratings],
                         ("appropriate", "not appropriate", "no criteria apply"))
    return (f"<h3>By {title}</h3>{chart}"
            + table((title, "ratings", "appropriate", "not appropriate", "no criteria apply", "not appropriate %",
                     "cards shown", "accepted", "overridden", "acceptance"), rows, css=f"by-{title}"))


def html_fragment(views: OrdererViews) -> str:
    if not (views.orderers or views.sites):
        return ""
    return ('<section id="by-orderer"><h2>Ordering clinicians and sites</h2><p>Ratings of drafted orders and card '
            "outcomes per ordering clinician (keyed hash of <code>context.userId</code> unless "
            "CDSHOOKS_STORE_USER_IDS) and per calling client (<code>iss</code>, tenant). Export: "
            "<code>cdshooks report --csv FILE</code>.</p>"
            + _section("orderer", views.orderers) + _section("site", views.sites) + "</section>")
