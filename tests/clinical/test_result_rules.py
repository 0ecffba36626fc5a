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

from cdshooks.catalog.phrases import default_phrases
from cdshooks.clinical.evidence import (
    BONE,
    CORTICAL,
    EPIDURAL,
    IMPENDING_FRACTURE,
    LARGE,
    PATHOLOGIC_FRACTURE,
    UNSPECIFIED,
    VERTEBRAL,
    WEIGHT_BEARING,
    Assertion,
    Status,
)
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
from cdshooks.clinical.report_reading import BoneMetResult, Change, LesionCharacter, read_report
from cdshooks.clinical.rules import bone_health, discordance, disease_course, flare, mda, negative_scan
from cdshooks.clinical.rules.imaging_evidence import is_negative_bone_scan
from cdshooks.fhir.record import Record
from cdshooks.protocol.conformance import response_problems
from cdshooks.replay import load_fixture
from tests.conftest import NOW, PATIENT_VIEW, REPO, bundle, hook_request, shown
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
       character: LesionCharacter | None = None, modality: str = "CT", report: str = "") -> ImagingResult:
    """A CT result; with `report`, its assertions are the reader's reading of that text."""
    when = day(offset)
    return ImagingResult(source=f"DiagnosticReport/ct{offset}", label=f"CT {when.date()}",
                         procedure_class=CT_CAP_IV, modality=modality, when=when, result=result,
                         character=character, changes=frozenset(changes),
                         assertions=read_report(report, modality=modality).assertions if report else ())


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
        assert shown(found[0])["days_apart"] == apart
        assert shown(found[0])["positive_study"] == positive.label
        assert shown(found[0])["negative_study"] == negative.label


def test_discordance_needs_a_study_positive_for_bone() -> None:
    nodal = ct(-30, BoneMetResult.NEGATIVE)
    scan = bone_scan(-20, BoneMetResult.NEGATIVE)
    assert discordance.discordant_ct_positive_bone_scan_negative(facts(imaging=(nodal, scan)), PARAMS) == []
    # an indeterminate CT finding next to a negative scan: correlative imaging, never "treat as metastatic"
    indeterminate = ct(-30, BoneMetResult.INDETERMINATE)
    [found] = discordance.discordant_ct_positive_bone_scan_negative(facts(imaging=(indeterminate, scan)), PARAMS)
    assert (found.topic, shown(found)["variant"]) == ("indeterminate-focus-correlative-imaging", "cross-sectional")


def test_discordance_counts_an_mri_positive_for_bone() -> None:
    """§7.2: a metastatic bone assertion on CT, PET or MRI."""
    mri = ct(-30, BoneMetResult.POSITIVE, modality="MR")
    scan = bone_scan(-20, BoneMetResult.NEGATIVE)
    found = discordance.discordant_ct_positive_bone_scan_negative(facts(imaging=(mri, scan)), PARAMS)
    assert topics(found) == ["discordant-ct-positive-bone-scan-negative"]


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
        assert shown(found[0])["days_after"] == gap
        assert shown(found[0])["agent"] == "doxorubicin"


@pytest.mark.parametrize(("middle_dose", "gap"), [(-39, None), (-30, 22)])
def test_false_negative_counts_from_the_last_dose_before_the_scan(middle_dose: int, gap: int | None) -> None:
    doses = (day(-60), day(middle_dose), day(-1))  # the dose of day -1 comes after the scan
    chemo = agent("paclitaxel", "chemotherapy", *doses)
    high_alp = LabResult("alp", day(-10), 220, "U/L", "high", "interpretation")
    scan = bone_scan(-8, BoneMetResult.NEGATIVE)
    found = discordance.false_negative_after_chemo(facts(imaging=(scan,), therapies=(chemo,), labs=(high_alp,)),
                                                   PARAMS)
    assert (shown(found[0])["days_after"] if found else None) == gap


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
# bone metastases established before every line these window tests start (flare needs them known before, §7.2)
KNOWN_LONG_BEFORE = Condition("Secondary malignant neoplasm of bone", NOW - timedelta(days=400), "Condition/bm0")


