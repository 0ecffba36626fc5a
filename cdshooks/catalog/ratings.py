"""Rating write-back: one `update` system action per rated draft ServiceRequest (Argonaut PAMA).

The action carries the draft exactly as received except for the Argonaut rating extensions (earlier
ratings on it are replaced): `pama-rating` (appropriate | not-appropriate | no-criteria-apply),
`pama-rating-consult-id` (a fresh urn:uuid per call) and `pama-rating-auc-applied` (the criteria applied).
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from cdshooks.clinical.findings import Evaluation
from cdshooks.fhir.record import Record
from cdshooks.protocol.response import Action

ARGONAUT = "http://fhir.org/argonaut"
RATING_URL = f"{ARGONAUT}/Extension/pama-rating"
CONSULT_URL = f"{ARGONAUT}/Extension/pama-rating-consult-id"
AUC_URL = f"{ARGONAUT}/Extension/pama-rating-auc-applied"
RATING_SYSTEM = f"{ARGONAUT}/CodeSystem/pama-rating"
RATINGS = {"appropriate": "Appropriate", "not-appropriate": "Not appropriate",
           "no-criteria-apply": "No criteria apply"}
AUC_APPLIED = "https://acsearch.acr.org/list"  # ACR Appropriateness Criteria


def rated(resource: dict[str, Any], rating: str, consult_id: str, auc: str = AUC_APPLIED) -> dict[str, Any]:
    if rating not in RATINGS:
        raise ValueError(f"unknown rating {rating!r}")
    updated = copy.deepcopy(resource)
    kept = [e for e in updated.get("extension", []) if not (isinstance(e, dict) and str(e.get("url", ""))
                                                             .startswith(f"{ARGONAUT}/Extension/pama-rating"))]
    updated["extension"] = [*kept,
        {"url": RATING_URL, "valueCodeableConcept": {"coding": [
            {"system": RATING_SYSTEM, "code": rating, "display": RATINGS[rating]}]}},
        {"url": CONSULT_URL, "valueUri": consult_id},
        {"url": AUC_URL, "valueUri": auc},
    ]
    return updated


def rating_actions(evaluation: Evaluation, record: Record) -> list[Action]:
    consult_id = f"urn:uuid:{uuid.uuid4()}"
    actions = []
    for item in evaluation.ratings:
        draft = record.resolve(item.order_id)
        if draft is None or draft.get("resourceType") != "ServiceRequest" or not draft.get("id"):
            continue
        actions.append(Action(
            "update",
            f"Record the appropriateness rating '{RATINGS[item.rating]}' on {item.order_id}",
            resource=rated(draft, item.rating, consult_id),
        ))
    return actions
