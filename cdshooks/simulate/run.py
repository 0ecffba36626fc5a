"""The simulation: every hook over every patient of a cohort, through the service's own pipeline.

Per patient: patient-view on the record; then, per draft procedure class, order-select (the draft selected) and
order-sign, with the draft in draftOrders (cdshooks.simulate.drafts). The record is the patient's resources as
exported (what prefetch or the FHIR server would have sent); cards are rendered and checked exactly as in a
hook call, with the settings in force (CDSHOOKS_MAX_CARDS, CDSHOOKS_APPROPRIATE_ORDER_CARDS, silent topics).
Counts are of distinct patients; silent topics count as "would have shown". Ratings are counted at order-sign.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from cdshooks import pipeline
from cdshooks.fhir.record import Record
from cdshooks.governance.delivery import SILENT
from cdshooks.governance.knowledge_set import KnowledgeSet
from cdshooks.services import BY_HOOK
from cdshooks.settings import Settings
from cdshooks.simulate.cohort import Cohort
from cdshooks.simulate.drafts import draft_orders

log = logging.getLogger(__name__)

HOOKS = ("patient-view", "order-select", "order-sign")
BASE = "(base)"
EXAMPLES = 3


@dataclass(frozen=True)
class Hit:
    """One card one patient would get from one hook call."""

    patient: str
    hook: str
    draft: str | None  # the procedure class drafted (order hooks)
    topic: str
    variant: str
    silent: bool
    summary: str


@dataclass
class TopicResult:
    topic: str
    indicator: str
    mode: str  # live | silent
    patients: int = 0
    share: float = 0.0  # of the cohort
    by_hook: dict[str, int] = field(default_factory=dict)  # distinct patients per hook
    by_variant: dict[str, int] = field(default_factory=dict)  # distinct patients per card variant
    examples: list[Hit] = field(default_factory=list)


@dataclass
class Simulation:
    patients: int
    as_of: str
    knowledge: str  # version (sha256:short hash)
    knowledge_dir: str | None
    drafts: tuple[str, ...]
    hook_calls: int
    seconds: float
    topics: list[TopicResult]
    ratings: dict[str, dict[str, int]]  # draft procedure class -> rating -> patients (order-sign)
    errors: int = 0  # hook calls that raised (our bug; logged)
    hits: list[Hit] = field(default_factory=list, repr=False)

    @property
    def patients_per_second(self) -> float:
        return self.patients / self.seconds if self.seconds > 0 else 0.0

    @property
    def calls_per_second(self) -> float:
        return self.hook_calls / self.seconds if self.seconds > 0 else 0.0

    def patient_sets(self) -> dict[str, set[str]]:
        """Topic -> the patients who would get it."""
        out: dict[str, set[str]] = defaultdict(set)
        for hit in self.hits:
            out[hit.topic].add(hit.patient)
        return out


def simulate(cohort: Cohort, as_of: datetime, loaded: KnowledgeSet, settings: Settings,
             drafts: Sequence[str]) -> Simulation:
    """KeyError when a draft is not an orderable procedure class of the knowledge."""
    for procedure in drafts:
        draft_orders(loaded.knowledge, procedure, "check")
    governance = pipeline.Governance(version=loaded.version, silent=loaded.silent(settings.silent_topics))
    hits: list[Hit] = []
    ratings: dict[str, Counter[str]] = {procedure: Counter() for procedure in drafts}
    calls = errors = 0
    started = time.perf_counter()
    for patient in cohort.patients:
        plan: list[tuple[str, str | None, Record]] = [
            ("patient-view", None, Record.build(patient.id, patient.resources))]
        for procedure in drafts:
            orders = draft_orders(loaded.knowledge, procedure, patient.id)
            refs = [f"ServiceRequest/{o['id']}" for o in orders]
            plan.append(("order-select", procedure, Record.build(patient.id, patient.resources, orders, refs)))
            plan.append(("order-sign", procedure, Record.build(patient.id, patient.resources, orders)))
        for hook, drafted, record in plan:
            calls += 1
            try:
                answer = pipeline.answer(BY_HOOK[hook], record, as_of, settings, loaded.knowledge, loaded.render,
                                         governance)
            except Exception as exc:  # our bug: counted and logged, the simulation goes on
                errors += 1
                log.error("simulated hook call failed", extra={"hook": hook, "error": type(exc).__name__})
                continue
            hits += [Hit(patient.id, hook, drafted, item.card.topic or "(none)", item.finding.values.variant or BASE,
                         item.delivery == SILENT, item.card.summary) for item in answer.issued]
            if hook == "order-sign" and drafted is not None:
                ratings[drafted].update({item.rating for item in answer.ratings})
    seconds = time.perf_counter() - started
    return Simulation(
        patients=len(cohort.patients), as_of=as_of.isoformat(timespec="minutes"), knowledge=loaded.version.label,
        knowledge_dir=loaded.directory, drafts=tuple(drafts), hook_calls=calls, seconds=seconds,
        topics=_topics(hits, len(cohort.patients), loaded),
        ratings={p: dict(sorted(c.items())) for p, c in ratings.items()}, errors=errors, hits=hits)


def _topics(hits: list[Hit], size: int, loaded: KnowledgeSet) -> list[TopicResult]:
    patients: dict[str, set[str]] = defaultdict(set)
    by_hook: dict[tuple[str, str], set[str]] = defaultdict(set)
    by_variant: dict[tuple[str, str], set[str]] = defaultdict(set)
    examples: dict[str, list[Hit]] = defaultdict(list)
    silent: set[str] = set()
    for hit in hits:
        patients[hit.topic].add(hit.patient)
        by_hook[(hit.topic, hit.hook)].add(hit.patient)
        by_variant[(hit.topic, hit.variant)].add(hit.patient)
        if hit.silent:
            silent.add(hit.topic)
        chosen = examples[hit.topic]
        if len(chosen) < EXAMPLES and all(e.patient != hit.patient and e.variant != hit.variant for e in chosen):
            chosen.append(hit)
    for hit in hits:  # fill up with other patients where variants were too few
        chosen = examples[hit.topic]
        if len(chosen) < EXAMPLES and all(e.patient != hit.patient for e in chosen):
            chosen.append(hit)
    out = []
    for topic, who in patients.items():
        spec = loaded.cards.catalog.get(topic)
        out.append(TopicResult(
            topic=topic, indicator=spec.indicator if spec else "?", mode="silent" if topic in silent else "live",
            patients=len(who), share=round(len(who) / size, 4) if size else 0.0,
            by_hook={h: len(by_hook[(topic, h)]) for h in HOOKS if by_hook.get((topic, h))},
            by_variant=dict(sorted(((v, len(p)) for (t, v), p in by_variant.items() if t == topic),
                                   key=lambda item: (-item[1], item[0]))),
            examples=examples[topic]))
    return sorted(out, key=lambda t: (-t.patients, t.topic))