def _flare(days_after_start: int, *, extra: dict[str, Any] | None = None,
           changes: tuple[Change, ...] = (Change.NEW_FOCI,)) -> list[Finding]:
    line = agent("fulvestrant", "endocrine", day(SCAN_DAY - days_after_start), administered=True)
    kw: dict[str, Any] = {"bone_mets": (KNOWN_LONG_BEFORE,), "therapies": (line,),
                          "imaging": (bone_scan(SCAN_DAY, BoneMetResult.POSITIVE, *changes),)}
    kw.update(extra or {})
    return flare.bone_scan_flare(facts(**kw), PARAMS)


@pytest.mark.parametrize(("days", "variant"), [(13, None), (14, "possible"), (60, "possible"), (90, "possible"),
                                               (91, "late"), (150, "late"), (180, "late"), (181, None)])
def test_flare_window_14_90_180_days(days: int, variant: str | None) -> None:
    found = _flare(days)
    assert (shown(found[0])["variant"] if found else None) == variant
    if found:
        assert shown(found[0])["therapy_start"] == day(SCAN_DAY - days)
        assert shown(found[0])["follow_up_date"] == day(SCAN_DAY) + timedelta(days=PARAMS["P_FLARE_REIMAGE_DAYS"])


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
    assert shown(found[0])["agent"] == "letrozole + palbociclib"


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
    assert shown(found[0])["variant"] == "likely"
    assert sign in shown(found[0])["improvement"]


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
    assert shown(found[0])["variant"] == "possible"
    assert shown(found[0])["improvement"] == "none documented"


def test_late_flare_stays_late_even_when_improving() -> None:
    pain = Symptom("bone-pain", "Bone pain", day(SCAN_DAY - 140), False, abated=day(SCAN_DAY - 30))
    assert _flare(120, extra={"symptoms": (pain,)})[0].values.variant == "late"


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
    (bone_scan(-5, BoneMetResult.NEGATIVE), "not assessable (no comparison with an earlier study)"),
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
    assert default_phrases().text(mda.mda_label(study)) == label


def test_mda_label_never_calls_a_bone_scan_plain_progression() -> None:
    for change in Change:
        label = default_phrases().text(mda.mda_label(bone_scan(-5, BoneMetResult.POSITIVE, change)))
        assert label != default_phrases().text(mda.CROSS_SECTIONAL_PROGRESSION())
        assert "progress" not in label or "flare is excluded" in label


# -- other result rules: small boundary checks ------------------------------------------------------------

def test_persistent_pain_counts_the_pain_that_led_to_the_scan() -> None:
    scan = bone_scan(-20, BoneMetResult.NEGATIVE)
    prompting = Symptom("bone-pain", "Low back pain", day(-45), True, site="Lumbar spine")
    stale = Symptom("bone-pain", "Low back pain", day(-400), True, site="Lumbar spine")
    resolved = Symptom("bone-pain", "Low back pain", day(-45), False, abated=day(-5))
    found = negative_scan.persistent_pain_after_negative_scan(facts(imaging=(scan,), symptoms=(prompting,)), PARAMS)
    assert found and shown(found[0])["mri_procedure"] == "MRI_SPINE:lumbar"
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
    # a weight-bearing site alone is not a described risk (§7.2 R24)
    ("Mixed lesions in the pelvis and proximal femora, consistent with metastases.", False),
    ("Osseous metastases in the ribs and pelvis. No vertebral involvement. No pathologic fracture of the femur.",
     False),
    ("Metastases in the ribs. The spine is normal.", False),
])
def test_orthopedic_terms_are_read_with_negation(conclusion: str, fires: bool) -> None:
    """Risk features come from the reader's assertions (negation aware), never from raw text in the rule."""
    study = ct(-9, BoneMetResult.POSITIVE, report=conclusion)
    assert bool(bone_health.orthopedic_evaluation(facts(imaging=(study,)), PARAMS)) is fires


def test_orthopedic_ignores_old_imaging_and_a_coded_site_without_risk() -> None:
    text = "Lytic metastasis in the left femur; impending fracture."
    assert bone_health.orthopedic_evaluation(facts(imaging=(ct(-9, BoneMetResult.POSITIVE, report=text),)), PARAMS)
    old = ct(-400, BoneMetResult.POSITIVE, report=text)
    assert bone_health.orthopedic_evaluation(facts(imaging=(old,)), PARAMS) == []
    femur = Condition("Secondary malignant neoplasm of bone", day(-400), "Condition/f", site="Left femur")
    assert bone_health.orthopedic_evaluation(facts(bone_mets=(femur,)), PARAMS) == []


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


