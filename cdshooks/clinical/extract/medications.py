"""Facts from medications and procedures: systemic therapy and bone-modifying agents per ingredient (start,
doses, ongoing), calcium / vitamin D, breast surgery, biopsies, dental evaluation.

Exposure is read as it happens (issue 9 item 6): for an agent taken every day or as a depot (medications.yaml
`exposure: continuous`: capecitabine, CDK4/6 inhibitors, endocrine therapy, HER2 kinase inhibitors) an order or
statement without administrations is a period of use from its start to its end — an active one up to `now` — not one
dose on its order date. Orders of the same ingredient are one exposure and touching periods merge, so a dose change is
not a new therapy line. `medicationReference` is resolved to a contained or referenced
Medication (its code, else its ingredients). Chemotherapy recorded only as a Procedure counts as chemotherapy given on
the procedure's date.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cdshooks.clinical.extract.common import (
    EXCLUDED_VERIFICATION,
    Resource,
    as_dict,
    as_list,
    first_date,
    has_status,
    medication_of,
    ref,
    status,
    verified,
)
from cdshooks.clinical.facts import Therapy
from cdshooks.clinical.knowledge import Knowledge, Medication
from cdshooks.fhir.codes import ConceptProfile, profile, quantity_value

NOT_GIVEN = {"not-done", "entered-in-error", "cancelled", "stopped-before-start", "not-taken", "unknown", "draft",
             "revoked"}
DONE_PROCEDURE = {"completed", "in-progress"}
_BIOPSY = re.compile(r"biops", re.IGNORECASE)
# chemotherapy recorded only as a Procedure: one exposure under this agent name ("the last dose of chemotherapy")
PROCEDURE_CHEMOTHERAPY = Medication(ingredient="chemotherapy", drug_class="chemotherapy")
# a continuous period is also listed in Therapy.doses once a week, so that gaps between doses mean real breaks
_PERIOD_SAMPLE = timedelta(days=7)

Resolver = Callable[[str | None], Resource | None]


@dataclass
class _Exposure:
    medication: Medication
    starts: list[datetime] = field(default_factory=list)
    ends: list[datetime] = field(default_factory=list)  # past end dates of orders / statements
    administered: list[datetime] = field(default_factory=list)
    continuous: bool = False  # an agent taken every day / as a depot (medications.yaml `exposure`)
    periods: list[tuple[datetime, datetime]] = field(default_factory=list)  # continuous use per order / statement
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


def _contained(resource: Resource, reference: str) -> Resource | None:
    """A contained resource named by a local reference ("#med1")."""
    wanted = reference[1:]
    for item in as_list(resource.get("contained")):
        if isinstance(item, dict) and item.get("id") == wanted:
            return item
    return None


def _medication_resource_concept(medication: Resource) -> dict[str, Any] | None:
    """A Medication's code, with the codes and names of its ingredients (a Medication coded only by its
    ingredients, or by a local product code, is still recognised)."""
    code = as_dict(medication.get("code"))
    codings = [c for c in as_list(code.get("coding")) if isinstance(c, dict)]
    texts = [code["text"]] if isinstance(code.get("text"), str) and code["text"].strip() else []
    for ingredient in as_list(medication.get("ingredient")):
        item = as_dict(as_dict(ingredient).get("itemCodeableConcept"))
        codings.extend(c for c in as_list(item.get("coding")) if isinstance(c, dict))
        if isinstance(item.get("text"), str) and item["text"].strip():
            texts.append(item["text"])
    if not codings and not texts:
        return None
    concept: dict[str, Any] = {"coding": codings}
    if texts:
        concept["text"] = " / ".join(texts)
    return concept


def medication_concept(resource: Resource, resolve: Resolver) -> Any:
    """The medication of a MedicationRequest / Administration / Statement: medicationCodeableConcept, else the
    Medication it references (contained "#id" or `Medication/id` in the record), else the reference's display."""
    concept = resource.get("medicationCodeableConcept")
    if isinstance(concept, dict):
        return concept
    reference = as_dict(resource.get("medicationReference"))
    target = reference.get("reference")
    medication: Resource | None = None
    if isinstance(target, str) and target.startswith("#"):
        medication = _contained(resource, target)
    elif isinstance(target, str):
        medication = resolve(target)
    if isinstance(medication, dict):
        found = _medication_resource_concept(medication)
        if found is not None:
            return found
    if isinstance(reference.get("display"), str) and reference["display"].strip():
        return {"text": reference["display"]}
    return None


