"""Render a finding into a CDS card with the catalog entry of its topic.

Everything comes from the finding (typed values, the draft orders as facts) and the catalog (texts, the phrase
book): the renderer never reads the FHIR record. Suggestions become FHIR actions:

- `replace` on imaging drafts follows the Argonaut "CDS Hooks for PAMA" guide (scenario 02): the draft is
  *updated* to the better order — same id, reason, priority and encounter, the new code, and the rating the new
  order gets — so an EHR that applies only `update` (the public sandbox's PAMA screen) changes the order. Extra
  drafts of a combined class are deleted; extra parts of a combined better order are created.
- `add` creates a new draft order for the patient next to them, carrying the draft's reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from cdshooks.catalog.loader import OVERRIDE_SYSTEM, TOPIC_SYSTEM, CardSpec, SuggestionSpec
from cdshooks.catalog.phrases import PhraseBook
from cdshooks.catalog.ratings import Consult, rated, unrated
from cdshooks.catalog.safety import RENAL_TOPIC, ContrastPolicy, names_contrast_ct, renal_variant
from cdshooks.clinical.facts import DraftOrder
from cdshooks.clinical.findings import Finding
from cdshooks.protocol.conformance import MAX_SUMMARY
from cdshooks.protocol.response import Action, Card, Coding, Link, Source, Suggestion

log = logging.getLogger(__name__)

# procedure class -> the orders to create, each (codings, text): usually one, the parts of a combined class
ProcedureOrders = Callable[[str], list[tuple[list[dict[str, str]], str]]]
# copied from the draft onto an order that replaces it or is added next to it
KEPT_FROM_DRAFT = ("reasonCode", "reasonReference", "encounter", "priority")


class _Values(dict[str, Any]):
    """Template values: a missing name is our bug."""

    def __missing__(self, key: str) -> Any:
        raise KeyError(key)


def fill(template: str, values: Mapping[str, Any], book: PhraseBook | None = None) -> str:
    shown = book or _PLAIN
    return template.format_map(_Values({k: shown.text(v) for k, v in values.items()}))


_PLAIN = PhraseBook({}, {})


def shorten(summary: str, topic: str, limit: int = MAX_SUMMARY) -> str:
    """Keep a filled summary under 140 characters: cut at a word boundary with an ellipsis (and log it,
    since the catalog's example values should have caught it)."""
    if len(summary) <= limit:
        return summary
    log.warning("card summary shortened", extra={"topics": [topic]})
    cut = summary[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


class CardRenderer:
    def __init__(self, catalog: Mapping[str, CardSpec], procedure_orders: ProcedureOrders, phrases: PhraseBook,
                 contrast: ContrastPolicy | None = None) -> None:
        self._catalog = catalog
        self._orders = procedure_orders
        self._phrases = phrases
        self._contrast = contrast  # the catalog-wide contrast safety net (cdshooks.catalog.safety)

    @property
    def catalog(self) -> Mapping[str, CardSpec]:
        return self._catalog

    @property
    def phrases(self) -> PhraseBook:
        return self._phrases

    def __call__(self, finding: Finding, patient: str | None, consult: Consult | None = None,
                 class_ratings: Mapping[str, str] | None = None) -> Card | None:
        spec = self._catalog.get(finding.topic)
        if spec is None:
            log.error("finding without a catalog entry", extra={"topics": [finding.topic]})
            return None
        try:
            return self._render(spec, finding, patient, consult, class_ratings or {})
        except (KeyError, ValueError, IndexError) as exc:
            log.error("card template could not be filled", extra={"topics": [finding.topic], "error": repr(exc)})
            return None

    def _fill(self, template: str, values: Mapping[str, Any]) -> str:
        return fill(template, values, self._phrases)

    def _render(self, spec: CardSpec, finding: Finding, patient: str | None, consult: Consult | None,
                class_ratings: Mapping[str, str]) -> Card:
        values = finding.values.shown()
        chosen = [spec.suggestions[sid] for sid in finding.suggestions if sid in spec.suggestions]
        note = None
        if self._contrast is not None:
            safe = self._contrast.apply(chosen, values, finding.contrast_risk, self._fill)
            chosen, note = list(safe.suggestions), safe.note
        suggestions = tuple(self._suggestion(s, finding, patient, values, consult, class_ratings) for s in chosen)
        variant = finding.values.variant
        if finding.contrast_risk:  # the kidneys are at risk: the card's renal wording, where it has one
            variant = renal_variant(spec.variants, variant) or variant
        summary, detail = spec.texts(variant)
        filled_detail = self._fill(detail, values)
        if (note is None and finding.contrast_risk and self._contrast is not None and spec.topic != RENAL_TOPIC
                and names_contrast_ct(filled_detail)):
            note = self._contrast.mentioned_note(finding.contrast_risk, self._fill)
        if note:
            filled_detail = f"{filled_detail}\n\n{note}"
        return Card(
            summary=shorten(self._fill(summary, values), spec.topic),
            detail=filled_detail,
            indicator=spec.indicator,  # type: ignore[arg-type]
            source=Source(label=spec.source_label, url=spec.source_url,
                          topic=Coding(TOPIC_SYSTEM, spec.topic, spec.title)),
            suggestions=suggestions,
            selectionBehavior=spec.selection_behavior if suggestions else None,  # type: ignore[arg-type]
            overrideReasons=tuple(Coding(OVERRIDE_SYSTEM, r.code, r.display) for r in spec.override_reasons),
            links=tuple(Link(link.label, link.url) for link in spec.links),
        )

    def _suggestion(self, spec: SuggestionSpec, finding: Finding, patient: str | None, values: Mapping[str, Any],
                    consult: Consult | None, class_ratings: Mapping[str, str]) -> Suggestion:
        procedure = self._fill(spec.procedure, values)
        occurrence = self._fill(spec.occurrence, values) if spec.occurrence else None
        new = self._orders(procedure)
        drafts = list(finding.orders)
        first = next((d.resource for d in drafts if d.resource is not None), None)
        actions: list[Action] = []
        if spec.action == "replace":
            updatable = [d for d in drafts if _updatable(d)]
            if updatable and len(updatable) == len(drafts):
                rating = class_ratings.get(procedure.partition(":")[0])
                for draft, (codings, text) in zip(updatable, new, strict=False):
                    order = updated_order(draft, codings, text, occurrence, rating, consult)
                    actions.append(Action("update", self._phrases.action("update", draft=draft.ref, order=text),
                                          resource=order))
                actions.extend(Action("delete", self._phrases.action("delete", draft=d.ref), resourceId=d.ref)
                               for d in updatable[len(new):])
                new = new[len(updatable):]
            else:
                actions.extend(Action("delete", self._phrases.action("delete", draft=ref), resourceId=ref)
                               for ref in finding.order_ids)
        for codings, text in new:
            order = self.new_order(codings, text, patient, first, occurrence)
            actions.append(Action("create", self._phrases.action("create", order=text), resource=order))
        return Suggestion(label=self._fill(spec.label, values), actions=tuple(actions),
                          isRecommended=True if spec.recommended else None)

    @staticmethod
    def new_order(codings: list[dict[str, str]], text: str, patient: str | None,
                  draft: Mapping[str, Any] | None, occurrence: str | None = None) -> dict[str, Any]:
        order: dict[str, Any] = {
            "resourceType": "ServiceRequest",
            "status": "draft",
            "intent": "order",
            "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "363679005",
                                      "display": "Imaging"}]}],
            "code": {"coding": codings, "text": text},
        }
        subject = (draft or {}).get("subject") or ({"reference": patient} if patient else None)
        if subject:
            order["subject"] = subject
        if draft is not None:
            for key in KEPT_FROM_DRAFT:
                if draft.get(key):
                    order[key] = draft[key]
        if occurrence:
            order["occurrenceDateTime"] = occurrence
        return order


def _updatable(draft: DraftOrder) -> bool:
    resource = draft.resource
    return (resource is not None and resource.get("resourceType") == "ServiceRequest" and bool(resource.get("id"))
            and draft.ref == f"ServiceRequest/{resource.get('id')}")


def updated_order(draft: DraftOrder, codings: list[dict[str, str]], text: str, occurrence: str | None,
                  rating: str | None, consult: Consult | None) -> dict[str, Any]:
    """The draft changed to the better order: same id, status, intent, subject, reason, priority and encounter;
    the new code; the rating the new order gets (when the record allowed one), or no rating at all."""
    order = unrated(draft.resource or {})
    order["code"] = {"coding": codings, "text": text}
    for stale in ("orderDetail", "bodySite"):  # they described the old study
        order.pop(stale, None)
    if occurrence:
        order["occurrenceDateTime"] = occurrence
    if rating is not None and consult is not None:
        order = rated(order, rating, consult)
    return order


__all__ = ["CardRenderer", "fill", "shorten", "updated_order"]