# ================================================================================================
# The evidence model (issue 9 item 5, clinical-rules.md §7.2): rules read assertions, never `result`
# ================================================================================================

def study(offset: int, modality: str, *assertions: Assertion, procedure_class: str | None = None,
          label: str | None = None, **kw: Any) -> ImagingResult:
    """A result whose reading is only its assertions (`result` deliberately UNKNOWN)."""
    when = day(offset)
    cls = procedure_class or (BONE_SCAN_WB if modality == "NM" else CT_CAP_IV)
    return ImagingResult(source=f"DiagnosticReport/{modality}{offset}", label=label or f"{modality} {when.date()}",
                         procedure_class=cls, modality=modality, when=when, result=BoneMetResult.UNKNOWN,
                         character=None, assertions=assertions, **kw)


def bone(status: Status, character: str | None = None, *changes: str, features: frozenset[str] = frozenset(),
         site: str | None = None, region: str = BONE) -> Assertion:
    return Assertion(region, status, character=character, changes=frozenset(changes), site=site, features=features)


NEGATIVE_SCAN = study(-20, "NM", bone(Status.NEGATIVE), label="Bone scan negative")
CODED_BONE_METS = Condition("Secondary malignant neoplasm of bone", day(-200), "Condition/bm")


def _discordance(*imaging: ImagingResult, **kw: Any) -> list[Finding]:
    return discordance.discordant_ct_positive_bone_scan_negative(facts(imaging=imaging, **kw), PARAMS)


@pytest.mark.parametrize(("modality", "assertion", "topic"), [
    ("CT", bone(Status.METASTATIC, "blastic"), "discordant-ct-positive-bone-scan-negative"),
    ("MR", bone(Status.METASTATIC), "discordant-ct-positive-bone-scan-negative"),
    ("PT", bone(Status.SUSPICIOUS, "lytic"), "discordant-ct-positive-bone-scan-negative"),
    ("CT", bone(Status.SUSPICIOUS, "mixed"), "discordant-ct-positive-bone-scan-negative"),
    # suspicious sclerosis or an indeterminate focus: correlate, do not treat
    ("CT", bone(Status.SUSPICIOUS, "blastic"), "indeterminate-focus-correlative-imaging"),
    ("CT", bone(Status.INDETERMINATE, "lytic"), "indeterminate-focus-correlative-imaging"),
    ("PT", bone(Status.INDETERMINATE), "indeterminate-focus-correlative-imaging"),
    ("CT", bone(Status.BENIGN, "blastic"), None),  # a bone island
    ("CT", bone(Status.METASTATIC, region="liver"), None),  # a liver lesion is not a bone lesion
])
def test_discordance_reads_the_bone_assertion(modality: str, assertion: Assertion, topic: str | None) -> None:
    found = _discordance(study(-30, modality, assertion), NEGATIVE_SCAN)
    assert (found[0].topic if found else None) == topic


def test_discordance_asks_for_biopsy_until_metastasis_is_confirmed() -> None:
    ct_met = study(-30, "CT", bone(Status.METASTATIC, "lytic", site="left iliac bone"))
    [unconfirmed] = _discordance(ct_met, NEGATIVE_SCAN)
    assert shown(unconfirmed)["variant"] == "unconfirmed" and shown(unconfirmed)["site"] == "left iliac bone"
    [confirmed] = _discordance(ct_met, NEGATIVE_SCAN, bone_mets=(CODED_BONE_METS,))
    assert confirmed.values.variant is None


def test_discordance_reads_a_bone_scan_negative_without_naming_bone() -> None:
    """On a bone scan, "no evidence of metastatic disease" (region unspecified) is a negative bone scan."""
    scan = study(-20, "NM", bone(Status.NEGATIVE, region=UNSPECIFIED))
    assert topics(_discordance(study(-30, "CT", bone(Status.METASTATIC)), scan)) == [
        "discordant-ct-positive-bone-scan-negative"]
    ct_unspecified = study(-30, "CT", bone(Status.NEGATIVE, region=UNSPECIFIED))
    assert not any(is_negative_bone_scan(s) for s in (ct_unspecified,))


def test_a_negative_bone_scan_may_name_benign_uptake() -> None:
    """"No skeletal metastases; degenerative uptake in both knees": benign + negative is a negative scan."""
    scan = study(-20, "NM", bone(Status.BENIGN, site="knees"), bone(Status.NEGATIVE))
    assert is_negative_bone_scan(scan)
    assert topics(_discordance(study(-30, "CT", bone(Status.METASTATIC)), scan)) == [
        "discordant-ct-positive-bone-scan-negative"]
    assert not is_negative_bone_scan(study(-20, "NM", bone(Status.INDETERMINATE), bone(Status.NEGATIVE)))