def _dose_mg(resource: Resource) -> float | None:
    """The dose in mg from dosage / dosageInstruction, when stated in mg."""
    for element in ("dosageInstruction", "dosage"):
        for dosage in as_list(resource.get(element)):
            if not isinstance(dosage, dict):
                continue
            quantity = dosage.get("dose")  # then each doseAndRate's doseQuantity, in order
            if isinstance(quantity, dict) and str(quantity.get("unit") or quantity.get("code") or "").lower() == "mg":
                return quantity_value(quantity)
            rates = dosage.get("doseAndRate")
            if rates is None:
                continue
            for rate in as_list(rates):
                quantity = rate.get("doseQuantity") if isinstance(rate, dict) else None
                if isinstance(quantity, dict) and str(quantity.get("unit") or quantity.get("code") or "").lower() \
                        == "mg":
                    return quantity_value(quantity)
    return None


def osteoporosis_dose(kb: Knowledge, medication: Medication, resource: Resource, concept: Any) -> bool | None:
    """Osteoporosis regimen (True), oncology regimen (False) or unknown (None) of a bone-modifying agent.

    Decided only by the dose patterns of medications.yaml (Knowledge.osteoporosis_dose): a structured dose in mg is
    rendered as "<n> mg" and read by the same patterns as the medication text."""
    dose = _dose_mg(resource)
    if dose is not None:
        found = _regimen(kb, medication.ingredient, f"{dose:g} mg")
        if found is not None:
            return found
    found = _regimen(kb, medication.ingredient, profile(concept).text)
    if found is not None:
        return found
    return True if medication.osteoporosis_dose else None


REGIMEN_CACHE_SIZE = 4096
_REGIMENS: dict[tuple[Knowledge, str, str], bool | None] = {}


def _regimen(kb: Knowledge, ingredient: str, text: str) -> bool | None:
    """`kb.osteoporosis_dose(ingredient, text)`, once per process for each (ingredient, text)."""
    key = (kb, ingredient, text)
    try:
        return _REGIMENS[key]
    except KeyError:
        pass
    found = _REGIMENS[key] = kb.osteoporosis_dose(ingredient, text)
    if len(_REGIMENS) > REGIMEN_CACHE_SIZE:
        _REGIMENS.clear()
    return found


def _dates(resource: Resource) -> tuple[datetime | None, datetime | None]:
    """(start, end) of a MedicationRequest / MedicationStatement."""
    start = end = None
    for dosage in as_list(resource.get("dosageInstruction")):
        bounds = _bounds_period(dosage)
        if bounds:
            start = start or first_date(bounds, "start")
            end = end or first_date(bounds, "end")
    start = start or first_date(resource, "effectivePeriod.start", "effectiveDateTime", "authoredOn", "dateAsserted")
    end = end or first_date(resource, "effectivePeriod.end", "dispenseRequest.validityPeriod.end")
    return start, end


def _bounds_period(dosage: Any) -> dict[str, Any]:
    """Dosage.timing.repeat.boundsPeriod, or an empty dict when any step is missing or odd."""
    timing = dosage.get("timing") if isinstance(dosage, dict) else None
    repeat = timing.get("repeat") if isinstance(timing, dict) else None
    bounds = repeat.get("boundsPeriod") if isinstance(repeat, dict) else None
    return bounds if isinstance(bounds, dict) else {}


