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
from itertools import accumulate, repeat
from operator import add
from typing import Any, NamedTuple

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
_DAY = timedelta(days=1)

Resolver = Callable[[str | None], Resource | None]


class _Exposure:
    """One ingredient's exposure, gathered from its administrations, orders and statements (then one `Therapy`).
    A plain slotted class: seven are made per call, and a dataclass `__init__` with list factories costs more."""

    __slots__ = ("administered", "continuous", "ends", "medication", "ongoing", "osteoporosis", "periods", "sources",
                 "starts")

    def __init__(self, medication: Medication, continuous: bool = False) -> None:
        self.medication = medication
        self.starts: list[datetime] = []
        self.ends: list[datetime] = []  # past end dates of orders / statements
        self.administered: list[datetime] = []
        self.continuous = continuous  # an agent taken every day / as a depot (medications.yaml `exposure`)
        self.periods: list[tuple[datetime, datetime]] = []  # continuous use per order / statement
        self.ongoing = False
        self.osteoporosis: bool | None = None
        self.sources: list[str] = []


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
    found = _dose_regimen(kb, medication, resource)
    return found if found is not None else _text_regimen(kb, medication, concept)


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
    dosages = resource.get("dosageInstruction")
    if dosages is not None:
        for dosage in as_list(dosages):
            bounds = _bounds_period(dosage) if isinstance(dosage, dict) and "timing" in dosage else None
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
    use_key = (kb, USE_MEMO)
    active = timedelta(days=active_days)
    zero = timedelta(0)
    for rtype in ("MedicationAdministration", "MedicationRequest", "MedicationStatement"):
        administration = rtype == "MedicationAdministration"
        for resource in record_of(rtype):
            # `verified` and `status(...) in NOT_GIVEN` (which holds entered-in-error), read once
            verification = resource.get("verificationStatus")
            if verification is not None and has_status(verification, EXCLUDED_VERIFICATION):
                continue
            state = resource.get("status")
            if isinstance(state, str):
                if state in NOT_GIVEN:
                    continue
            else:
                state = None  # as `status()` reads it
            raw = resource.get("medicationCodeableConcept")
            if not isinstance(raw, dict):  # `medication_concept` reads the dict itself first
                raw = medication_concept(resource, resolve)
                if raw is None:
                    continue
            concept = profile(raw)  # read once for every question below
            try:
                use = concept.memo[use_key]
            except KeyError:
                use = concept.memo[use_key] = _medication_use(kb, concept)
            medication = use.medication
            if medication is SUPPLEMENT:
                out.calcium_vitamin_d = True
                continue
            if medication is None:
                continue
            exposure = exposures.get(medication.ingredient)
            if exposure is None:
                exposure = exposures[medication.ingredient] = _Exposure(medication, use.continuous)
            exposure.sources.append(ref(resource))
            dose = _dose_regimen(kb, medication, resource) if use.reads_dose else None
            if dose is None:
                dose = use.regimen
            if dose is not None:
                exposure.osteoporosis = dose if exposure.osteoporosis is None else exposure.osteoporosis and dose
            if administration:
                when = first_date(resource, "effectiveDateTime", "effectivePeriod.start")
                if when is not None:
                    exposure.administered.append(when)
                    exposure.ongoing |= zero <= now - when <= active
                continue
            _add_order_exposure(exposure, resource, now, state)
    for exposure in exposures.values():
        out.therapies.append(_therapy(exposure))
    _procedures(kb, record_of("Procedure"), out, exposures, now, active_days)
    return out


SUPPLEMENT = Medication(ingredient="calcium / vitamin D", drug_class="supplement")
"""What `_medication_use` answers for a calcium / vitamin D supplement (never a therapy: compared by identity)."""


USE_MEMO = "medication-use+regimen"
"""The key (with the Knowledge) of `_medication_use`'s answer in a concept profile's memo."""


class _Use(NamedTuple):
    """What `extract_medications` asks of every medication concept, answered once per distinct concept."""

    medication: Medication | None  # `SUPPLEMENT`, the agent (`medication_of`), or None
    regimen: bool | None  # `osteoporosis_dose` from the concept alone (its text, else its code's flag)
    reads_dose: bool  # whether a structured dose in mg can decide the regimen first (see `_reads_dose`)
    continuous: bool  # `kb.continuous_exposure` of the agent


def _medication_use(kb: Knowledge, concept: ConceptProfile) -> _Use:
    """`SUPPLEMENT` for a calcium / vitamin D supplement (asked first), else the agent (`medication_of`), else None;
    for an agent, the regimen its text tells and whether a resource's dose must be read first."""
    if kb.valueset("VS_CALCIUM_VITAMIN_D_SUPPLEMENT").matches(concept):
        return _Use(SUPPLEMENT, None, False, False)
    medication = medication_of(kb, concept)
    if medication is None:
        return _Use(None, None, False, False)
    return _Use(medication, _text_regimen(kb, medication, concept), _reads_dose(kb, medication.ingredient),
                kb.continuous_exposure(medication.ingredient))


