"""What every card and every rating carries besides the advice itself.

Card `extension` (CDS Hooks: named properties under reverse-domain keys):
- `org.bonemets-cds.knowledge`: `{"version": "1.0.0", "hash": "<sha256 hex>"}`, the knowledge that produced it;
- `org.bonemets-cds.associated-resource`: the drafted orders the card is about, as FHIR References
  (`[{"reference": "ServiceRequest/123"}]`), the shape of the Da Vinci CRD `davinci-crd.associated-resource`
  card extension (0..* Reference to the request resources that drove the card) under this service's own key, so
  an EHR can show the advice next to the right order line.

Ratings (the Argonaut rated ServiceRequest, in systemActions and in update suggestions) carry the same version as
a FHIR extension beside `pama-rating-consult-id`: `KNOWLEDGE_URL` with `version` and `hash` sub-extensions.
"""

from __future__ import annotations

from typing import Any

from cdshooks.catalog.ratings import KNOWLEDGE_URL
from cdshooks.clinical.findings import Finding
from cdshooks.governance.knowledge_version import KnowledgeVersion

KNOWLEDGE_KEY = "org.bonemets-cds.knowledge"
ASSOCIATED_KEY = "org.bonemets-cds.associated-resource"
__all__ = ["ASSOCIATED_KEY", "KNOWLEDGE_KEY", "KNOWLEDGE_URL", "associated_resources", "card_extension",
           "knowledge_fhir_extension"]


def associated_resources(finding: Finding) -> list[dict[str, str]]:
    """References to the drafted orders the finding is about (none for result-review findings)."""
    return [{"reference": ref} for ref in dict.fromkeys(finding.order_ids) if ref]


def card_extension(version: KnowledgeVersion, finding: Finding) -> dict[str, Any]:
    extension: dict[str, Any] = {KNOWLEDGE_KEY: version.to_json()}
    orders = associated_resources(finding)
    if orders:
        extension[ASSOCIATED_KEY] = orders
    return extension


def knowledge_fhir_extension(version: KnowledgeVersion) -> dict[str, Any]:
    """The FHIR extension written on every rated order: which knowledge rated it."""
    return {"url": KNOWLEDGE_URL, "extension": [{"url": "version", "valueString": version.version},
                                                {"url": "hash", "valueString": version.hash}]}
