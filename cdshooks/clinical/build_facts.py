"""Assemble the patient's facts from the record, as of `now`."""

from __future__ import annotations

from datetime import date, datetime

from cdshooks.clinical.dates import known_date
from cdshooks.clinical.extract.common import ObservationCodes
from cdshooks.clinical.extract.conditions import extract_conditions
from cdshooks.clinical.extract.imaging import extract_bone_pathology, extract_imaging
from cdshooks.clinical.extract.medications import extract_medications
from cdshooks.clinical.extract.observations import extract_observations
from cdshooks.clinical.extract.orders import extract_orders
from cdshooks.clinical.facts import PatientFacts, Receptor
from cdshooks.clinical.knowledge import Knowledge
from cdshooks.fhir.codes import parse_fhir_datetime
from cdshooks.fhir.record import Record


def build_facts(record: Record, now: datetime, kb: Knowledge) -> PatientFacts:
    conditions = extract_conditions(kb, record.of("Condition"), _birth_date(record))
    codes: ObservationCodes = {}  # the Observations' code profiles, read by the lab extractor for the imaging one
    observations = extract_observations(kb, record.of("Observation"), kb.param("P_ALP_ULN"), codes)
    medications = extract_medications(kb, record.of, record.resolve, now, kb.param("P_THERAPY_ACTIVE_DAYS"))
    orders, order_symptoms = extract_orders(kb, record, now)
    receptors = tuple(observations.receptors)
    triple_negative, basis = conditions.triple_negative, conditions.subtype_basis
    if not triple_negative and not conditions.inflammatory:
        triple_negative, basis = _triple_negative_from_receptors(receptors)
    return PatientFacts(
        now=now,
        breast_cancer=conditions.breast_cancer,
        stage=conditions.stage or observations.stage,
        inflammatory=conditions.inflammatory,
        triple_negative=triple_negative,
        subtype_basis=basis,
        bone_mets=tuple(conditions.bone_mets),
        other_mets=tuple(conditions.other_mets),
        ckd_severe=conditions.ckd_severe,
        osteopenia=conditions.osteopenia,
        surgeries=tuple(sorted(medications.surgeries)),
        biopsies=tuple(sorted(medications.biopsies)),
        dental_evaluation=medications.dental_evaluation,
        calcium_vitamin_d=medications.calcium_vitamin_d,
        symptoms=(*conditions.symptoms, *observations.symptoms, *order_symptoms),
        labs=observations.labs,
        receptors=receptors,
        therapies=tuple(medications.therapies),
        imaging=tuple(extract_imaging(kb, record.of, record.resolve, codes)),
        bone_mets_pathology=tuple(extract_bone_pathology(kb, record.of("DiagnosticReport"))),
        orders=tuple(orders),
        procedure_groups=kb.procedure_groups,
    )


_TRIPLE = frozenset({"er", "pr", "her2"})


def _triple_negative_from_receptors(receptors: tuple[Receptor, ...]) -> tuple[bool, str]:
    """Triple negative when the latest ER, PR and HER2 results are all negative."""
    negative = {r.kind for r in receptors if r.status == "negative" and r.when is not None}
    if not negative.issuperset(_TRIPLE):
        return False, ""  # a kind without a dated negative result cannot have a negative latest one: nothing to sort
    dated = sorted((r for r in receptors if r.status is not None and r.when is not None),
                   key=lambda r: known_date(r.when))
    latest = {r.kind: r for r in dated}  # later results overwrite earlier ones
    if set(latest) == {"er", "pr", "her2"} and all(r.status == "negative" for r in latest.values()):
        newest = max(r.when for r in latest.values() if r.when)
        return True, f"ER, PR and HER2 negative ({newest.date().isoformat()})"
    return False, ""


def _birth_date(record: Record) -> date | None:
    """The patient's birthDate (for Condition.onsetAge), or None."""
    for patient in record.of("Patient"):
        born = parse_fhir_datetime(patient.get("birthDate")) if isinstance(patient, dict) else None
        if born is not None:
            return born.date()
    return None
