"""R25 (suspected spinal cord compression), R26 (hypercalcaemia of malignancy) and the narrower R05 on
hand-built facts and on small FHIR records: what counts as a deficit, as spinal pain, as vertebral metastasis;
the albumin correction in both unit systems; ionised calcium; onsetAge / onsetString; precedence of R25 over R05;
CNS symptoms never switching off the ACR rating (clinical-rules.md §7.2, §7.3).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cdshooks.catalog.phrases import default_phrases
from cdshooks.clinical.build_facts import build_facts
from cdshooks.clinical.evidence import BONE, EPIDURAL, VERTEBRAL, Assertion, Status
from cdshooks.clinical.facts import (
    BONE_SCAN_WB,
    CT_CAP_IV,
    MRI_SPINE,
    Condition,
    DraftOrder,
    ImagingResult,
    LabResult,
    PatientFacts,
    Symptom,
    Therapy,
)
from cdshooks.clinical.knowledge import default_knowledge
from cdshooks.clinical.report_reading import BoneMetResult
from cdshooks.clinical.rules import appropriateness, emergencies, site
from cdshooks.clinical.rules.scenario import cns_symptoms
from cdshooks.fhir.record import Record
from tests.conftest import shown

KB = default_knowledge()
PARAMS = KB.parameters
NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
BC = Condition("Malignant neoplasm of breast", NOW - timedelta(days=400), "Condition/bc")
METS = Condition("Secondary malignant neoplasm of bone", NOW - timedelta(days=100), "Condition/m", site="T9")
CORD, CALCIUM, CNS = emergencies.CORD, emergencies.CALCIUM, "cns-symptoms-mri-brain"


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def back_pain(days: float = 20) -> Symptom:
    return Symptom("bone-pain", "Low back pain", ago(days), True, site="Lumbar spine", subkind="back-pain")


def leg_weakness(days: float = 2, subkind: str = "weakness-focal", basis: str = "onset") -> Symptom:
    return Symptom("weakness", "Left leg weakness", ago(days), True, subkind=subkind, onset_basis=basis)


def facts(*symptoms: Symptom, bone_mets: tuple[Condition, ...] = (METS,), labs: tuple[LabResult, ...] = (),
          imaging: tuple[ImagingResult, ...] = (), orders: tuple[DraftOrder, ...] = (),
          therapies: tuple[Therapy, ...] = ()) -> PatientFacts:
    return PatientFacts(now=NOW, breast_cancer=BC, bone_mets=bone_mets, symptoms=symptoms, labs=labs,
                        imaging=imaging, orders=orders, therapies=therapies)


def topics(findings: list[Any]) -> list[str]:
    return [f.topic for f in findings]


# ---------------------------------------------------------------------------------------------- R25
def test_cord_fires_on_pain_deficit_and_mets_and_wins_over_cns() -> None:
    f = facts(back_pain(), leg_weakness())
    [finding] = emergencies.cord_compression_in_chart(f, PARAMS)
    assert finding.topic == CORD and finding.suggestions == ("add-mri-whole-spine",)
    assert shown(finding)["mets_brief"] == "known vertebral metastases"
    assert site.cns_symptoms_in_chart(f, PARAMS) == []  # R25 takes precedence over R05


def test_cns_still_fires_with_cord_picture_when_a_seizure_points_to_the_brain() -> None:
    seizure = Symptom("seizure", "Seizure", ago(1), True)
    f = facts(back_pain(), leg_weakness(), seizure)
    assert topics(emergencies.cord_compression_in_chart(f, PARAMS)) == [CORD]
    assert topics(site.cns_symptoms_in_chart(f, PARAMS)) == [CNS]


@pytest.mark.parametrize("case", ["no-pain", "no-deficit", "no-mets", "old-deficit", "history-only", "mri-done"])
def test_cord_near_misses(case: str) -> None:
    symptoms = {"no-pain": (leg_weakness(),), "no-deficit": (back_pain(),),
                "old-deficit": (back_pain(), leg_weakness(days=45)),
                "history-only": (back_pain(), leg_weakness(basis="recorded"))}.get(case, (back_pain(), leg_weakness()))
    mri = ImagingResult("DiagnosticReport/mri", "MRI spine", MRI_SPINE, "MR", ago(1), BoneMetResult.POSITIVE, None)
    f = facts(*symptoms, bone_mets=() if case == "no-mets" else (METS,), imaging=(mri,) if case == "mri-done" else ())
    assert emergencies.cord_compression_in_chart(f, PARAMS) == []


def test_cord_suspected_from_epidural_extension_on_imaging() -> None:
    assertion = Assertion(BONE, Status.SUSPICIOUS, site="T9", features=frozenset({EPIDURAL, VERTEBRAL}))
    ct = ImagingResult("DiagnosticReport/ct", "CT thorax 2026-05-01", CT_CAP_IV, "CT", ago(31),
                       BoneMetResult.INDETERMINATE, None, assertions=(assertion,))
    deficit = Symptom("neuro-deficit", "Urinary retention", ago(1), True, subkind="bladder-bowel")
    f = facts(back_pain(), deficit, bone_mets=(), imaging=(ct,))
    [finding] = emergencies.cord_compression_in_chart(f, PARAMS)
    assert shown(finding)["mets_brief"] == "suspected vertebral metastases"
    assert "epidural extension" in shown(finding)["mets_evidence"]
    # a later CT calling the bone benign supersedes the suspicion
    later = ImagingResult("DiagnosticReport/ct2", "CT 2026-05-20", CT_CAP_IV, "CT", ago(10), BoneMetResult.NEGATIVE,
                          None, assertions=(Assertion(BONE, Status.BENIGN, site="T9"),))
    assert emergencies.cord_compression_in_chart(facts(back_pain(), deficit, bone_mets=(), imaging=(ct, later)),
                                                 PARAMS) == []


def test_cord_at_order_time_next_to_any_imaging_draft_but_not_a_spine_mri() -> None:
    ct = DraftOrder("ServiceRequest/ct", True, "CT abdomen/pelvis with IV contrast", procedure_class="CT_ABD_PELVIS_IV")
    [finding] = emergencies.cord_compression_at_order(facts(back_pain(), leg_weakness(), orders=(ct,)), PARAMS)
    assert finding.order_ids == ("ServiceRequest/ct",) and shown(finding)["variant"] == "order"
    assert emergencies.cord_compression_at_order(facts(back_pain(), leg_weakness()), PARAMS) == []
    mri = DraftOrder("ServiceRequest/mri", True, "MRI spine", procedure_class=MRI_SPINE)
    assert emergencies.cord_compression_at_order(facts(back_pain(), leg_weakness(), orders=(ct, mri)), PARAMS) == []


# ---------------------------------------------------------------------------------------------- R26
def lab(kind: str, value: float, unit: str, days: float = 1, flag: str | None = None,
        high: float | None = None) -> LabResult:
    basis = "reference-range" if flag else "none"
    return LabResult(kind, ago(days), value, unit, flag, basis, high, f"Observation/{kind}")


@pytest.mark.parametrize(("labs", "fires"), [
    ((lab("calcium", 2.95, "mmol/L", flag="high", high=2.6),), True),  # above the lab's range
    ((lab("calcium", 2.55, "mmol/L", flag="normal", high=2.6), lab("albumin", 25, "g/L")), True),  # corrected 2.85
    ((lab("calcium", 10.2, "mg/dL", flag="normal", high=10.4), lab("albumin", 2.5, "g/dL")), True),  # corrected 11.4
    ((lab("calcium", 2.68, "mmol/L", flag="high", high=2.6), lab("albumin", 5.0, "g/dL")), False),  # corrected 2.48
    ((lab("calcium", 2.20, "mmol/L", flag="normal", high=2.6), lab("albumin", 33, "g/L")), False),  # corrected 2.34
    ((lab("calcium", 10.9, "mg/dL"),), True),  # no range: > 10.5 mg/dL
    ((lab("calcium", 10.4, "mg/dL"),), False),
    ((lab("calcium-corrected", 2.7, "mmol/L"),), True),  # reported corrected, no range: > 2.6 mmol/L
    ((lab("calcium-ionised", 1.45, "mmol/L"),), True),  # ionised, no range: > 1.32 mmol/L (design default)
    ((lab("calcium-ionised", 1.25, "mmol/L"),), False),
    ((lab("calcium-ionised", 1.30, "mmol/L", flag="high", high=1.28),), True),  # ionised by its own range
    ((lab("calcium", 3.1, "mmol/L", days=12, flag="high"),), False),  # not recent (7-day window)
    ((lab("calcium", 2.95, "mmol/L", flag="high"), lab("albumin", 25, "g/L", days=9)), True),  # albumin too old
])
def test_hypercalcaemia_thresholds(labs: tuple[LabResult, ...], fires: bool) -> None:
    assert bool(emergencies.hypercalcaemia_in_chart(facts(labs=labs), PARAMS)) is fires


def test_albumin_correction_value_in_both_unit_systems() -> None:
    reading = emergencies.high_calcium(facts(labs=(lab("calcium", 2.55, "mmol/L", flag="normal", high=2.6),
                                                   lab("albumin", 25, "g/L"))), PARAMS)
    assert reading is not None
    assert default_phrases().text(reading.shown).startswith("corrected calcium 2.85 mmol/L (11.4 mg/dL)")


def test_ionised_calcium_decides_over_total_on_the_same_day() -> None:
    labs = (lab("calcium", 2.7, "mmol/L", flag="high", high=2.6), lab("calcium-ionised", 1.2, "mmol/L", flag="normal"))
    assert emergencies.hypercalcaemia_in_chart(facts(labs=labs), PARAMS) == []


def test_hypercalcaemia_needs_bone_mets_and_is_quiet_once_treated() -> None:
    high = (lab("calcium", 2.95, "mmol/L", flag="high", high=2.6),)
    assert emergencies.hypercalcaemia_in_chart(facts(labs=high, bone_mets=()), PARAMS) == []
    zol = Therapy("zoledronic acid", "bone-modifying", ago(0), ago(0), True, administered=True)
    assert emergencies.hypercalcaemia_in_chart(facts(labs=high, therapies=(zol,)), PARAMS) == []
    scan = DraftOrder("ServiceRequest/bs", True, "Bone scan", procedure_class=BONE_SCAN_WB)
    [finding] = emergencies.hypercalcaemia_at_order(facts(labs=high, orders=(scan,)), PARAMS)
    assert finding.topic == CALCIUM and "No recent eGFR" in shown(finding)["renal"]


# ---------------------------------------------------------------------------------------------- R05 narrowed
def condition(code: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Condition", "id": f"c{len(extra)}{abs(hash(str(code))) % 1000}",
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": "active"}]}, "code": code, **extra}


def record(*resources: dict[str, Any]) -> Record:
    patient = {"resourceType": "Patient", "id": "p", "birthDate": "1966-06-01"}
    bc = condition({"coding": [{"system": "http://snomed.info/sct", "code": "254837009"}]},
                   onsetDateTime="2025-01-01")
    return Record.build("p", [patient, bc, *resources])


SEIZURE = {"coding": [{"system": "http://snomed.info/sct", "code": "91175000", "display": "Seizure"}]}


@pytest.mark.parametrize(("extra", "counts"), [
    ({"onsetDateTime": "2026-05-29"}, True),
    ({"onsetAge": {"value": 60, "unit": "years", "system": "http://unitsofmeasure.org", "code": "a"}}, True),
    ({"onsetAge": {"value": 55, "code": "a"}}, False),  # five years ago
    ({"onsetString": "2026-05-28"}, True),
    ({"onsetString": "since childhood"}, False),  # not a date: unknown onset
    ({"recordedDate": "2026-05-30"}, False),  # history entered without an onset
])
def test_seizure_onset_forms(extra: dict[str, Any], counts: bool) -> None:
    f = build_facts(record(condition(SEIZURE, **extra)), NOW, KB)
    assert bool(cns_symptoms(f, PARAMS)) is counts


@pytest.mark.parametrize(("code", "counts"), [
    ({"coding": [{"system": "http://snomed.info/sct", "code": "26544005"}]}, False),  # generic muscle weakness
    ({"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "G43.909"}]}, False),  # migraine
    ({"text": "Chronic daily headache"}, False),
    # a coded headache qualified as the usual one (blind acceptance review): not new
    ({"coding": [{"system": "http://snomed.info/sct", "code": "25064002"}],
      "text": "Headache, usual pattern, unchanged"}, False),
    ({"coding": [{"system": "http://snomed.info/sct", "code": "25064002"}], "text": "Headache"}, True),
    ({"text": "New severe headache with vomiting"}, True),
    ({"text": "Right-sided weakness"}, True),
    ({"text": "Expressive aphasia"}, True),
    ({"text": "Diplopia"}, True),
])
def test_only_specific_cns_symptoms_count(code: dict[str, Any], counts: bool) -> None:
    f = build_facts(record(condition(code, onsetDateTime="2026-05-29")), NOW, KB)
    assert bool(cns_symptoms(f, PARAMS)) is counts


def test_only_new_specific_cns_symptoms_switch_off_the_acr_rating() -> None:
    """A new seizure takes the patient out of the ACR body-survey scenario (R01: no criteria apply); generic
    weakness does not count as a CNS symptom and never switches the rating off (clinical-rules.md §7.2)."""
    chemo = Therapy("doxorubicin", "chemotherapy", ago(60), ago(20), True, administered=True, doses=(ago(20),))
    pain = Symptom("bone-pain", "Bone pain", ago(5), True)
    seizure = Symptom("seizure", "Seizure", ago(2), True)
    scan = DraftOrder("ServiceRequest/bs", True, "Bone scan", procedure_class=BONE_SCAN_WB)
    f = PatientFacts(now=NOW, breast_cancer=BC, symptoms=(pain, seizure), therapies=(chemo,), orders=(scan,))
    [rating] = appropriateness.ratings(f, PARAMS, KB.acr, complete=True)
    assert rating.rating == "no-criteria-apply"
    generic = build_facts(record(condition({"text": "Muscle weakness"}, onsetDateTime="2026-05-29")), NOW, KB)
    f = replace(f, symptoms=(pain, *generic.symptoms))
    [rating] = appropriateness.ratings(f, PARAMS, KB.acr, complete=True)
    assert rating.rating == "appropriate"
