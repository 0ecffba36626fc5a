"""Rating write-back: one `update` system action per rated draft ServiceRequest (Argonaut PAMA).

The action carries the draft exactly as received except for the Argonaut rating extensions (earlier
ratings on it are replaced): `pama-rating` (appropriate | not-appropriate | no-criteria-apply),
`pama-rating-qcdsm-consulted` (the decision support mechanism, CDSHOOKS_PAMA_QCDSM_ID),
`pama-rating-consult-id` (one fresh urn:uuid per call) and `pama-rating-auc-applied` (the criteria applied),
plus the consultation's own extensions beside the consult id (the knowledge version, cdshooks.governance).
Source: Argonaut "CDS Hooks for PAMA" guide (extension table; scenario 01 rating and 02 suggestion examples).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cdshooks.catalog.phrases import PhraseBook
from cdshooks.clinical.findings import Rating
from cdshooks.fhir.record import copy_json
from cdshooks.protocol.response import Action

ARGONAUT = "http://fhir.org/argonaut"
RATING_URL = f"{ARGONAUT}/Extension/pama-rating"
QCDSM_URL = f"{ARGONAUT}/Extension/pama-rating-qcdsm-consulted"
CONSULT_URL = f"{ARGONAUT}/Extension/pama-rating-consult-id"
AUC_URL = f"{ARGONAUT}/Extension/pama-rating-auc-applied"
RATING_SYSTEM = f"{ARGONAUT}/CodeSystem/pama-rating"
RATINGS = {"appropriate": "Appropriate", "not-appropriate": "Not appropriate",
           "no-criteria-apply": "No criteria apply"}
AUC_APPLIED = "https://acsearch.acr.org/list"  # ACR Appropriateness Criteria
# written by this service with every rating (replaced, like the Argonaut ones, when an order is rated again)
KNOWLEDGE_URL = "https://bonemets-cds.org/fhir/StructureDefinition/knowledge-version"


@dataclass(frozen=True)
class Consult:
    """One decision support consultation: the mechanism consulted and the id every rating of the call shares."""

    qcdsm: str
    id: str = field(default_factory=lambda: f"urn:uuid:{uuid.uuid4()}")
    extra: tuple[Mapping[str, Any], ...] = ()  # FHIR extensions written with every rating, beside the consult id


def unrated(resource: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the resource without earlier Argonaut rating extensions.

    Only the top level is new: every caller (here and `cdshooks.catalog.render`) replaces top-level members and never
    changes a nested object, and an action's JSON is a pruned copy (`Action.to_json`) — so the nested objects are
    shared with the draft, not copied a first time only to be copied again for the response."""
    updated: dict[str, Any] = dict(resource)
    kept = [e for e in updated.get("extension", []) if not (isinstance(e, dict) and _rating_url(e.get("url")))]
    if kept:
        updated["extension"] = kept
    else:
        updated.pop("extension", None)
    return updated


def _rating_url(url: Any) -> bool:
    return isinstance(url, str) and (url.startswith(f"{ARGONAUT}/Extension/pama-rating") or url == KNOWLEDGE_URL)


def rated(resource: Mapping[str, Any], rating: str, consult: Consult, auc: str = AUC_APPLIED) -> dict[str, Any]:
    if rating not in RATINGS:
        raise ValueError(f"unknown rating {rating!r}")
    updated = unrated(resource)
    updated["extension"] = [*updated.get("extension", []),
        {"url": RATING_URL, "valueCodeableConcept": {"coding": [
            {"system": RATING_SYSTEM, "code": rating, "display": RATINGS[rating]}]}},
        {"url": QCDSM_URL, "valueString": consult.qcdsm},
        {"url": CONSULT_URL, "valueUri": consult.id},
        {"url": AUC_URL, "valueUri": auc},
        *(copy_json(dict(e)) for e in consult.extra),
    ]
    return updated


def rating_action(item: Rating, consult: Consult, phrases: PhraseBook) -> Action | None:
    """The `update` action writing the rating on its draft (None: the draft is not an identified ServiceRequest);
    its description in the phrase book's words (`actions.rate`)."""
    draft = item.resource
    if draft is None or draft.get("resourceType") != "ServiceRequest" or not draft.get("id"):
        return None
    description = phrases.action("rate", rating=RATINGS[item.rating], draft=item.order_id)
    return Action("update", description, resource=rated(draft, item.rating, consult))
