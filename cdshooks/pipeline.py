"""From an assembled record to a spec-valid response: rules -> findings -> cards -> checked JSON.

Governance (cdshooks.governance) is applied here: every card carries the knowledge version and the drafted orders
it is about (card `extension`), every rating the knowledge version beside its consult id; cards of silent topics
and repeats of overridden cards on unchanged evidence are kept out of the response and handed back in
`Answer.issued` with their delivery, for the store.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from cdshooks.catalog.ratings import Consult, rating_action
from cdshooks.catalog.render import CardRenderer
from cdshooks.clinical import engine
from cdshooks.clinical.findings import Finding, Rating
from cdshooks.clinical.knowledge import Knowledge
from cdshooks.fhir.record import Record
from cdshooks.governance.delivery import SHOWN, SILENT, SUPPRESSED
from cdshooks.governance.extensions import card_extension, knowledge_fhir_extension
from cdshooks.governance.knowledge_version import KnowledgeVersion
from cdshooks.governance.repeats import Overridden, evidence_fingerprint
from cdshooks.protocol.conformance import action_problems, card_problems
from cdshooks.protocol.response import INDICATOR_RANK, Action, Card, HookResponse
from cdshooks.services import ServiceDefinition
from cdshooks.settings import Settings

log = logging.getLogger(__name__)

# topics sent only when switched on (an appropriate order gets a rating, not a card, by default)
QUIET_TOPICS = frozenset({"acr-usually-appropriate"})


@dataclass(frozen=True)
class Governance:
    """What the knowledge's governance asks of one call (defaults: nothing; cdshooks.governance)."""

    version: KnowledgeVersion | None = None  # written on every card and rating
    silent: frozenset[str] = frozenset()  # topics evaluated and recorded, never sent
    overridden: Overridden | None = None  # this patient's recently overridden cards (None: repeats allowed)


@dataclass(frozen=True)
class Issued:
    """A card the call produced, with what became of it: shown (sent), silent or suppressed (not sent)."""

    finding: Finding
    card: Card
    delivery: str
    evidence_key: str


@dataclass(frozen=True)
class Answer:
    response: HookResponse
    dropped: int  # cards or actions that failed the spec checks (our bug, logged)
    issued: tuple[Issued, ...] = ()  # the cards sent, then those held back (silent, suppressed)
    ratings: tuple[Rating, ...] = ()  # the ratings sent as systemActions
    consult: Consult | None = None


def answer(service: ServiceDefinition, record: Record, now: datetime, settings: Settings, knowledge: Knowledge,
           render: CardRenderer, governance: Governance | None = None) -> Answer:
    gov = governance or Governance()
    evaluation = engine.evaluate(service.hook, record, now, knowledge)
    # one consultation id for every rating of this call, with the knowledge that rated
    consult = Consult(settings.pama_qcdsm_id, extra=(knowledge_fhir_extension(gov.version),) if gov.version else ())
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
        if gov.version is not None:
            card = replace(card, extension=card_extension(gov.version, finding))
        problems = card_problems(card.to_json())
        if problems:
            dropped += 1
            log.error("card dropped: breaks CDS Hooks rules",
                      extra={"topics": [finding.topic], "reason": problems[:5]})
            continue
        seen_topics.add(finding.topic)
        cards.append((finding, card))
    cards.sort(key=lambda fc: (INDICATOR_RANK[fc[1].indicator], -_timestamp(fc[0].recency)))
    keys = {finding.topic: evidence_fingerprint(finding) for finding, _ in cards}
    live = [fc for fc in cards if fc[0].topic not in gov.silent]
    overridden = gov.overridden([f.topic for f, _ in live]) if gov.overridden is not None and live else {}
    repeats = {f.topic for f, _ in live if keys[f.topic] in overridden.get(f.topic, ())}
    shown = [fc for fc in live if fc[0].topic not in repeats][: settings.max_cards]
    issued = ([Issued(f, c, SHOWN, keys[f.topic]) for f, c in shown]
              + [Issued(f, c, SILENT, keys[f.topic]) for f, c in cards if f.topic in gov.silent]
              + [Issued(f, c, SUPPRESSED, keys[f.topic]) for f, c in live if f.topic in repeats])
    actions: list[Action] = []
    ratings: list[Rating] = []
    for item in evaluation.ratings:
        action = rating_action(item, consult, render.phrases)
        if action is None:
            continue
        problems = action_problems(action.to_json(), "systemAction")
        if problems:
            dropped += 1
            log.error("system action dropped: breaks CDS Hooks rules", extra={"reason": problems[:5]})
            continue
        actions.append(action)
        ratings.append(item)
    response = HookResponse(
        cards=tuple(card for _, card in shown),
        system_actions=tuple(actions),
        mirror_in_extension=settings.system_actions_in_extension,
    )
    return Answer(response, dropped, tuple(issued), tuple(ratings), consult)


def _timestamp(moment: datetime | None) -> float:
    return moment.timestamp() if moment else 0.0