def test_correlative_imaging_done_silences_the_cross_sectional_variant() -> None:
    indeterminate = study(-30, "CT", bone(Status.INDETERMINATE, "blastic"))
    mri = study(-5, "MR", bone(Status.BENIGN, "blastic"))
    assert _discordance(indeterminate, NEGATIVE_SCAN, mri) == []


def test_false_negative_reads_a_negative_bone_assertion() -> None:
    pet = study(-5, "PT", bone(Status.INDETERMINATE, "blastic"))  # diffuse sclerosis, uninterpreted (seed 001)
    scan = study(-2, "NM", bone(Status.NEGATIVE))
    found = discordance.false_negative_after_chemo(facts(imaging=(pet, scan), therapies=(_chemo_at(-13),)), PARAMS)
    assert topics(found) == ["bone-scan-false-negative-after-chemo"]
    assert "sclerotic" in shown(found[0])["supporting"]
    # a bone scan that is not negative, or a PET sclerosis called benign, gives no card
    indeterminate_scan = study(-2, "NM", bone(Status.INDETERMINATE))
    benign_pet = study(-5, "PT", bone(Status.BENIGN, "blastic"))
    for imaging in ((pet, indeterminate_scan), (benign_pet, scan)):
        assert discordance.false_negative_after_chemo(facts(imaging=imaging, therapies=(_chemo_at(-13),)),
                                                      PARAMS) == []


# -- R13 / R27: flare only in metastases known before the line, and never over cross-sectional progression --

LINE_START = -70


def _line(*extra: Therapy) -> tuple[Therapy, ...]:
    return (agent("letrozole", "endocrine", day(LINE_START), administered=False),
            agent("palbociclib", "cdk46", day(LINE_START), administered=False), *extra)


WORSE_SCAN = study(-4, "NM", bone(Status.METASTATIC, None, "new-foci", "increased-uptake"), label="Bone scan")


def _flare_or_progression(*imaging: ImagingResult, **kw: Any) -> list[Finding]:
    kw.setdefault("therapies", _line())
    return flare.bone_scan_flare(facts(imaging=imaging, **kw), PARAMS)


def test_first_positive_scan_during_therapy_is_new_disease_not_flare() -> None:
    """Seed 002: a first-ever positive bone scan during therapy is stage IV, not flare."""
    [found] = _flare_or_progression(WORSE_SCAN)
    assert (found.topic, shown(found)["variant"]) == ("progression-not-flare", "new-disease")
    assert shown(found)["agent"] == "letrozole + palbociclib"
    # bone metastases coded only after the line started are not "known before" either
    late_code = Condition("Secondary malignant neoplasm of bone", day(LINE_START + 20), "Condition/late")
    assert topics(_flare_or_progression(WORSE_SCAN, bone_mets=(late_code,))) == ["progression-not-flare"]
    # known before: a coded diagnosis, or a metastatic scan before the line
    assert topics(_flare_or_progression(WORSE_SCAN, bone_mets=(CODED_BONE_METS,))) == ["bone-scan-flare"]
    baseline = study(LINE_START - 10, "NM", bone(Status.METASTATIC))
    assert topics(_flare_or_progression(baseline, WORSE_SCAN)) == ["bone-scan-flare"]


def test_first_positive_scan_without_comparison_words_is_new_disease() -> None:
    """A first-ever scan read as metastatic during the line has no prior to be "increased" against: its foci are
    new to the record (R27, blind acceptance review); with metastases known before, no worse word, no card."""
    plain = study(-4, "NM", bone(Status.METASTATIC), label="Bone scan")
    [found] = _flare_or_progression(plain)
    assert (found.topic, shown(found)["variant"]) == ("progression-not-flare", "new-disease")
    assert _flare_or_progression(plain, bone_mets=(CODED_BONE_METS,)) == []


def test_new_disease_needs_a_scan_read_as_metastatic_or_suspicious() -> None:
    vague = study(-4, "NM", bone(Status.INDETERMINATE, None, "increased-uptake"))
    degenerative = study(-4, "NM", bone(Status.BENIGN, None, "increased-uptake"))
    for scan in (vague, degenerative):
        assert _flare_or_progression(scan) == []


