"""Facts from medications and procedures: systemic therapy and bone-modifying agents per ingredient (start,
doses, ongoing), calcium / vitamin D, breast surgery, biopsies, dental evaluation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cdshooks.clinical.extract.common import Resource, as_dict, as_list, first_date, ref, status, verified
from cdshooks.clinical.facts import Therapy
from cdshooks.clinical.knowledge import Knowledge, Medication
from cdshooks.fhir.codes import concept_text, quantity_value

NOT_GIVEN = {"not-done", "entered-in-error", "cancelled", "stopped-before-start", "not-taken", "unknown", "draft",
             "revoked"}
DONE_PROCEDURE = {"completed", "in-progress"}
_BIOPSY = re.compile(r"biops", re.IGNORECASE)

Resolver = Callable[[str | None], Resource | None]


@dataclass
class _Exposure:
    medication: Medication
    starts: list[datetime] = field(default_factory=list)
    ends: list[datetime] = field(default_factory=list)  # past end dates of orders / statements
    administered: list[datetime] = field(default_factory=list)
    ongoing: bool = False
    osteoporosis: bool | None = None
    sources: list[str] = field(default_factory=list)


@dataclass
class MedicationFacts:
    therapies: list[Therapy] = field(default_factory=list)
    calcium_vitamin_d: bool = False
    surgeries: list[datetime] = field(default_factory=list)
    biopsies: list[datetime] = field(default_factory=list)
    dental_evaluation: bool = False


def medication_concept(resource: Resource, resolve: Resolver) -> Any:
    concept = resource.get("medicationCodeableConcept")
    if isinstance(concept, dict):
        return concept
    reference = resource.get("medicationReference")
    medication = resolve(reference.get("reference")) if isinstance(reference, dict) else None
    if isinstance(medication, dict) and isinstance(medication.get("code"), dict):
        return medication["code"]
    if isinstance(reference, dict) and isinstance(reference.get("display"), str):
        return {"text": reference["display"]}
    return None


def _dose_mg(resource: Resource) -> float | None:
    """The dose in mg from dosage / dosageInstruction, when stated in mg."""
    for dosage in as_list(resource.get("dosageInstruction")) + as_list(resource.get("dosage")):
        if not isinstance(dosage, dict):
            continue
        quantities = [dosage.get("dose")] + [d.get("doseQuantity") for d in as_list(dosage.get("doseAndRate"))
                                             if isinstance(d, dict)]
        for quantity in quantities:
            if isinstance(quantity, dict) and str(quantity.get("unit") or quantity.get("code") or "").lower() == "mg":
                return quantity_value(quantity)
    return None


def _osteoporosis_dose(medication: Medication, resource: Resource, concept: Any) -> bool | None:
    if medication.ingredient != "denosumab":
        return None
    dose = _dose_mg(resource)
    if dose is not None:
        return dose <= 60
    text = concept_text(concept).lower()
    if re.search(r"\b120\s*mg|xgeva", text):
        return False
    return True if medication.osteoporosis_dose else None


def _dates(resource: Resource) -> tuple[datetime | None, datetime | None]:
    """(start, end) of a MedicationRequest / MedicationStatement."""
    start = end = None
    for dosage in as_list(resource.get("dosageInstruction")):
        bounds = as_dict(as_dict(as_dict(as_dict(dosage).get("timing")).get("repeat")).get("boundsPeriod"))
        if bounds:
            start = start or first_date(bounds, "start")
            end = end or first_date(bounds, "end")
    start = start or first_date(resource, "effectivePeriod.start", "effectiveDateTime", "authoredOn", "dateAsserted")
    end = end or first_date(resource, "effectivePeriod.end", "dispenseRequest.validityPeriod.end")
    return start, end


def extract_medications(kb: Knowledge, record_of: Callable[[str], tuple[Resource, ...]], resolve: Resolver,
                        now: datetime, active_days: float) -> MedicationFacts:
    out = MedicationFacts()
    exposures: dict[str, _Exposure] = {}
    supplements = kb.valueset("VS_CALCIUM_VITAMIN_D_SUPPLEMENT")
    for rtype in ("MedicationAdministration", "MedicationRequest", "MedicationStatement"):
        for resource in record_of(rtype):
            if not verified(resource) or status(resource) in NOT_GIVEN:
                continue
            concept = medication_concept(resource, resolve)
            if concept is None:
                continue
            if supplements.matches(concept):
                out.calcium_vitamin_d = True
                continue
            medication = kb.medication(concept)
            if medication is None:
                continue
            exposure = exposures.setdefault(medication.ingredient, _Exposure(medication))
            exposure.sources.append(ref(resource))
            dose = _osteoporosis_dose(medication, resource, concept)
            if dose is not None:
                exposure.osteoporosis = dose if exposure.osteoporosis is None else exposure.osteoporosis and dose
            if rtype == "MedicationAdministration":
                when = first_date(resource, "effectiveDateTime", "effectivePeriod.start")
                if when is not None:
                    exposure.administered.append(when)
                    exposure.ongoing |= timedelta(0) <= now - when <= timedelta(days=active_days)
                continue
            start, end = _dates(resource)
            if start is not None:
                exposure.starts.append(start)
            if end is not None and end <= now and (start is None or start <= end):
                exposure.ends.append(end)
            exposure.ongoing |= status(resource) == "active" and (end is None or end >= now) and (
                start is None or start <= now)
    for exposure in exposures.values():
        out.therapies.append(_therapy(exposure))
    _procedures(kb, record_of("Procedure"), out)
    return out


def _therapy(exposure: _Exposure) -> Therapy:
    administered = sorted(exposure.administered)
    doses = tuple(administered or sorted(exposure.starts))
    known = administered + exposure.starts
    # without administrations, the latest known date of use is the later of the last start and a past end date
    used = administered or sorted(exposure.starts + exposure.ends)
    return Therapy(
        agent=exposure.medication.ingredient,
        drug_class=exposure.medication.drug_class,
        start=min(known) if known else None,
        last_dose=used[-1] if used else None,
        ongoing=exposure.ongoing,
        osteoporosis_dose=bool(exposure.osteoporosis),
        administered=bool(administered),
        doses=doses,
        sources=tuple(exposure.sources),
    )


def _procedures(kb: Knowledge, procedures: tuple[Resource, ...], out: MedicationFacts) -> None:
    for procedure in procedures:
        if not verified(procedure) or status(procedure) not in DONE_PROCEDURE:
            continue
        code = procedure.get("code")
        when = first_date(procedure, "performedDateTime", "performedPeriod.start", "performedPeriod.end")
        if kb.valueset("VS_DENTAL_EVALUATION").matches(code):
            out.dental_evaluation = True
        elif kb.valueset("VS_BREAST_SURGERY").matches(code):
            if when is not None:
                out.surgeries.append(when)
        elif _BIOPSY.search(concept_text(code)) and when is not None:
            out.biopsies.append(when)