def extract_medications(kb: Knowledge, record_of: Callable[[str], tuple[Resource, ...]], resolve: Resolver,
                        now: datetime, active_days: float) -> MedicationFacts:
    out = MedicationFacts()
    exposures: dict[str, _Exposure] = {}
    use_key = (kb, "medication-use")
    active = timedelta(days=active_days)
    for rtype in ("MedicationAdministration", "MedicationRequest", "MedicationStatement"):
        for resource in record_of(rtype):
            # `verified` and `status(...) in NOT_GIVEN` (which holds entered-in-error), read once
            verification = resource.get("verificationStatus")
            if verification is not None and has_status(verification, EXCLUDED_VERIFICATION):
                continue
            state = resource.get("status")
            if isinstance(state, str) and state in NOT_GIVEN:
                continue
            raw = medication_concept(resource, resolve)
            if raw is None:
                continue
            concept = profile(raw)  # read once for every question below
            try:
                medication = concept.memo[use_key]
            except KeyError:
                medication = concept.memo[use_key] = _medication_use(kb, concept)
            if medication is SUPPLEMENT:
                out.calcium_vitamin_d = True
                continue
            if medication is None:
                continue
            exposure = exposures.get(medication.ingredient)
            if exposure is None:
                exposure = exposures[medication.ingredient] = _Exposure(
                    medication, continuous=kb.continuous_exposure(medication.ingredient))
            exposure.sources.append(ref(resource))
            dose = osteoporosis_dose(kb, medication, resource, concept)
            if dose is not None:
                exposure.osteoporosis = dose if exposure.osteoporosis is None else exposure.osteoporosis and dose
            if rtype == "MedicationAdministration":
                when = first_date(resource, "effectiveDateTime", "effectivePeriod.start")
                if when is not None:
                    exposure.administered.append(when)
                    exposure.ongoing |= timedelta(0) <= now - when <= active
                continue
            _add_order_exposure(exposure, resource, now)
    for exposure in exposures.values():
        out.therapies.append(_therapy(exposure))
    _procedures(kb, record_of("Procedure"), out, exposures, now, active_days)
    return out


SUPPLEMENT = Medication(ingredient="calcium / vitamin D", drug_class="supplement")
"""What `_medication_use` answers for a calcium / vitamin D supplement (never a therapy: compared by identity)."""


def _medication_use(kb: Knowledge, concept: ConceptProfile) -> Medication | None:
    """`SUPPLEMENT` for a calcium / vitamin D supplement (asked first), else the agent (`medication_of`), else None:
    the two questions `extract_medications` asks of every medication concept, answered once per distinct concept."""
    if kb.valueset("VS_CALCIUM_VITAMIN_D_SUPPLEMENT").matches(concept):
        return SUPPLEMENT
    return medication_of(kb, concept)


def _add_order_exposure(exposure: _Exposure, resource: Resource, now: datetime) -> None:
    """An order or statement as a period of use: from its start to its end date, an active one (not ended) up to
    `now`; one without an end that is no longer active is a single day of use (its start)."""
    start, end = _dates(resource)
    if start is None:
        if status(resource) == "active" and (end is None or end >= now):
            exposure.ongoing = True
        return
    exposure.starts.append(start)
    if end is not None and end < start:
        end = None  # an end before the start is an entry error
    if end is not None and end <= now:
        exposure.ends.append(end)
    active = status(resource) == "active" and (end is None or end >= now)
    if start > now:
        return  # planned, not yet taken
    if active:
        exposure.ongoing = True
        exposure.periods.append((start, now))
    elif end is not None:
        exposure.periods.append((start, min(end, now)))
    else:
        exposure.periods.append((start, start))


