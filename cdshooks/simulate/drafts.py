"""The draft orders the order hooks are simulated with: one typical imaging order per procedure class.

A cohort holds records, not orders, so for order-select and order-sign every patient gets, one class at a time,
a draft ServiceRequest for each `--draft` procedure class (default: a whole-body bone scan and a CT of chest,
abdomen and pelvis with contrast, the usual staging pair), coded exactly as the service's own suggested orders
are (the knowledge's procedure entry: CPT and LOINC). A class ordered as parts (CT chest + CT abdomen/pelvis)
becomes one draft per part, sent together as that call's draftOrders and selections.
"""

from __future__ import annotations

from typing import Any

from cdshooks.catalog.orders import procedure_orders
from cdshooks.clinical.knowledge import Knowledge

DEFAULT_DRAFTS = ("BONE_SCAN_WB", "CT_CAP_IV")


def draft_orders(knowledge: Knowledge, procedure: str, patient_id: str) -> list[dict[str, Any]]:
    """The drafts of one order of `procedure` for the patient (KeyError: not an orderable procedure class)."""
    orders = procedure_orders(knowledge)(procedure)
    slug = procedure.lower().replace("_", "-").replace(":", "-")
    return [{"resourceType": "ServiceRequest", "id": f"sim-{slug}-{n}", "status": "draft", "intent": "order",
             "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "363679005",
                                       "display": "Imaging"}]}],
             "subject": {"reference": f"Patient/{patient_id}"}, "code": {"coding": codings, "text": text}}
            for n, (codings, text) in enumerate(orders, start=1)]
