"""Patient-view rules on hand-built facts: window boundaries (pairing 60 d, post-chemotherapy 28 d, flare
14 / 90 / 180 d), MD Anderson labels (R20), flare improvement signs; then, end to end through the endpoint:
messy FHIR never crashes, card details name the studies and dates they rest on, and no card claims
"progression" for a bone scan inside the flare window.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from cdshooks.clinical.extract.imaging import extract_imaging
from cdshooks.clinical.facts import (
    BONE_SCAN_WB,
    CT_CAP_IV,
    Condition,
    ImagingResult,
    LabResult,
    PatientFacts,
    Symptom,
    Therapy,
)
from cdshooks.clinical.findings import Finding
from cdshooks.clinical.knowledge import default_knowledge
from cdshooks.clinical.report_reading import BoneMetResult, Change, LesionCharacter
from cdshooks.clinical.rules import bone_health, discordance, disease_course, flare, mda, negative_scan
from cdshooks.fhir.record import Record
from cdshooks.protocol.conformance import response_problems
from cdshooks.replay import load_fixture
from tests.conftest import NOW, PATIENT_VIEW, REPO, bundle, hook_request
from tools.fixtures.builders import CPT, LOINC, SNOMED, Chart
from tools.fixtures.builders import hook_request as fixture_request

PARAMS = default_knowledge().parameters
BREAST_CANCER = Condition("Malignant neoplasm of breast", NOW - timedelta(days=400), "Condition/bc")
BONE_METS = Condition("Secondary malignant neoplasm of bone", NOW - timedelta(days=200), "Condition/bm")


def day(offset: int) -> datetime:
    """Midnight of the day `offset` days from NOW: how a date-only report or order is read."""
    return datetime.combine((NOW + timedelta(days=offset)).date(), datetime.min.time(), tzinfo=UTC)


def bone_scan(offset: int, result: BoneMetResult, *changes: Change, basis: str = "text") -> ImagingResult:
    when = day(offset)
    return ImagingResult(source=f"DiagnosticReport/bs{offset}", label=f"Bone scan {when.date()}",
                         procedure_class=BONE_SCAN_WB, modality="NM", when=when, result=result, character=None,
                         changes=frozenset(changes), basis=basis)


def ct(offset: int, result: BoneMetResult, *changes: Change,
       character: LesionCharacter | None = None, modality: str = "CT", conclusion: str = "") -> ImagingResult:
    when = day(offset)
    return ImagingResult(source=f"DiagnosticReport/ct{offset}", label=f"CT {when.date()}",
                         procedure_class=CT_CAP_IV, modality=modality, when=when, result=result,
                         character=character, changes=frozenset(changes), conclusion=conclusion)


def agent(name: str, drug_class: str, *doses: datetime, ongoing: bool = False,
          administered: bool = True) -> Therapy:
    ordered = tuple(sorted(doses))
    return Therapy(agent=name, drug_class=drug_class, start=ordered[0], last_dose=ordered[-1], ongoing=ongoing,
                   administered=administered, doses=ordered)


def facts(**kw: Any) -> PatientFacts:
    kw.setdefault("breast_cancer", BREAST_CANCER)
    return PatientFacts(now=NOW, **kw)


def topics(findings: list[Finding]) -> list[str]:
    return [f.topic for f in findings]


# -- R08 pairing window ---------------------------------------------------------------------------

@pytest.mark.parametrize(("apart", "fires"), [(0, True), (59, True), (60, True), (61, False), (75, False)])
@pytest.mark.parametrize("ct_first", [True, False])
def test_discordance_pairing_window_is_60_days(apart: int, fires: bool, ct_first: bool) -> None:
    first, second = -80, -80 + apart
    positive = ct(first if ct_first else second, BoneMetResult.POSITIVE, character=LesionCharacter.LYTIC)
    negative = bone_scan(second if ct_first else first, BoneMetResult.NEGATIVE)
    found = discordance.discordant_ct_positive_bone_scan_negative(facts(imaging=(positive, negative)), PARAMS)
    assert bool(found) is fires
    if fires:
        assert found[0].values["days_apart"] == apart
        assert found[0].values["positive_study"] == positive.label
        assert found[0].values["negative_study"] == negative.label


def test_discordance_needs_a_study_positive_for_bone() -> None:
    nodal = ct(-30, BoneMetResult.NEGATIVE)
    indeterminate = ct(-30, BoneMetResult.INDETERMINATE)
    scan = bone_scan(-20, BoneMetResult.NEGATIVE)
    for other in (nodal, indeterminate):
        assert discordance.discordant_ct_positive_bone_scan_negative(facts(imaging=(other, scan)), PARAMS) == []


def test_discordance_mri_positive_is_not_the_ct_rule() -> None:
    mri = ct(-30, BoneMetResult.POSITIVE, modality="MR")
    scan = bone_scan(-20, BoneMetResult.NEGATIVE)
    assert discordance.discordant_ct_positive_bone_scan_negative(facts(imaging=(mri, scan)), PARAMS) == []


# -- R09 post-chemotherapy window ------------------------------------------------------------------

def _chemo_at(offset: int) -> Therapy:
    """A dose given at 09:00 on that day (a MedicationAdministration instant)."""
    return agent("doxorubicin", "chemotherapy", NOW + timedelta(days=offset - 63), NOW + timedelta(days=offset))


@pytest.mark.parametrize(("gap", "fires"), [(1, True), (11, True), (28, True), (29, False), (40, False)])
def test_false_negative_window_is_28_calendar_days_after_the_last_dose(gap: int, fires: bool) -> None:
    pet = ct(-5, BoneMetResult.POSITIVE, character=LesionCharacter.BLASTIC, modality="PT")
    scan = bone_scan(-2, BoneMetResult.NEGATIVE)
    found = discordance.false_negative_after_chemo(facts(imaging=(pet, scan), therapies=(_chemo_at(-2 - gap),)),
                                                   PARAMS)
    assert bool(found) is fires
    if fires:
        assert found[0].values["days_after"] == gap
        assert found[0].values["agent"] == "doxorubicin"


@pytest.mark.parametrize(("middle_dose", "gap"), [(-39, None), (-30, 22)])
def test_false_negative_counts_from_the_last_dose_before_the_scan(middle_dose: int, gap: int | None) -> None:
    doses = (day(-60), day(middle_dose), day(-1))  # the dose of day -1 comes after the scan
    chemo = agent("paclitaxel", "chemotherapy", *doses)
    high_alp = LabResult("alp", day(-10), 220, "U/L", "high", "interpretation")
    scan = bone_scan(-8, BoneMetResult.NEGATIVE)
    found = discordance.false_negative_after_chemo(facts(imaging=(scan,), therapies=(chemo,), labs=(high_alp,)),
                                                   PARAMS)
    assert (found[0].values["days_after"] if found else None) == gap


def test_false_negative_needs_supporting_evidence_and_chemotherapy() -> None:
    scan = bone_scan(-2, BoneMetResult.NEGATIVE)
    normal_alp = LabResult("alp", day(-3), 90, "U/L", "normal", "reference-range")
    assert discordance.false_negative_after_chemo(facts(imaging=(scan,), therapies=(_chemo_at(-10),),
                                                        labs=(normal_alp,)), PARAMS) == []
    zoledronic = agent("zoledronic acid", "bone-modifying", NOW - timedelta(days=10))
    high_alp = LabResult("alp", day(-3), 220, "U/L", "high", "interpretation")
    assert discordance.false_negative_after_chemo(facts(imaging=(scan,), therapies=(zoledronic,),
                                                        labs=(high_alp,)), PARAMS) == []


# -- R13 flare windows ------------------------------------------------------------------------------

SCAN_DAY = -30  # a scan read a month ago: its flare window is counted from the scan, not from today


def _flare(days_after_start: int, *, extra: dict[str, Any] | None = None,
           changes: tuple[Change, ...] = (Change.NEW_FOCI,)) -> list[Finding]:
    line = agent("fulvestrant", "endocrine", day(SCAN_DAY - days_after_start), administered=True)
    kw: dict[str, Any] = {"bone_mets": (BONE_METS,), "therapies": (line,),
                          "imaging": (bone_scan(SCAN_DAY, BoneMetResult.POSITIVE, *changes),)}
    kw.update(extra or {})
    return flare.bone_scan_flare(facts(**kw), PARAMS)


@pytest.mark.parametrize(("days", "variant"), [(13, None), (14, "possible"), (60, "possible"), (90, "possible"),
                                               (91, "late"), (150, "late"), (180, "late"), (181, None)])
def test_flare_window_14_90_180_days(days: int, variant: str | None) -> None:
    found = _flare(days)
    assert (found[0].values["variant"] if found else None) == variant
    if found:
        assert found[0].values["therapy_start"] == day(SCAN_DAY - days)
        assert found[0].values["follow_up_date"] == day(SCAN_DAY) + timedelta(days=PARAMS["P_FLARE_REIMAGE_DAYS"])


@pytest.mark.parametrize("change", [Change.INCREASED_UPTAKE, Change.NEW_FOCI, Change.PROGRESSION])
def test_flare_on_every_worsening_wording(change: Change) -> None:
    assert topics(_flare(40, changes=(change,))) == ["bone-scan-flare"]


@pytest.mark.parametrize("change", [Change.STABLE, Change.DECREASED, Change.SCLEROTIC_CHANGE])
def test_no_flare_without_worsening(change: Change) -> None:
    assert _flare(40, changes=(change,)) == []


def test_flare_needs_known_bone_disease() -> None:
    line = agent("letrozole", "endocrine", day(-70))
    scan = bone_scan(-5, BoneMetResult.INDETERMINATE, Change.NEW_FOCI)
    assert flare.bone_scan_flare(facts(therapies=(line,), imaging=(scan,)), PARAMS) == []


def test_flare_ignores_long_standing_therapy_and_bone_agents() -> None:
    old_line = agent("anastrozole", "endocrine", day(-500), day(-5), ongoing=True)
    bma = agent("denosumab", "bone-modifying", day(-60))
    scan = bone_scan(-5, BoneMetResult.POSITIVE, Change.NEW_FOCI)
    assert flare.bone_scan_flare(facts(bone_mets=(BONE_METS,), therapies=(old_line, bma), imaging=(scan,)),
                                 PARAMS) == []


def test_flare_reads_the_report_not_the_unreported_study_of_the_same_day() -> None:
    line = agent("fulvestrant", "endocrine", day(-60))
    report = bone_scan(-5, BoneMetResult.POSITIVE, Change.NEW_FOCI)
    study = ImagingResult(source="ImagingStudy/s", label="Bone scan study", procedure_class=BONE_SCAN_WB,
                          modality="NM", when=day(-5) + timedelta(hours=9), result=BoneMetResult.UNKNOWN,
                          character=None, basis="study")
    found = flare.bone_scan_flare(facts(bone_mets=(BONE_METS,), therapies=(line,), imaging=(report, study)), PARAMS)
    assert topics(found) == ["bone-scan-flare"]


def test_flare_names_agents_started_together() -> None:
    start = day(-70)
    lines = (agent("letrozole", "endocrine", start, administered=False),
             agent("palbociclib", "cdk46", start, administered=False))
    scan = bone_scan(-4, BoneMetResult.POSITIVE, Change.NEW_FOCI)
    found = flare.bone_scan_flare(facts(bone_mets=(BONE_METS,), therapies=lines, imaging=(scan,)), PARAMS)
    assert found[0].values["agent"] == "letrozole + palbociclib"


# -- R13 improvement signs ----------------------------------------------------------------------------

def _alp(offset: int, value: float) -> LabResult:
    return LabResult("alp", day(offset), value, "U/L", "high" if value > 129 else "normal", "reference-range")


START = SCAN_DAY - 60


@pytest.mark.parametrize(("extra", "sign"), [
    ({"symptoms": (Symptom("bone-pain", "Bone pain", day(START - 20), False, abated=day(START + 30)),)},
     "bone pain resolved"),
    ({"symptoms": (Symptom("bone-pain", "Bone pain", day(START - 20), False),)}, "bone pain resolved"),
    ({"labs": (_alp(START - 5, 260), _alp(SCAN_DAY - 2, 150))}, "ALP falling (260 to 150 U/L)"),
    ({"labs": (_alp(START + 10, 300), _alp(START + 40, 180))}, "ALP falling (300 to 180 U/L)"),
    ({"imaging": (ct(START + 50, BoneMetResult.POSITIVE, Change.SCLEROTIC_CHANGE),
                  bone_scan(SCAN_DAY, BoneMetResult.POSITIVE, Change.NEW_FOCI))},
     "lytic lesions turning sclerotic on CT/MRI"),
])
def test_flare_improvement_makes_it_likely(extra: dict[str, Any], sign: str) -> None:
    found = _flare(60, extra=extra)
    assert found[0].values["variant"] == "likely"
    assert sign in found[0].values["improvement"]


@pytest.mark.parametrize("extra", [
    {},
    {"symptoms": (Symptom("bone-pain", "Bone pain", day(START - 20), True),)},  # still in pain
    {"labs": (_alp(START - 5, 150), _alp(SCAN_DAY - 2, 260))},  # ALP rising
    {"labs": (_alp(START + 10, 300),)},  # a single value after the start: no trend
    {"imaging": (ct(START - 20, BoneMetResult.POSITIVE, Change.SCLEROTIC_CHANGE),  # sclerosis before the line
                 bone_scan(SCAN_DAY, BoneMetResult.POSITIVE, Change.NEW_FOCI))},
])
def test_flare_without_improvement_stays_possible(extra: dict[str, Any]) -> None:
    found = _flare(60, extra=extra)
    assert found[0].values["variant"] == "possible"
    assert found[0].values["improvement"] == "none documented"


def test_late_flare_stays_late_even_when_improving() -> None:
    pain = Symptom("bone-pain", "Bone pain", day(SCAN_DAY - 140), False, abated=day(SCAN_DAY - 30))
    assert _flare(120, extra={"symptoms": (pain,)})[0].values["variant"] == "late"


# -- R20 MD Anderson labels ----------------------------------------------------------------------------

@pytest.mark.parametrize(("study", "label"), [
    (bone_scan(-5, BoneMetResult.POSITIVE, Change.NEW_FOCI), "MDA progressive disease, but only once a flare is "
                                                             "excluded"),
    (bone_scan(-5, BoneMetResult.POSITIVE, Change.INCREASED_UPTAKE), "MDA progressive disease, but only once a flare "
                                                                     "is excluded"),
    (bone_scan(-5, BoneMetResult.POSITIVE, Change.PROGRESSION), "MDA progressive disease, but only once a flare is "
                                                                "excluded"),
    (bone_scan(-5, BoneMetResult.POSITIVE, Change.DECREASED), "MDA partial response (measurable regression)"),
    (bone_scan(-5, BoneMetResult.POSITIVE, Change.STABLE), "MDA no change"),
    (bone_scan(-5, BoneMetResult.NEGATIVE), mda.NOT_ASSESSABLE),
    (ct(-5, BoneMetResult.POSITIVE, Change.NEW_FOCI), "MDA progressive disease"),
    (ct(-5, BoneMetResult.POSITIVE, Change.PROGRESSION), "MDA progressive disease"),
    (ct(-5, BoneMetResult.POSITIVE, Change.SCLEROTIC_CHANGE), "MDA partial response (lytic lesions turning "
                                                              "sclerotic)"),
    (ct(-5, BoneMetResult.POSITIVE, Change.DECREASED), "MDA partial response (measurable regression)"),
    (ct(-5, BoneMetResult.POSITIVE, Change.STABLE), "MDA no change"),
    # a new lesion is progression even when other lesions respond
    (ct(-5, BoneMetResult.POSITIVE, Change.NEW_FOCI, Change.SCLEROTIC_CHANGE), "MDA progressive disease"),
    (bone_scan(-5, BoneMetResult.POSITIVE, Change.NEW_FOCI, Change.DECREASED),
     "MDA progressive disease, but only once a flare is excluded"),
])
def test_mda_labels(study: ImagingResult, label: str) -> None:
    assert mda.mda_label(study) == label


def test_mda_label_never_calls_a_bone_scan_plain_progression() -> None:
    for change in Change:
        label = mda.mda_label(bone_scan(-5, BoneMetResult.POSITIVE, change))
        assert label != mda.CROSS_SECTIONAL_PROGRESSION
        assert "progress" not in label or "flare is excluded" in label


# -- other result rules: small boundary checks ------------------------------------------------------------

def test_persistent_pain_counts_the_pain_that_led_to_the_scan() -> None:
    scan = bone_scan(-20, BoneMetResult.NEGATIVE)
    prompting = Symptom("bone-pain", "Low back pain", day(-45), True, site="Lumbar spine")
    stale = Symptom("bone-pain", "Low back pain", day(-400), True, site="Lumbar spine")
    resolved = Symptom("bone-pain", "Low back pain", day(-45), False, abated=day(-5))
    found = negative_scan.persistent_pain_after_negative_scan(facts(imaging=(scan,), symptoms=(prompting,)), PARAMS)
    assert found and found[0].values["mri_procedure"] == "MRI_SPINE:lumbar"
    for symptom in (stale, resolved):
        assert negative_scan.persistent_pain_after_negative_scan(facts(imaging=(scan,), symptoms=(symptom,)),
                                                                 PARAMS) == []


def test_recurrence_not_while_chemotherapy_continues() -> None:
    treated = ct(-300, BoneMetResult.POSITIVE, Change.SCLEROTIC_CHANGE)
    pain = Symptom("bone-pain", "Bone pain", day(-10), True)
    ended = agent("paclitaxel", "chemotherapy", day(-500), day(-400))
    continuing = agent("capecitabine", "chemotherapy", day(-400), ongoing=True, administered=False)
    base = {"bone_mets": (BONE_METS,), "imaging": (treated,), "symptoms": (pain,)}
    assert topics(disease_course.recurrence_after_treated_mets(facts(therapies=(ended,), **base), PARAMS)) == [
        "recurrence-after-treated-mets"]
    assert disease_course.recurrence_after_treated_mets(facts(therapies=(ended, continuing), **base), PARAMS) == []


@pytest.mark.parametrize(("conclusion", "fires"), [
    ("Lytic metastasis in the L2 vertebral body; impending pathologic fracture.", True),
    ("Mixed lesions in the pelvis and proximal femora, consistent with metastases.", True),
    ("Osseous metastases in the ribs and pelvis. No vertebral involvement. No pathologic fracture of the femur.",
     False),
    ("Metastases in the ribs. The spine is normal.", False),
])
def test_orthopedic_terms_are_read_with_negation(conclusion: str, fires: bool) -> None:
    study = ct(-9, BoneMetResult.POSITIVE, conclusion=conclusion)
    assert bool(bone_health.orthopedic_evaluation(facts(imaging=(study,)), PARAMS)) is fires


def test_orthopedic_ignores_old_imaging_but_not_the_problem_list() -> None:
    old = ct(-400, BoneMetResult.POSITIVE, conclusion="Lytic metastasis in the left femur.")
    assert bone_health.orthopedic_evaluation(facts(imaging=(old,)), PARAMS) == []
    femur = Condition("Secondary malignant neoplasm of bone", day(-400), "Condition/f", site="Left femur")
    assert topics(bone_health.orthopedic_evaluation(facts(bone_mets=(femur,)), PARAMS)) == ["orthopedic-evaluation"]


def test_classic_stage_iv_reads_the_reported_scan() -> None:
    report = ImagingResult(source="Observation/o", label="Bone scan", procedure_class=BONE_SCAN_WB, modality="NM",
                           when=day(-6), result=BoneMetResult.POSITIVE, character=None, multifocal=True,
                           basis="observation")
    study = ImagingResult(source="ImagingStudy/s", label="Bone scan", procedure_class=BONE_SCAN_WB, modality="NM",
                          when=day(-6) + timedelta(hours=9), result=BoneMetResult.UNKNOWN, character=None,
                          basis="study")
    found = disease_course.classic_positive_bone_scan(facts(imaging=(report, study)), PARAMS)
    assert topics(found) == ["classic-bone-scan-stage-iv"]


# -- the imaging extractor: findings, their studies, preliminary results --------------------------------

def _finding(status: str = "final", effective: str | None = "2026-05-20", **extra: Any) -> dict[str, Any]:
    resource = {"resourceType": "Observation", "id": f"f-{status}", "status": status,
                "category": [{"coding": [{"code": "imaging"}]}],
                "code": {"coding": [{"system": SNOMED, "code": "94222008"}]},
                "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "2667000"}]}, **extra}
    if effective:
        resource["effectiveDateTime"] = effective
    return resource


def _imaging(*resources: dict[str, Any]) -> list[ImagingResult]:
    record = Record.build("bc-1", resources)
    return extract_imaging(default_knowledge(), record.of, record.resolve)


def test_a_finding_is_its_studys_result_not_a_second_study() -> None:
    study = {"resourceType": "ImagingStudy", "id": "s1", "status": "available", "started": "2026-05-20T09:00:00Z",
             "modality": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "NM"}],
             "procedureCode": [{"coding": [{"system": CPT, "code": "78306"}]}]}
    results = _imaging(study, _finding(effective=None, derivedFrom=[{"reference": "ImagingStudy/s1"}]))
    assert [(r.source, r.result, r.procedure_class, r.when) for r in results] == [
        ("Observation/f-final", BoneMetResult.NEGATIVE, BONE_SCAN_WB, datetime(2026, 5, 20, 9, tzinfo=UTC))]


@pytest.mark.parametrize("status", ["registered", "cancelled", "entered-in-error", "unknown"])
def test_unfinished_imaging_findings_are_not_results(status: str) -> None:
    assert _imaging(_finding(status)) == []


def test_a_preliminary_finding_is_kept_with_its_status() -> None:
    # clinical-rules.md §7.1: a preliminary read counts until its final version replaces it
    assert [(r.result, r.report_status) for r in _imaging(_finding("preliminary"))] == [
        (BoneMetResult.NEGATIVE, "preliminary")]


# ================================================================================================
# End to end through the patient-view endpoint
# ================================================================================================

def _post(client: FlaskClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/cds-services/{PATIENT_VIEW}", json=body)
    assert response.status_code == 200, response.get_json()
    payload = response.get_json()
    assert response_problems(payload) == []
    return payload


def _garbage_base64() -> str:
    return base64.b64encode(bytes(range(256)) * 40).decode()


def test_messy_fhir_gives_200_and_no_crash(client: FlaskClient) -> None:
    huge = ("Findings: multiple sclerotic and lytic foci; cannot exclude metastasis; no change. " * 4000)
    subject = {"reference": "Patient/bc-1"}
    conditions = bundle(
        {"resourceType": "Condition", "id": "c-bc", "subject": subject,
         "code": {"coding": [{"system": "http://snomed.info/sct", "code": "254837009"}]}},
        {"resourceType": "Condition", "id": "c-bc", "subject": subject, "code": {"text": "duplicate id"}},
        {"resourceType": "Condition", "id": "c-nocode", "subject": subject},
        {"resourceType": "Condition", "id": "c-text", "subject": subject, "code": {"text": "bone mets ?? spine"},
         "onsetDateTime": "2026-05", "bodySite": "spine"},
        {"resourceType": "Condition", "id": "c-odd", "subject": subject, "code": {"coding": "C79.51"},
         "onsetDateTime": 20260501, "clinicalStatus": "active", "verificationStatus": {"coding": [None]}},
        {"resourceType": "Condition", "id": "c-pain", "subject": subject,
         "code": {"coding": [{"system": "urn:local", "code": "PAIN-1", "display": "Bone pain, lumbar"}]},
         "onsetDateTime": "2026", "abatementDateTime": "garbage"},
    )
    labs = bundle(
        {"resourceType": "Observation", "id": "l1", "status": "final", "subject": subject,
         "code": {"coding": [{"system": "http://loinc.org", "code": "6768-6"}]},
         "valueQuantity": {"value": "abc", "unit": "kat/L"}, "effectiveDateTime": "2026-05-3"},
        {"resourceType": "Observation", "id": "l2", "status": "final", "subject": subject,
         "code": {"coding": [{"system": "http://loinc.org", "code": "6768-6"}]},
         "valueQuantity": {"value": 900, "unit": "µkat/L"},
         "referenceRange": [{"high": {"value": 2, "unit": "ukat/L"}}],
         "interpretation": [{"coding": [{"code": "??"}]}], "effectiveDateTime": "2026-05-20"},
        {"resourceType": "Observation", "id": "l2", "status": "final", "subject": subject, "code": {}},
        {"resourceType": "Observation", "id": "l3", "status": "final", "subject": subject,
         "code": {"coding": [{"system": "http://loinc.org", "code": "1742-6"}]}, "valueQuantity": None,
         "referenceRange": "high", "effectivePeriod": {"end": "2026-05-01"}},
    )
    reports = bundle(
        {"resourceType": "DiagnosticReport", "id": "r1", "status": "final", "subject": subject,
         "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD"}]}],
         "code": {"text": "NM bone scan whole body"}, "effectiveDateTime": "2026-05",
         "conclusion": huge, "imagingStudy": [{"reference": "ImagingStudy/missing"}],
         "result": {"reference": "Observation/missing"},
         "presentedForm": [{"contentType": "text/plain", "data": "!!!not base64@@@"},
                           {"contentType": "text/plain", "data": _garbage_base64()},
                           {"contentType": "application/pdf", "data": _garbage_base64()},
                           "not an attachment"]},
        {"resourceType": "DiagnosticReport", "id": "r2", "status": "final", "subject": subject,
         "code": {"coding": [{"system": "http://loinc.org", "code": "72254-6"}]},
         "conclusionCode": [{"coding": [{"system": "http://snomed.info/sct", "code": "94222008"}]}, "bad"],
         "effectiveDateTime": "not a date", "conclusion": 42},
        {"resourceType": "DiagnosticReport", "id": "r1", "status": "final", "subject": subject, "code": None},
        {"resourceType": "DiagnosticReport", "subject": subject, "status": "final"},
    )
    studies = bundle(
        {"resourceType": "ImagingStudy", "id": "s1", "status": "available", "subject": subject,
         "modality": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "NM"}, "started": "2026-05",
         "series": "garbage"},
        {"resourceType": "ImagingStudy", "id": "s2", "status": "available", "subject": subject,
         "modality": [{"code": "PT"}, "CT"], "series": [{"modality": {"code": "CT"}}, None], "started": "2026-13-45"},
    )
    findings = bundle(
        {"resourceType": "Observation", "id": "f1", "status": "final", "subject": subject,
         "category": [{"coding": [{"code": "imaging"}]}],
         "code": {"coding": [{"system": "http://snomed.info/sct", "code": "94222008"}]},
         "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "52101004"}]},
         "derivedFrom": {"reference": "ImagingStudy/s2"}, "note": "sclerotic lesion", "bodySite": [None, 3]},
        {"resourceType": "Observation", "id": "f2", "status": "final", "subject": subject,
         "code": {"coding": [{"system": "http://snomed.info/sct", "code": "94222008"}]}, "valueBoolean": True,
         "partOf": [{"reference": None}], "note": [{"text": 7}, {"text": "new foci"}]},
    )
    administrations = bundle(
        {"resourceType": "MedicationAdministration", "id": "a1", "status": "completed", "subject": subject,
         "medicationReference": {"reference": "Medication/missing"}, "effectivePeriod": {"end": "2026-05-01"}},
        {"resourceType": "MedicationAdministration", "id": "a2", "status": "completed", "subject": subject,
         "medicationCodeableConcept": {"text": "Denosumab"}, "dosage": {"dose": {"value": "sixty", "unit": "mg"}},
         "effectiveDateTime": "2026-05-20"},
    )
    requests = bundle(
        {"resourceType": "MedicationRequest", "id": "m1", "status": "active", "subject": subject,
         "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                   "code": "583214"}]},
         "dosageInstruction": {"timing": {"repeat": {"boundsPeriod": {"start": "garbage"}}}}},
        {"resourceType": "MedicationRequest", "id": "m2", "status": "active", "subject": subject,
         "dosageInstruction": [{"timing": None}, "x"], "authoredOn": "2026-04"},
    )
    prefetch = hook_request()["prefetch"]
    prefetch.update({
        "conditions": conditions, "labs": labs, "imagingReports": reports, "imagingStudies": studies,
        "imagingObservations": findings, "medicationAdministrations": administrations, "medicationRequests": requests,
        "medicationStatements": bundle({"resourceType": "MedicationStatement", "id": "ms", "status": "active"}),
        "procedures": {"resourceType": "Bundle", "type": "searchset",
                       "entry": [{"resource": {"resourceType": "Procedure", "id": "p", "status": "completed",
                                               "code": None, "performedDateTime": "2026"}}, {}, {"resource": None}]},
        "symptomObservations": {"resourceType": "Bundle", "type": "searchset"},
    })
    payload = _post(client, hook_request(prefetch=prefetch))
    assert isinstance(payload["cards"], list)


def _fixture_cards(client: FlaskClient, name: str) -> list[dict[str, Any]]:
    fixture = load_fixture(REPO / "fixtures" / "patient-view" / name)
    assert fixture.as_of == NOW
    return _post(client, fixture.request)["cards"]


def _card(cards: list[dict[str, Any]], topic: str) -> dict[str, Any]:
    return next(c for c in cards if c["source"]["topic"]["code"] == topic)


def test_card_detail_names_the_studies_and_dates_it_rests_on(client: FlaskClient) -> None:
    cards = _fixture_cards(client, "discordant-ct-positive-bone-scan-negative--ct-coded-positive-bone-scan-coded-"
                                   "negative.json")
    detail = _card(cards, "discordant-ct-positive-bone-scan-negative")["detail"]
    assert "CT C/A/P with contrast 2026-05-02" in detail
    assert "Whole-body bone scan 2026-05-14" in detail
    assert "12 days" in detail
    assert "MD Anderson" in detail  # R20 label inside the discordance detail

    cards = _fixture_cards(client, "bone-scan-false-negative-after-chemo--pet-sclerosis-11-days-after-ac.json")
    detail = _card(cards, "bone-scan-false-negative-after-chemo")["detail"]
    assert "Whole-body bone scan 2026-05-23" in detail and "FDG-PET/CT 2026-05-18" in detail
    assert "2026-05-12" in detail  # the last doxorubicin dose

    cards = _fixture_cards(client, "bone-scan-flare--likely-letrozole-palbociclib-pain-resolved.json")
    detail = _card(cards, "bone-scan-flare")["detail"]
    assert "Whole-body bone scan 2026-05-28" in detail
    assert "letrozole + palbociclib" in detail and "2026-03-23" in detail
    assert "ALP falling (262 to 148 U/L)" in detail
    assert "MD Anderson label: MDA progressive disease, but only once a flare is excluded" in detail


HEDGES = re.compile(r"\b(not|apparent|only once|unless|cannot|points? to|flare|excluded|remain possible|versus)\b",
                    re.IGNORECASE)
CLAIMS = re.compile(r"\b(is|shows?|confirms?|indicates?|represents?|consistent with|means|proves?)\s+(disease\s+)?"
                    r"progress", re.IGNORECASE)


def _flare_window_requests() -> list[dict[str, Any]]:
    """Bone scans worded as progression 2 weeks-3 months into a new line, in several encodings."""
    wordings = ("Compared with the prior bone scan, findings are consistent with progression of osseous metastatic "
                "disease.",
                "Interval increase in the number and intensity of skeletal lesions, compatible with progressive "
                "disease.",
                "New foci of increased uptake in the ribs and increased uptake in the known spinal lesions compared "
                "with the prior study.")
    out = []
    for days in (14, 30, 60, 90):
        for i, wording in enumerate(wordings):
            chart = Chart(f"flare-{days}-{i}")
            chart.breast_cancer(onset=-500)
            chart.condition((SNOMED, "94222008"), onset=-300, body_site="Pelvis")
            chart.medication_request(-days - 2, text="Fulvestrant 500 mg IM")
            chart.administration(-10, text="Xgeva 120 mg", dose_mg=120)
            chart.report(-2, (LOINC, "39818-0") if i % 2 else (CPT, "78306"), conclusion=wording)
            out.append(fixture_request(f"flare-{days}-{i}", "patient-view", chart, "", {}))
    return out


def test_no_card_claims_progression_for_a_bone_scan_inside_the_flare_window(client: FlaskClient) -> None:
    requests = [load_fixture(REPO / "fixtures" / "patient-view" / name).request for name in (
        "bone-scan-flare--likely-letrozole-palbociclib-pain-resolved.json",
        "bone-scan-flare--possible-progression-wording-fulvestrant.json",
        "bone-scan-flare--possible-docetaxel-trastuzumab-text-coded-scan.json")]
    requests += [{k: v for k, v in r.items() if k != "extension"} for r in _flare_window_requests()]
    for request in requests:
        cards = _post(client, request)["cards"]
        assert "bone-scan-flare" in [c["source"]["topic"]["code"] for c in cards]
        for card in cards:
            for field in ("summary", "detail"):
                text = card.get(field) or ""
                assert not CLAIMS.search(text), (card["source"]["topic"]["code"], text)
                for sentence in re.split(r"(?<=[.;])\s+|\n", text):
                    if re.search(r"progress", sentence, re.IGNORECASE):
                        assert HEDGES.search(sentence), (card["source"]["topic"]["code"], sentence)