def _merged(periods: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Overlapping or touching periods (a dose change: one order ends, the next starts) as one."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(periods):
        if merged and start <= merged[-1][1] + timedelta(days=1):
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _sampled(periods: list[tuple[datetime, datetime]]) -> list[datetime]:
    """Dates of use of continuous periods: each start, then once a week, and the end."""
    dates: list[datetime] = []
    for start, end in periods:
        moment = start
        while moment < end:
            dates.append(moment)
            moment += _PERIOD_SAMPLE
        dates.append(end)
    return dates


def _therapy(exposure: _Exposure) -> Therapy:
    administered = sorted(exposure.administered)
    known = administered + exposure.starts
    periods: list[tuple[datetime, datetime]] = []
    if administered:  # administrations are the record of use when there are any
        doses, used = administered, administered
    elif exposure.continuous:  # taken every day: the orders' and statements' periods of use
        periods = _merged(exposure.periods)
        doses = used = _sampled(periods)  # ascending and distinct: merged periods are ordered and a day apart
    else:  # given in doses (IV cycles): the order dates; the latest known use is a past end date at most
        doses = sorted(exposure.starts)
        used = sorted(exposure.starts + exposure.ends)
    return Therapy(
        agent=exposure.medication.ingredient,
        drug_class=exposure.medication.drug_class,
        start=min(known) if known else None,
        last_dose=used[-1] if used else None,
        ongoing=exposure.ongoing,
        osteoporosis_dose=bool(exposure.osteoporosis),
        administered=bool(administered),
        doses=tuple(doses),
        sources=tuple(exposure.sources),
        periods=tuple(p for p in periods if p[1] > p[0]),
    )


def _procedures(kb: Knowledge, procedures: tuple[Resource, ...], out: MedicationFacts,
                exposures: dict[str, _Exposure], now: datetime, active_days: float) -> None:
    chemotherapy = _Exposure(PROCEDURE_CHEMOTHERAPY)
    key = (kb, "procedure-kind")
    for procedure in procedures:
        if not verified(procedure) or status(procedure) not in DONE_PROCEDURE:
            continue
        code = profile(procedure.get("code"))  # read once, classified once per distinct code
        when = first_date(procedure, "performedDateTime", "performedPeriod.start", "performedPeriod.end")
        try:
            kind = code.memo[key]
        except KeyError:
            kind = code.memo[key] = _procedure_kind(kb, code)
        if kind == "dental":
            out.dental_evaluation = True
        elif kind == "surgery":
            if when is not None:
                out.surgeries.append(when)
        elif kind == "chemotherapy":
            if when is not None and when <= now:
                chemotherapy.administered.append(when)
                chemotherapy.sources.append(ref(procedure))
                chemotherapy.ongoing |= now - when <= timedelta(days=active_days)
        elif kind == "biopsy" and when is not None:
            out.biopsies.append(when)
    if chemotherapy.administered and not _documented_elsewhere(chemotherapy, exposures):
        out.therapies.append(_therapy(chemotherapy))


def _procedure_kind(kb: Knowledge, code: ConceptProfile) -> str | None:
    """What a Procedure code is, asked in the order `_procedures` acts on it: dental | surgery | chemotherapy |
    biopsy (a "biops" text) | None."""
    if kb.valueset("VS_DENTAL_EVALUATION").matches(code):
        return "dental"
    if kb.valueset("VS_BREAST_SURGERY").matches(code):
        return "surgery"
    if kb.valueset("VS_CHEMO_ADMINISTRATION").matches(code):
        return "chemotherapy"
    return "biopsy" if _BIOPSY.search(code.text) else None


def _documented_elsewhere(procedure: _Exposure, exposures: dict[str, _Exposure]) -> bool:
    """The chemotherapy procedures only repeat administrations already on record (same days): not a second agent."""
    given = {d.date() for e in exposures.values() if e.medication.drug_class == "chemotherapy"
             for d in e.administered}
    return all(d.date() in given for d in procedure.administered)
