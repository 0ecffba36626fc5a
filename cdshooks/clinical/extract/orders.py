"""Facts from the draft orders of the session: imaging ServiceRequests classified into procedure classes
(a C/A/P CT split into chest + abdomen/pelvis orders counts as one, per the knowledge's `combined_from`),
bone-modifying agent and calcium / vitamin D drafts, and the symptoms named in the orders' reasonCode.
"""

from __future__ import annotations

from datetime import datetime

from cdshooks.clinical.extract.common import cached, concepts, label_of, ref, status
from cdshooks.clinical.extract.conditions import symptom_kinds_of
from cdshooks.clinical.extract.medications import medication_concept, osteoporosis_dose
from cdshooks.clinical.facts import DraftOrder, Symptom
from cdshooks.clinical.knowledge import Knowledge
from cdshooks.fhir.codes import profile
from cdshooks.fhir.record import Record

SKIPPED = {"entered-in-error", "revoked", "cancelled"}
# DraftOrder.drug_class of a drafted calcium and/or vitamin D supplement (R15b prescribes it with the BMA)
SUPPLEMENT = "calcium-vitamin-d"


def _display(kb: Knowledge, procedure: str | None, concept: object) -> str:
    name = kb.procedure_name(procedure) if procedure is not None else None
    return name if name is not None else label_of(concept, "Imaging order")[:60]


def extract_orders(kb: Knowledge, record: Record, now: datetime) -> tuple[list[DraftOrder], list[Symptom]]:
    selected = set(record.selected_orders_refs())
    orders: list[DraftOrder] = []
    symptoms: list[Symptom] = []
    for resource in record.draft_orders:
        if status(resource) in SKIPPED:
            continue
        reference = ref(resource)
        reasons = concepts(resource.get("reasonCode"))
        reads = [profile(c) for c in reasons]  # each reason read once
        reason_text = "; ".join(text for read in reads if (text := read.text))[:200]  # concept_text
        for concept, read in zip(reasons, reads, strict=True):
            found = symptom_kinds_of(kb, read)
            if found is not None:
                kind, subkind = found
                symptoms.append(Symptom(kind, label_of(concept, kind), now, True, None, None, reference, subkind,
                                        "order"))
        if resource.get("resourceType") == "ServiceRequest":
            match = cached(resource.get("code"), (kb, "classify_procedure"), kb.classify_procedure)
            if match is None:
                continue
            procedure = match.procedure_class
            orders.append(DraftOrder(reference, reference in selected, _display(kb, procedure, resource.get("code")),
                                     procedure_class=procedure, reason_text=reason_text,
                                     iodinated_contrast=match.iodinated_contrast, resource=resource))
        elif resource.get("resourceType") == "MedicationRequest":
            concept = medication_concept(resource, record.resolve)
            if kb.valueset("VS_CALCIUM_VITAMIN_D_SUPPLEMENT").matches(concept):
                label = label_of(concept, "calcium / vitamin D")[:60]
                orders.append(DraftOrder(reference, reference in selected, label, medication=label,
                                         drug_class=SUPPLEMENT, reason_text=reason_text, resource=resource))
                continue
            medication = kb.medication(concept)
            if medication is None:
                continue
            orders.append(DraftOrder(reference, reference in selected, medication.ingredient,
                                     medication=medication.ingredient, drug_class=medication.drug_class,
                                     osteoporosis_dose=bool(osteoporosis_dose(kb, medication, resource, concept)),
                                     reason_text=reason_text, resource=resource))
    return _merge_split_ct(kb, orders), symptoms


def _merge_split_ct(kb: Knowledge, orders: list[DraftOrder]) -> list[DraftOrder]:
    """Orders that together make a combined class (CT chest + CT abdomen/pelvis = CT C/A/P) take that class."""
    classes = frozenset(o.procedure_class for o in orders if o.procedure_class)
    merged = list(orders)
    for combined in sorted(_combined(kb, classes) - classes):
        parts = set(kb.procedure_field(combined, "combined_from") or ())
        selected = any(o.selected for o in merged if o.procedure_class in parts)
        label = _display(kb, combined, None)
        contrast = kb.procedure_field(combined, "iodinated_contrast")
        merged = [DraftOrder(o.ref, selected, label, combined, reason_text=o.reason_text, iodinated_contrast=contrast,
                             resource=o.resource) if o.procedure_class in parts else o for o in merged]
    return merged


_COMBINED: dict[tuple[Knowledge, frozenset[str]], frozenset[str]] = {}


def _combined(kb: Knowledge, classes: frozenset[str]) -> frozenset[str]:
    """`kb.combine_procedure_classes(classes)`, once per process for each set of classes (few distinct sets)."""
    key = (kb, classes)
    found = _COMBINED.get(key)
    if found is None:
        if len(_COMBINED) >= 1024:
            _COMBINED.clear()
        found = _COMBINED[key] = kb.combine_procedure_classes(classes)
    return found
