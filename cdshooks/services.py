"""The three CDS services, as data: what discovery advertises and which hook each answers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cdshooks.fhir.prefetch import PREFETCH, PrefetchKey


@dataclass(frozen=True)
class ServiceDefinition:
    id: str
    hook: str
    title: str
    description: str
    usage_requirements: str
    prefetch: Mapping[str, PrefetchKey]

    def discovery(self) -> dict[str, Any]:
        return {
            "hook": self.hook,
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "usageRequirements": self.usage_requirements,
            "prefetch": {key: spec.template for key, spec in self.prefetch.items()},
        }


_ORDER_USAGE = (
    "Send imaging ServiceRequests (CPT, LOINC or SNOMED coded; text-only accepted) and bone-modifying agent "
    "MedicationRequests in draftOrders. Prefetch all keys, or provide fhirServer (and fhirAuthorization) so "
    "the service can fetch what is missing."
)

SERVICES: tuple[ServiceDefinition, ...] = (
    ServiceDefinition(
        id="bone-mets-imaging-order-select",
        hook="order-select",
        title="Bone metastasis imaging: order appropriateness",
        description=(
            "Checks a newly selected imaging order for a patient with breast cancer against the ACR "
            "Appropriateness Criteria scenario for suspected metastases, offers the better order, and rates "
            "the order (Argonaut PAMA extensions) through systemActions."
        ),
        usage_requirements=_ORDER_USAGE,
        prefetch=PREFETCH,
    ),
    ServiceDefinition(
        id="bone-mets-imaging-order-sign",
        hook="order-sign",
        title="Bone metastasis imaging: order check at signing",
        description=(
            "The same appropriateness check as the order-select service, run on the orders being signed, "
            "with the rating written back through systemActions."
        ),
        usage_requirements=_ORDER_USAGE,
        prefetch=PREFETCH,
    ),
    ServiceDefinition(
        id="bone-mets-imaging-patient-view",
        hook="patient-view",
        title="Bone metastasis imaging: result review",
        description=(
            "Reads imaging studies, reports, labs and therapy of a patient with breast cancer and flags what "
            "is easily missed: CT-positive/bone-scan-negative discordance, false-negative bone scans after "
            "chemotherapy, flare, and bone metastases without a bone-modifying agent."
        ),
        usage_requirements="Prefetch all keys, or provide fhirServer (and fhirAuthorization).",
        prefetch=PREFETCH,
    ),
)

BY_ID: dict[str, ServiceDefinition] = {s.id: s for s in SERVICES}
BY_HOOK: dict[str, ServiceDefinition] = {s.hook: s for s in SERVICES}


def discovery_document(version: str = "") -> dict[str, Any]:
    """The discovery body; `version` (CDS Hooks 3.0 `services[].version`) is added to every entry when given."""
    return {"services": [s.discovery() | ({"version": version} if version else {}) for s in SERVICES]}