@pytest.mark.parametrize(("ct_assertion", "topic"), [
    (bone(Status.METASTATIC, "lytic", "new-foci"), "progression-not-flare"),
    (bone(Status.SUSPICIOUS, "mixed", "progression"), "progression-not-flare"),
    (bone(Status.METASTATIC, region="liver"), "progression-not-flare"),  # a new visceral metastasis
    (bone(Status.SUSPICIOUS, None, "progression", region="lung"), "progression-not-flare"),
    # new sclerosis can be healing (MDA partial response), lytic turning sclerotic is response
    (bone(Status.METASTATIC, "blastic", "new-foci"), "bone-scan-flare"),
    (bone(Status.METASTATIC, "lytic", "sclerotic-change"), "bone-scan-flare"),
    (bone(Status.METASTATIC, "lytic", "stable"), "bone-scan-flare"),
    (bone(Status.METASTATIC, None, "stable", region="liver"), "bone-scan-flare"),
])
def test_cross_sectional_progression_in_the_window_excludes_flare(ct_assertion: Assertion, topic: str) -> None:
    ct_during = study(-10, "CT", ct_assertion)
    found = _flare_or_progression(ct_during, WORSE_SCAN, bone_mets=(CODED_BONE_METS,))
    assert topics(found) == [topic]
    if topic == "progression-not-flare":
        assert shown(found[0])["progression_study"] == ct_during.label
        assert shown(found[0])["variant"] is None


def test_cross_sectional_findings_known_before_the_line_are_not_progression() -> None:
    liver_before = study(LINE_START - 20, "CT", bone(Status.METASTATIC, region="liver"))
    liver_again = study(-10, "CT", bone(Status.METASTATIC, region="liver"))
    assert topics(_flare_or_progression(liver_before, liver_again, WORSE_SCAN, bone_mets=(CODED_BONE_METS,))) == [
        "bone-scan-flare"]
    coded_liver = Condition("Secondary malignant neoplasm of liver", day(LINE_START - 40), "Condition/liver")
    assert topics(_flare_or_progression(liver_again, WORSE_SCAN, bone_mets=(CODED_BONE_METS,),
                                        other_mets=(coded_liver,))) == ["bone-scan-flare"]
    growing_liver = study(-10, "CT", bone(Status.METASTATIC, None, "progression", region="liver"))
    assert topics(_flare_or_progression(growing_liver, WORSE_SCAN, bone_mets=(CODED_BONE_METS,),
                                        other_mets=(coded_liver,))) == ["progression-not-flare"]
    lytic_before_line = study(LINE_START - 5, "CT", bone(Status.METASTATIC, "lytic", "new-foci"))
    assert topics(_flare_or_progression(lytic_before_line, WORSE_SCAN, bone_mets=(CODED_BONE_METS,))) == [
        "bone-scan-flare"]


# -- R15: established bone metastasis only; calcium and renal safety (ASCO-CCO 2017) -------------------------

def test_bma_card_needs_established_bone_metastasis() -> None:
    for status in (Status.SUSPICIOUS, Status.INDETERMINATE, Status.BENIGN):
        assert bone_health.bone_mets_without_bma(facts(imaging=(study(-30, "CT", bone(status, "lytic")),)),
                                                 PARAMS) == []
    ct_met = study(-30, "CT", bone(Status.METASTATIC, "lytic"), label="CT C/A/P 2026-05-02")
    [found] = bone_health.bone_mets_without_bma(facts(imaging=(ct_met,)), PARAMS)
    assert shown(found)["basis_kind"] == "imaging"
    assert str(shown(found)["bone_mets_basis"]).startswith("CT C/A/P 2026-05-02")
    assert shown(found)["bone_mets_since"] == day(-30) and shown(found)["variant"] is None
    [coded] = bone_health.bone_mets_without_bma(facts(bone_mets=(CODED_BONE_METS,)), PARAMS)
    assert shown(coded)["basis_kind"] == "coded"