def _text_regimen(kb: Knowledge, medication: Medication, concept: Any) -> bool | None:
    """The second half of `osteoporosis_dose`: what the concept's text tells, else the code's flag."""
    found = _regimen(kb, medication.ingredient, profile(concept).text)
    if found is not None:
        return found
    return True if medication.osteoporosis_dose else None


def _dose_regimen(kb: Knowledge, medication: Medication, resource: Resource) -> bool | None:
    """The first half of `osteoporosis_dose`: what the resource's structured dose in mg tells (None: nothing)."""
    dose = _dose_mg(resource)
    return None if dose is None else _regimen(kb, medication.ingredient, f"{dose:g} mg")


def _reads_dose(kb: Knowledge, ingredient: str) -> bool:
    """Whether a dose can tell the regimen of `ingredient`: `kb.osteoporosis_dose` answers None for every text of
    an ingredient without dose patterns (medications.yaml: only the bone-modifying agents have them), so for the
    others `_dose_mg` (about a third of the extraction's work) need not be read."""
    return kb.has_dose_patterns(ingredient)


def _add_order_exposure(exposure: _Exposure, resource: Resource, now: datetime, state: str | None) -> None:
    """An order or statement as a period of use: from its start to its end date, an active one (not ended) up to
    `now`; one without an end that is no longer active is a single day of use (its start). `state` is
    `status(resource)`, read by the caller."""
    start, end = _dates(resource)
    if start is None:
        if state == "active" and (end is None or end >= now):
            exposure.ongoing = True
        return
    exposure.starts.append(start)
    if end is not None and end < start:
        end = None  # an end before the start is an entry error
    if end is not None and end <= now:
        exposure.ends.append(end)
    active = state == "active" and (end is None or end >= now)
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
        if merged and start <= merged[-1][1] + _DAY:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _sampled(periods: list[tuple[datetime, datetime]]) -> list[datetime]:
    """Dates of use of continuous periods: each start, then once a week, and the end."""
    dates: list[datetime] = []
    for start, end in periods:
        if start < end:  # start, start + 7 days, ... while before the end: the same sums as adding a week in a loop
            weeks = -((start - end) // _PERIOD_SAMPLE)  # ceil((end - start) / 7 days)
            dates.extend(accumulate(repeat(_PERIOD_SAMPLE, weeks - 1), add, initial=start))
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
    return Therapy(  # positionally: agent, drug_class, start, last_dose, ongoing, osteoporosis_dose, administered,
        exposure.medication.ingredient,  # doses, sources, periods
        exposure.medication.drug_class,
        min(known) if known else None,
        used[-1] if used else None,
        exposure.ongoing,
        bool(exposure.osteoporosis),
        bool(administered),
        tuple(doses),
        tuple(exposure.sources),
        tuple([p for p in periods if p[1] > p[0]]) if periods else (),
    )




def _procedures(kb: Knowledge, procedures: tuple[Resource, ...], out: MedicationFacts,
                exposures: dict[str, _Exposure], now: datetime, active_days: float) -> None:
    chemotherapy: _Exposure | None = None  # made at the first chemotherapy procedure
    active = timedelta(days=active_days)
    key = (kb, "procedure-kind")
    for procedure in procedures:
        if not verified(procedure) or status(procedure) not in DONE_PROCEDURE:
            continue
        code = profile(procedure.get("code"))  # read once, classified once per distinct code
        try:
            kind = code.memo[key]
        except KeyError:
            kind = code.memo[key] = _procedure_kind(kb, code)
        if kind == "dental":
            out.dental_evaluation = True
        elif kind is None:
            continue
        # the date of a surgery, chemotherapy or biopsy
        when = first_date(procedure, "performedDateTime", "performedPeriod.start", "performedPeriod.end")
        if kind == "surgery":
            if when is not None:
                out.surgeries.append(when)
        elif kind == "chemotherapy":
            if when is not None and when <= now:
                if chemotherapy is None:
                    chemotherapy = _Exposure(PROCEDURE_CHEMOTHERAPY)
                chemotherapy.administered.append(when)
                chemotherapy.sources.append(ref(procedure))
                chemotherapy.ongoing |= now - when <= active
        elif kind == "biopsy" and when is not None:
            out.biopsies.append(when)
    if chemotherapy is not None and not _documented_elsewhere(chemotherapy, exposures):
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
