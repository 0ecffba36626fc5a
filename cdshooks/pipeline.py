"""From an assembled record to a spec-valid response: rules -> findings -> cards -> checked JSON."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from cdshooks.catalog.ratings import Consult, rating_actions
from cdshooks.catalog.render import CardRenderer
from cdshooks.clinical import engine
from cdshooks.clinical.findings import Finding
from cdshooks.clinical.knowledge import Knowledge
from cdshooks.fhir.record import Record
from cdshooks.protocol.conformance import action_problems, card_problems
from cdshooks.protocol.response import INDICATOR_RANK, Card, HookResponse
from cdshooks.services import ServiceDefinition
from cdshooks.settings import Settings

log = logging.getLogger(__name__)

# topics sent only when switched on (an appropriate order gets a rating, not a card, by default)
QUIET_TOPICS = frozenset({"acr-usually-appropriate"})


@dataclass(frozen=True)
class Answer:
    response: HookResponse
    dropped: int  # cards or actions that failed the spec checks (our bug, logged)


def answer(service: ServiceDefinition, record: Record, now: datetime, settings: Settings, knowledge: Knowledge,
           render: CardRenderer) -> Answer:
    evaluation = engine.evaluate(service.hook, record, now, knowledge)
    consult = Consult(settings.pama_qcdsm_id)  # one consultation id for every rating of this call
    cards: list[tuple[Finding, Card]] = []
    seen_topics: set[str] = set()
    dropped = 0
    quiet = set() if settings.appropriate_order_cards else QUIET_TOPICS
    for finding in evaluation.findings:
        if finding.topic in seen_topics or finding.topic in quiet:
            continue
        card = render(finding, evaluation.patient, consult, evaluation.class_ratings)
        if card is None:
            continue
        problems = card_problems(card.to_json())
        if problems:
            dropped += 1
            log.error("card dropped: breaks CDS Hooks rules",
                      extra={"topics": [finding.topic], "reason": problems[:5]})
            continue
        seen_topics.add(finding.topic)
        cards.append((finding, card))
    cards.sort(key=lambda fc: (INDICATOR_RANK[fc[1].indicator], -_timestamp(fc[0].recency)))
    actions = []
    for action in rating_actions(evaluation, consult):
        problems = action_problems(action.to_json(), "systemAction")
        if problems:
            dropped += 1
            log.error("system action dropped: breaks CDS Hooks rules", extra={"reason": problems[:5]})
            continue
        actions.append(action)
    response = HookResponse(
        cards=tuple(card for _, card in cards[: settings.max_cards]),
        system_actions=tuple(actions),
        mirror_in_extension=settings.system_actions_in_extension,
    )
    return Answer(response, dropped)


def _timestamp(moment: datetime | None) -> float:
    return moment.timestamp() if moment else 0.0