def test_bma_card_warns_about_calcium_and_renal_limits() -> None:
    egfr = LabResult("egfr", day(-10), 22, "mL/min/1.73m2", "low", "interpretation")
    [found] = bone_health.bone_mets_without_bma(facts(bone_mets=(CODED_BONE_METS,), labs=(egfr,)), PARAMS)
    assert shown(found)["variant"] == "ckd" and shown(found)["renal_evidence"] == egfr.label
    prolia = Therapy("denosumab", "bone-modifying", day(-60), day(-60), False, osteoporosis_dose=True)
    [both] = bone_health.bone_mets_without_bma(facts(bone_mets=(CODED_BONE_METS,), labs=(egfr,),
                                                     therapies=(prolia,)), PARAMS)
    assert shown(both)["variant"] == "osteoporosis-dose-ckd"
    dialysis = Condition("End stage renal disease on dialysis", day(-300), "Condition/esrd")
    [ckd] = bone_health.bone_mets_without_bma(facts(bone_mets=(CODED_BONE_METS,), ckd_severe=dialysis), PARAMS)
    assert shown(ckd)["renal_evidence"] == dialysis.label


# -- R24: established lesion, weight-bearing or vertebral site, described risk ----------------------------------

@pytest.mark.parametrize(("assertion", "established", "fires"), [
    (bone(Status.METASTATIC, "lytic", features=frozenset({WEIGHT_BEARING, CORTICAL}), site="left femur"), False,
     True),
    (bone(Status.METASTATIC, features=frozenset({VERTEBRAL, EPIDURAL})), False, True),
    (bone(Status.METASTATIC, features=frozenset({VERTEBRAL, IMPENDING_FRACTURE})), False, True),
    (bone(Status.METASTATIC, features=frozenset({VERTEBRAL})), True, False),  # "spine" alone
    (bone(Status.METASTATIC, features=frozenset({LARGE})), True, False),  # a large rib lesion
    (bone(Status.SUSPICIOUS, features=frozenset({VERTEBRAL, PATHOLOGIC_FRACTURE})), False, False),
    (bone(Status.SUSPICIOUS, features=frozenset({VERTEBRAL, PATHOLOGIC_FRACTURE})), True, True),
    (bone(Status.BENIGN, features=frozenset({VERTEBRAL, PATHOLOGIC_FRACTURE})), True, False),  # osteoporotic
])
def test_orthopedic_evaluation_reads_lesion_features(assertion: Assertion, established: bool, fires: bool) -> None:
    extra = {"bone_mets": (CODED_BONE_METS,)} if established else {}
    found = bone_health.orthopedic_evaluation(facts(imaging=(study(-9, "CT", assertion),), **extra), PARAMS)
    assert bool(found) is fires
    if found and assertion.site:
        assert shown(found[0])["site"] == "left femur" and shown(found[0])["risk"] == "cortical involvement"


# -- R10-R12, R18, R19, R21 read bone status --------------------------------------------------------------------

def test_indeterminate_focus_reads_the_bone_assertion() -> None:
    scan = study(-5, "NM", bone(Status.INDETERMINATE, site="sternum"))
    assert topics(negative_scan.indeterminate_focus(facts(imaging=(scan,)), PARAMS)) == [
        "indeterminate-focus-correlative-imaging"]
    benign_single = study(-5, "NM", bone(Status.BENIGN), solitary_focus=True)
    assert negative_scan.indeterminate_focus(facts(imaging=(benign_single,)), PARAMS) == []


def test_negative_scan_rules_read_the_bone_assertion() -> None:
    pain = Symptom("bone-pain", "Low back pain", day(-30), True, site="Lumbar spine")
    scan = study(-20, "NM", bone(Status.NEGATIVE))
    assert topics(negative_scan.persistent_pain_after_negative_scan(facts(imaging=(scan,), symptoms=(pain,)),
                                                                    PARAMS)) == [
        "negative-bone-scan-persistent-pain-mri"]
    positive = study(-20, "NM", bone(Status.SUSPICIOUS))
    assert negative_scan.persistent_pain_after_negative_scan(facts(imaging=(positive,), symptoms=(pain,)),
                                                             PARAMS) == []


def test_classic_stage_iv_needs_a_metastatic_multifocal_scan() -> None:
    metastatic = study(-5, "NM", bone(Status.METASTATIC), multifocal=True)
    suspicious = study(-5, "NM", bone(Status.SUSPICIOUS), multifocal=True)
    assert topics(disease_course.classic_positive_bone_scan(facts(imaging=(metastatic,)), PARAMS)) == [
        "classic-bone-scan-stage-iv"]
    assert disease_course.classic_positive_bone_scan(facts(imaging=(suspicious,)), PARAMS) == []
