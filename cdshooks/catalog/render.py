"""Render a finding into a CDS card with the catalog entry of its topic.

Suggestions become FHIR actions: `replace` deletes the draft orders the finding is about and creates the
better order; `add` creates an order next to them. Created ServiceRequests are drafts for the patient,
coded from the knowledge's procedure entry, carrying the draft's reasonCode.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from cdshooks.catalog.loader import OVERRIDE_SYSTEM, TOPIC_SYSTEM, CardSpec, SuggestionSpec
from cdshooks.catalog.safety import RENAL_TOPIC, ContrastPolicy, names_contrast_ct, renal_variant
from cdshooks.clinical.findings import Finding
from cdshooks.fhir.record import Record
from cdshooks.protocol.conformance import MAX_SUMMARY
from cdshooks.protocol.response import Action, Card, Coding, Link, Source, Suggestion

log = logging.getLogger(__name__)

# procedure class -> the orders to create, each (codings, text): usually one, the parts of a combined class
ProcedureOrders = Callable[[str], list[tuple[list[dict[str, str]], str]]]


class _Values(dict[str, Any]):
    """Template values: dates shown as ISO dates, lists joined; a missing name is our bug."""

    def __missing__(self, key: str) -> Any:
        raise KeyError(key)


def _shown(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(str(_shown(v)) for v in value)
    return value


def fill(template: str, values: Mapping[str, Any]) -> str:
    return template.format_map(_Values({k: _shown(v) for k, v in values.items()}))


def shorten(summary: str, topic: str, limit: int = MAX_SUMMARY) -> str:
    """Keep a filled summary under 140 characters: cut at a word boundary with an ellipsis (and log it,
    since the catalog's example values should have caught it)."""
    if len(summary) <= limit:
        return summary
    log.warning("card summary shortened", extra={"topics": [topic]})
    cut = summary[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


class CardRenderer:
    def __init__(self, catalog: Mapping[str, CardSpec], procedure_orders: ProcedureOrders,
                 contrast: ContrastPolicy | None = None) -> None:
        self._catalog = catalog
        self._orders = procedure_orders
        self._contrast = contrast  # the catalog-wide contrast safety net (cdshooks.catalog.safety)

    def __call__(self, finding: Finding, record: Record) -> Card | None:
        spec = self._catalog.get(finding.topic)
        if spec is None:
            log.error("finding without a catalog entry", extra={"topics": [finding.topic]})
            return None
        try:
            return self._render(spec, finding, record)
        except (KeyError, ValueError, IndexError) as exc:
            log.error("card template could not be filled", extra={"topics": [finding.topic], "error": repr(exc)})
            return None

    def _render(self, spec: CardSpec, finding: Finding, record: Record) -> Card:
        values = finding.values
        chosen = [spec.suggestions[sid] for sid in finding.suggestions if sid in spec.suggestions]
        note = None
        if self._contrast is not None:
            safe = self._contrast.apply(chosen, values, finding.contrast_risk, fill)
            chosen, note = list(safe.suggestions), safe.note
        suggestions = tuple(self._suggestion(s, finding, record, values) for s in chosen)
        variant = values.get("variant")
        if finding.contrast_risk:  # the kidneys are at risk: the card's renal wording, where it has one
            variant = renal_variant(spec.variants, variant) or variant
        summary, detail = spec.texts(variant)
        filled_detail = fill(detail, values)
        if (note is None and finding.contrast_risk and self._contrast is not None and spec.topic != RENAL_TOPIC
                and names_contrast_ct(filled_detail)):
            note = self._contrast.mentioned_note(finding.contrast_risk, fill)
        if note:
            filled_detail = f"{filled_detail}\n\n{note}"
        return Card(
            summary=shorten(fill(summary, values), spec.topic),
            detail=filled_detail,
            indicator=spec.indicator,  # type: ignore[arg-type]
            source=Source(label=spec.source_label, url=spec.source_url,
                          topic=Coding(TOPIC_SYSTEM, spec.topic, spec.title)),
            suggestions=suggestions,
            selectionBehavior=spec.selection_behavior if suggestions else None,  # type: ignore[arg-type]
            overrideReasons=tuple(Coding(OVERRIDE_SYSTEM, r.code, r.display) for r in spec.override_reasons),
            links=tuple(Link(link.label, link.url) for link in spec.links),
        )

    def _suggestion(self, spec: SuggestionSpec, finding: Finding, record: Record,
                    values: Mapping[str, Any]) -> Suggestion:
        actions: list[Action] = []
        drafts = [record.resolve(ref) for ref in finding.order_ids]
        if spec.action == "replace":
            actions.extend(Action("delete", f"Remove the draft order {ref}", resourceId=ref)
                           for ref in finding.order_ids)
        draft = next((d for d in drafts if d), None)
        for codings, text in self._orders(fill(spec.procedure, values)):
            order = self.new_order(codings, text, record, draft, values.get(f"{spec.id}_occurrence"))
            actions.append(Action("create", f"Create a draft order: {text}", resource=order))
        return Suggestion(label=fill(spec.label, values), actions=tuple(actions),
                          isRecommended=True if spec.recommended else None)

    @staticmethod
    def new_order(codings: list[dict[str, str]], text: str, record: Record, draft: dict[str, Any] | None,
                  occurrence: Any = None) -> dict[str, Any]:
        order: dict[str, Any] = {
            "resourceType": "ServiceRequest",
            "status": "draft",
            "intent": "order",
            "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "363679005",
                                      "display": "Imaging"}]}],
            "code": {"coding": codings, "text": text},
            "subject": {"reference": f"Patient/{record.patient_id}"},
        }
        if draft is not None:
            for key in ("reasonCode", "reasonReference", "encounter"):
                if draft.get(key):
                    order[key] = draft[key]
        if occurrence:
            order["occurrenceDateTime"] = _shown(occurrence)
        return order
