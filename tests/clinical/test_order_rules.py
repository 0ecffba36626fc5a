"""Order-time rules on hand-built facts: window edges, stage limits, the eGFR limit, renal impairment and the
contrast-CT alternative, the split C/A/P CT; messy FHIR through order-select; suggested orders as valid FHIR.

The rules are pure functions of (PatientFacts, parameters); parameters are the shipped defaults
(clinical-rules.md §1.3: post-chemotherapy 28 d, flare 14-90 d, eGFR limit 30, suspicion 30 d).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.servicerequest import ServiceRequest
from flask.testing import FlaskClient

from cdshooks.clinical.build_facts import build_facts
from cdshooks.clinical.extract.conditions import parse_stage
from cdshooks.clinical.facts import (
    BONE_SCAN_WB,
    CT_CAP_IV,
    CT_CAP_NOIV,
    FDG_PETCT,
    MRI_BRAIN,
    Condition,
    DraftOrder,
    ImagingResult,
    LabResult,
    PatientFacts,
    Symptom,
    Therapy,
)
from cdshooks.clinical.findings import Finding
from cdshooks.clinical.knowledge import default_knowledge
from cdshooks.clinical.report_reading import BoneMetResult, Change, LesionCharacter
from cdshooks.clinical.rules import appropriateness, bone_health, bone_scan_timing, contrast, site
from cdshooks.fhir.record import Record
from cdshooks.replay import RATING_URL, load_fixture
from tests.conftest import ORDER_SELECT, ORDER_SIGN, REPO, hook_request, shown

KB = default_knowledge()
PARAMS = KB.parameters
NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)  # = tools.fixtures.builders.AS_OF = the test app's clock
CPT = "http://www.ama-assn.org/go/cpt"
LOINC = "http://loinc.org"
FIXTURES = REPO / "fixtures"
SERVICE_FOR = {"order-select": ORDER_SELECT, "order-sign": ORDER_SIGN}
POSTCHEMO_ON = {**PARAMS, "P_ORDER_TIME_POSTCHEMO_TIMING": 1}  # the order-time R09 card, off by default


# -- hand-built facts ---------------------------------------------------------------------------------
def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def date_ago(days: int) -> datetime:
    """A date-only FHIR value `days` ago, as the extractors read it (midnight UTC)."""
    return datetime.combine((NOW - timedelta(days=days)).date(), time(0), tzinfo=UTC)


BREAST_CANCER = Condition("Malignant neoplasm of breast", ago(200), "Condition/bc")
BONE_METS = Condition("Secondary malignant neoplasm of bone", ago(60), "Condition/mets")


def bone_pain(days: float = 10) -> Symptom:
    return Symptom("bone-pain", "Bone pain", ago(days), True, source="Condition/pain")


def therapy(agent: str, drug_class: str, start: datetime, last: datetime | None = None) -> Therapy:
    """Administered from `start` to `last`; "ongoing" when the last dose is within a 28-day cycle."""
    last = last or start
    return Therapy(agent, drug_class, start, last, ongoing=NOW - last <= timedelta(days=28), administered=True,
                   doses=(start, last))


def chemo(last: datetime) -> Therapy:
    return therapy("doxorubicin", "chemotherapy", last - timedelta(days=63), last)


def lab(kind: str, value: float, when: datetime, flag: str | None) -> LabResult:
    return LabResult(kind, when, value, "U/L", flag, "reference-range" if flag else "none")


def order(cls: str | None = BONE_SCAN_WB, ref: str = "ServiceRequest/sr-1", selected: bool = True,
          drug_class: str | None = None) -> DraftOrder:
    contrast = KB.procedure_field(cls, "iodinated_contrast") if cls else None
    return DraftOrder(ref, selected, cls or ref, procedure_class=cls, drug_class=drug_class,
                      iodinated_contrast=contrast)


def facts(*orders: DraftOrder, **kw: Any) -> PatientFacts:
    kw.setdefault("breast_cancer", BREAST_CANCER)
    return PatientFacts(now=NOW, orders=orders, **kw)


def scenario_facts(*orders: DraftOrder, **kw: Any) -> PatientFacts:
    """The ACR scenario: breast cancer, on chemotherapy (last dose 40 days ago), new bone pain."""
    kw.setdefault("therapies", (chemo(ago(40)),))
    kw.setdefault("symptoms", (bone_pain(),))
    return facts(*orders, **kw)


def topics(findings: list[Finding]) -> set[str]:
    return {f.topic for f in findings}


def imaging(when: datetime, character: LesionCharacter | None, changes: frozenset[Change] = frozenset(),
            procedure_class: str | None = CT_CAP_IV, modality: str = "CT",
            result: BoneMetResult = BoneMetResult.POSITIVE) -> ImagingResult:
    return ImagingResult(f"DiagnosticReport/{when.date()}", f"CT {when.date()}", procedure_class, modality, when,
                         result, character, changes)


# -- post-chemotherapy window (R09, 28 days) ----------------------------------------------------------
# windows count calendar days (NOW is 09:00): an instant 28.3 days ago fell on the calendar day 28 days ago
@pytest.mark.parametrize(("last_dose", "fires", "days"), [
    (ago(0.2), True, 0),      # this morning
    (ago(0.5), True, 1),      # yesterday evening: calendar day 1
    (ago(28), True, 28),      # administration instant exactly 28 days ago: the window's last day
    (date_ago(28), True, 28),  # date-only "28 days ago" is day 28 at any hour today
    (ago(28.3), True, 28),    # same calendar day
    (ago(28.5), False, 29),   # the evening before: day 29
    (date_ago(29), False, 29),
])
def test_post_chemo_window_edges(last_dose: datetime, fires: bool, days: int) -> None:
    found = bone_scan_timing.post_chemo_timing(facts(order(), therapies=(chemo(last_dose),)), POSTCHEMO_ON)
    assert bool(found) is fires
    if fires:
        assert shown(found[0])["days_since"] == days


def test_post_chemo_counts_only_cytotoxic_agents_and_bone_scans() -> None:
    her2 = therapy("trastuzumab", "her2", ago(5))
    assert bone_scan_timing.post_chemo_timing(facts(order(), therapies=(her2, chemo(ago(50)))), POSTCHEMO_ON) == []
    assert bone_scan_timing.post_chemo_timing(facts(order(CT_CAP_IV), therapies=(chemo(ago(5)),)),
                                              POSTCHEMO_ON) == []


def test_post_chemo_timing_is_off_by_default() -> None:
    """§7.2: no literature defines the window and it fired during neoadjuvant chemotherapy, where the ACR rates a
    bone scan usually appropriate; only a site setting switches it on."""
    assert PARAMS["P_ORDER_TIME_POSTCHEMO_TIMING"] == 0
    assert bone_scan_timing.post_chemo_timing(facts(order(), therapies=(chemo(ago(5)),)), PARAMS) == []


# -- flare window (R13, 14-90 days after a new line, known bone metastases) ----------------------------
@pytest.mark.parametrize(("start", "fires"), [
    (ago(13.3), False),       # calendar day 13
    (ago(13.5), True),        # the evening of day 14
    (date_ago(13), False),
    (ago(14), True),
    (date_ago(90), True),     # date-only start 90 days ago: still day 90
    (ago(90.3), True),        # calendar day 90
    (ago(90.5), False),       # day 91
    (ago(91), False),
])
def test_flare_window_edges(start: datetime, fires: bool) -> None:
    line = therapy("letrozole", "endocrine", start)
    found = bone_scan_timing.flare_window(facts(order(), bone_mets=(BONE_METS,), therapies=(line,)), PARAMS)
    assert bool(found) is fires


def test_flare_needs_known_bone_metastases_and_an_anticancer_line() -> None:
    letrozole = therapy("letrozole", "endocrine", ago(45))
    denosumab = therapy("denosumab", "bone-modifying", ago(45))
    assert bone_scan_timing.flare_window(facts(order(), therapies=(letrozole,)), PARAMS) == []
    assert bone_scan_timing.flare_window(facts(order(), bone_mets=(BONE_METS,), therapies=(denosumab,)), PARAMS) == []
    positive_scan = imaging(ago(100), None, procedure_class=BONE_SCAN_WB, modality="NM")
    assert bone_scan_timing.flare_window(facts(order(), imaging=(positive_scan,), therapies=(letrozole,)), PARAMS)


# -- early-stage survey without suspicion (stage 0-IIA only) ------------------------------------------
@pytest.mark.parametrize(("stage", "fires"), [
    ("0", True), ("I", True), ("IA", True), ("IB", True), ("IIA", True),
    ("IIB", False), ("II", False), ("IIIA", False), ("IV", False), (None, False),
])
def test_no_suspicion_survey_stage_limit(stage: str | None, fires: bool) -> None:
    found = appropriateness.no_suspicion_survey(facts(order(), stage=stage), PARAMS)
    assert bool(found) is fires


@pytest.mark.parametrize("change", [
    {"symptoms": (bone_pain(),)},
    {"labs": (lab("alp", 180, ago(3), "high"),)},
    {"labs": (lab("alt", 90, ago(3), "high"),)},
    {"bone_mets": (BONE_METS,)},
    {"other_mets": (Condition("Secondary malignant neoplasm of liver", ago(9), "Condition/liver"),)},
])
def test_no_suspicion_survey_silenced(change: dict[str, Any]) -> None:
    assert appropriateness.no_suspicion_survey(facts(order(), stage="IIA", **change), PARAMS) == []


def test_no_suspicion_survey_ignores_old_symptoms_and_normal_labs() -> None:
    quiet = facts(order(FDG_PETCT), stage="IA", symptoms=(bone_pain(45),), labs=(lab("alp", 80, ago(3), "normal"),))
    assert topics(appropriateness.no_suspicion_survey(quiet, PARAMS)) == {"no-suspicion-survey-not-indicated"}


@pytest.mark.parametrize(("text", "stage"), [
    ("Stage IIA", "IIA"), ("stage IIB", "IIB"), ("Stage 2A", "IIA"), ("stage 2 b", "IIB"), ("Stage 1", "I"),
    ("AJCC stage IA (cT1c cN0 cM0)", "IA"), ("Stage 4", "IV"), ("IIIC", "IIIC"), ("Stage 10", None), ("", None),
])
def test_parse_stage(text: str, stage: str | None) -> None:
    assert parse_stage(text) == stage


# -- renal impairment (R07, eGFR < 30 within 90 days, or CKD 4/5) -------------------------------------
@pytest.mark.parametrize(("value", "days", "fires"), [
    (29.9, 3, True), (30, 3, False), (30.1, 3, False), (12, 89, True), (12, 91, False),
])
def test_egfr_limit(value: float, days: float, fires: bool) -> None:
    egfr = LabResult("egfr", ago(days), value, "mL/min/{1.73_m2}", None, "none")
    found = contrast.renal_impairment_contrast(facts(order(CT_CAP_IV), labs=(egfr,)), PARAMS)
    assert bool(found) is fires


def test_latest_egfr_decides_and_ckd_4_counts() -> None:
    recovered = (LabResult("egfr", ago(60), 21, "", "low", "interpretation"),
                 LabResult("egfr", ago(4), 70, "", "normal", "interpretation"))
    assert contrast.renal_impairment_contrast(facts(order(CT_CAP_IV), labs=recovered), PARAMS) == []
    ckd = Condition("Chronic kidney disease, stage 4 (severe)", ago(900), "Condition/ckd")
    assert contrast.renal_impairment_contrast(facts(order(CT_CAP_IV), ckd_severe=ckd), PARAMS)
    assert contrast.renal_impairment_contrast(facts(order(CT_CAP_NOIV), ckd_severe=ckd), PARAMS) == []
    assert contrast.renal_impairment_contrast(facts(order(BONE_SCAN_WB), ckd_severe=ckd), PARAMS) == []


def test_renal_impairment_removes_the_contrast_ct_alternative() -> None:
    low = (LabResult("egfr", ago(5), 24, "", "low", "reference-range"),)
    normal = (LabResult("egfr", ago(5), 82, "", "normal", "reference-range"),)
    for cls in (CT_CAP_NOIV, "MRI_CAP"):
        [impaired] = appropriateness.usually_not_appropriate(scenario_facts(order(cls), labs=low), PARAMS, KB.acr)
        assert impaired.suggestions == ("replace-bone-scan", "replace-fdg-petct")
        assert "contrast CT" not in shown(impaired)["alternatives"]
        [fine] = appropriateness.usually_not_appropriate(scenario_facts(order(cls), labs=normal), PARAMS, KB.acr)
        assert fine.suggestions == ("replace-bone-scan", "replace-ct-cap-iv", "replace-fdg-petct")
    lytic = (imaging(ago(20), LesionCharacter.LYTIC),)
    [finding] = bone_scan_timing.lytic_limitation(facts(order(), imaging=lytic, labs=low), PARAMS)
    assert finding.suggestions == ("replace-fdg-petct",)


# -- ACR scenario gate and ratings --------------------------------------------------------------------
def test_usually_not_appropriate_needs_the_scenario() -> None:
    mri = order("MRI_CAP")
    assert appropriateness.usually_not_appropriate(scenario_facts(mri), PARAMS, KB.acr)
    assert appropriateness.usually_not_appropriate(scenario_facts(mri, symptoms=()), PARAMS, KB.acr) == []
    assert appropriateness.usually_not_appropriate(scenario_facts(mri, therapies=(chemo(ago(400)),)), PARAMS,
                                                   KB.acr) == []
    headache = Symptom("headache", "Headache", ago(3), True)
    assert appropriateness.usually_not_appropriate(scenario_facts(mri, symptoms=(bone_pain(), headache)), PARAMS,
                                                   KB.acr) == []


def test_ratings_follow_the_table_and_need_a_complete_record() -> None:
    drafts = (order(BONE_SCAN_WB, "ServiceRequest/a"), order("MRI_CAP", "ServiceRequest/b"),
              order("MRI_SPINE", "ServiceRequest/c"), order(CT_CAP_IV, "ServiceRequest/d", selected=False))
    rated = {r.order_id: r.rating for r in appropriateness.ratings(scenario_facts(*drafts), PARAMS, KB.acr, True)}
    assert rated == {"ServiceRequest/a": "appropriate", "ServiceRequest/b": "not-appropriate",
                     "ServiceRequest/c": "no-criteria-apply"}
    outside = {r.rating for r in appropriateness.ratings(facts(*drafts), PARAMS, KB.acr, True)}
    assert outside == {"no-criteria-apply"}
    assert appropriateness.ratings(scenario_facts(*drafts), PARAMS, KB.acr, False) == []


# -- split C/A/P CT (two orders count as one) ----------------------------------------------------------
def _draft(order_id: str, *codes: tuple[str, str], text: str | None = None) -> dict[str, Any]:
    code: dict[str, Any] = {"coding": [{"system": s, "code": c} for s, c in codes]}
    if text:
        code["text"] = text
    return {"resourceType": "ServiceRequest", "id": order_id, "status": "draft", "intent": "order",
            "subject": {"reference": "Patient/p"}, "code": code}


def _record(*drafts: dict[str, Any], selections: tuple[str, ...] = (), **resources: list[dict[str, Any]]) -> Record:
    chart = [{"resourceType": "Condition", "id": "bc", "code": {"coding": [
        {"system": "http://snomed.info/sct", "code": "254837009"}]}}]
    chart += [r for group in resources.values() for r in group]
    return Record.build("p", chart, drafts, selections)


@pytest.mark.parametrize(("codes", "merged"), [
    (((CPT, "71260"), (CPT, "74177")), CT_CAP_IV),
    (((LOINC, "24628-0"), (LOINC, "36813-4")), CT_CAP_IV),
    (((CPT, "71250"), (CPT, "74176")), CT_CAP_NOIV),
    (((CPT, "71552"), (CPT, "74183"), (CPT, "72197")), "MRI_CAP"),
])
def test_split_orders_merge_into_one_survey(codes: tuple[tuple[str, str], ...], merged: str) -> None:
    drafts = [_draft(f"sr-{i}", code) for i, code in enumerate(codes)]
    built = build_facts(_record(*drafts, selections=("ServiceRequest/sr-0",)), NOW, KB)
    assert {o.procedure_class for o in built.orders} == {merged}
    assert all(o.selected for o in built.orders)  # selecting one half selects the survey


def test_half_a_split_ct_stays_a_single_region() -> None:
    built = build_facts(_record(_draft("sr-chest", (CPT, "71260"))), NOW, KB)
    assert [o.procedure_class for o in built.orders] == ["CT_CHEST_IV"]
    ckd = Condition("Chronic kidney disease, stage 5", ago(400), "Condition/ckd")
    # a contrast CT of any region is warned (§7.2 R07), offering the same region without contrast
    [renal] = contrast.renal_impairment_contrast(
        PatientFacts(now=NOW, breast_cancer=BREAST_CANCER, orders=built.orders, ckd_severe=ckd), PARAMS)
    assert renal.suggestions == ("replace-without-contrast",)
    assert shown(renal)["order_class"] == "CT_CHEST_IV"


def test_split_ct_is_rated_and_warned_as_one() -> None:
    built = build_facts(_record(_draft("sr-chest", (CPT, "71260")), _draft("sr-ap", (CPT, "74177"))), NOW, KB)
    merged = scenario_facts(*built.orders, labs=(LabResult("egfr", ago(3), 22, "", "low", "interpretation"),))
    rated = {r.order_id: r.rating for r in appropriateness.ratings(merged, PARAMS, KB.acr, True)}
    assert rated == {"ServiceRequest/sr-chest": "appropriate", "ServiceRequest/sr-ap": "appropriate"}
    [renal] = contrast.renal_impairment_contrast(merged, PARAMS)
    assert renal.order_ids == ("ServiceRequest/sr-chest", "ServiceRequest/sr-ap")


# -- CNS symptoms (R05) ---------------------------------------------------------------------------------
def test_cns_card_until_a_brain_mri_answers_the_question() -> None:
    headache = Symptom("headache", "Headache", ago(10), True)
    brain_before = imaging(ago(30), None, procedure_class=MRI_BRAIN, modality="MR", result=BoneMetResult.UNKNOWN)
    brain_after = imaging(ago(3), None, procedure_class=MRI_BRAIN, modality="MR", result=BoneMetResult.UNKNOWN)
    assert site.cns_symptoms_at_order(facts(order(), symptoms=(headache,), imaging=(brain_before,)), PARAMS)
    assert site.cns_symptoms_at_order(facts(order(), symptoms=(headache,), imaging=(brain_after,)), PARAMS) == []
    assert site.cns_symptoms_at_order(facts(order(), order(MRI_BRAIN, "ServiceRequest/b", selected=False),
                                            symptoms=(headache,)), PARAMS) == []
    assert site.cns_symptoms_at_order(facts(order("XR_SURVEY"), symptoms=(headache,)), PARAMS) == []


def test_cns_weakness_with_back_pain_suggests_spine_too() -> None:
    weakness = Symptom("weakness", "Left leg weakness", ago(2), True, subkind="weakness-focal")
    back = Symptom("bone-pain", "Low back pain", ago(6), True, site="Lumbar spine")
    [finding] = site.cns_symptoms_at_order(facts(order(), symptoms=(weakness, back)), PARAMS)
    assert finding.suggestions == ("add-mri-brain", "add-mri-spine")


# -- visceral suspicion (R04a) --------------------------------------------------------------------------
def test_visceral_suspicion_window_and_alternatives() -> None:
    alt_high = lab("alt", 120, ago(29), "high")
    assert site.visceral_suspicion_bone_scan_alone(scenario_facts(order(), labs=(alt_high,)), PARAMS)
    old = lab("alt", 120, ago(31), "high")
    assert site.visceral_suspicion_bone_scan_alone(scenario_facts(order(), labs=(old,)), PARAMS) == []
    with_pet = scenario_facts(order(), order(FDG_PETCT, "ServiceRequest/pet", selected=False), labs=(alt_high,))
    assert site.visceral_suspicion_bone_scan_alone(with_pet, PARAMS) == []
    recent_ct = imaging(ago(12), None, result=BoneMetResult.NEGATIVE)
    assert site.visceral_suspicion_bone_scan_alone(scenario_facts(order(), labs=(alt_high,), imaging=(recent_ct,)),
                                                   PARAMS) == []


# -- aggressive subtype (R06) ---------------------------------------------------------------------------
def test_aggressive_subtype_needs_suspicion_not_therapy() -> None:
    staging = facts(order(), inflammatory=True, symptoms=(bone_pain(3),))
    assert topics(appropriateness.aggressive_subtype(staging, PARAMS)) == {"aggressive-subtype-pet-ct"}
    assert appropriateness.aggressive_subtype(facts(order(), triple_negative=True), PARAMS) == []
    with_pet = facts(order(), order(FDG_PETCT, "ServiceRequest/pet"), triple_negative=True, symptoms=(bone_pain(),))
    assert appropriateness.aggressive_subtype(with_pet, PARAMS) == []
    assert appropriateness.aggressive_subtype(facts(order(), symptoms=(bone_pain(),)), PARAMS) == []


# -- radiograph survey (R17) ----------------------------------------------------------------------------
def test_radiograph_survey_silenced_by_a_recent_or_drafted_scan() -> None:
    xr = order("XR_SURVEY")
    assert appropriateness.radiograph_survey(facts(xr, symptoms=(bone_pain(),)), PARAMS)
    scan = imaging(ago(14), None, procedure_class=BONE_SCAN_WB, modality="NM")
    assert appropriateness.radiograph_survey(facts(xr, symptoms=(bone_pain(),), imaging=(scan,)), PARAMS) == []
    old_scan = imaging(ago(45), None, procedure_class=BONE_SCAN_WB, modality="NM")
    assert appropriateness.radiograph_survey(facts(xr, symptoms=(bone_pain(),), imaging=(old_scan,)), PARAMS)
    assert appropriateness.radiograph_survey(facts(xr), PARAMS) == []


# -- lytic limitation (R08/R23) ---------------------------------------------------------------------------
def test_latest_lesion_description_decides() -> None:
    lytic, later_sclerotic = imaging(ago(160), LesionCharacter.LYTIC), imaging(
        ago(20), None, frozenset({Change.SCLEROTIC_CHANGE}))
    assert bone_scan_timing.lytic_limitation(facts(order(), imaging=(lytic,)), PARAMS)
    assert bone_scan_timing.lytic_limitation(facts(order(), imaging=(lytic, later_sclerotic)), PARAMS) == []
    mixed = imaging(ago(10), LesionCharacter.MIXED)
    assert bone_scan_timing.lytic_limitation(facts(order(), imaging=(lytic, mixed)), PARAMS) == []
    silent_ct = imaging(ago(5), None, result=BoneMetResult.UNKNOWN)  # says nothing about the lesions
    [finding] = bone_scan_timing.lytic_limitation(facts(order(), imaging=(lytic, silent_ct)), PARAMS)
    assert shown(finding)["lytic_study"] == lytic.label
    radiograph = imaging(ago(5), LesionCharacter.LYTIC, procedure_class="XR_SITE", modality="XR")
    assert bone_scan_timing.lytic_limitation(facts(order(), imaging=(radiograph,)), PARAMS) == []


# -- BMA prerequisites (R15b) ----------------------------------------------------------------------------
def test_bma_prerequisites() -> None:
    bma = order(None, "MedicationRequest/bma", drug_class="bone-modifying")
    supplement = order(None, "MedicationRequest/ca", selected=False, drug_class="calcium-vitamin-d")
    [both] = bone_health.bma_prerequisites(facts(bma), PARAMS)
    assert shown(both)["missing"] == "a dental evaluation and calcium and vitamin D supplementation"
    [dental] = bone_health.bma_prerequisites(facts(bma, supplement), PARAMS)
    assert shown(dental)["missing"] == "a dental evaluation"
    assert bone_health.bma_prerequisites(facts(bma, supplement, dental_evaluation=True), PARAMS) == []
    assert bone_health.bma_prerequisites(facts(bma, dental_evaluation=True, calcium_vitamin_d=True), PARAMS) == []
    unselected = order(None, "MedicationRequest/bma", selected=False, drug_class="bone-modifying")
    assert bone_health.bma_prerequisites(facts(unselected), PARAMS) == []


@pytest.mark.parametrize(("medication", "prerequisites", "variant"), [
    ("denosumab", {}, "renal-denosumab"),
    ("denosumab", {"dental_evaluation": True, "calcium_vitamin_d": True}, "renal-denosumab-complete"),
    ("zoledronic acid", {}, "renal-bisphosphonate"),
    ("pamidronate", {"dental_evaluation": True, "calcium_vitamin_d": True}, "renal-bisphosphonate-complete"),
])
def test_bma_prerequisites_warn_about_calcium_and_renal_limits(medication: str, prerequisites: dict[str, bool],
                                                               variant: str) -> None:
    """ASCO-CCO 2017: severe hypocalcaemia with denosumab below CrCl 30 / dialysis; zoledronic acid dosed by
    creatinine clearance and not recommended below 30. The card fires even when nothing else is missing."""
    bma = DraftOrder("MedicationRequest/bma", True, medication, medication=medication, drug_class="bone-modifying")
    egfr = lab("egfr", 24, ago(10), "low")
    [found] = bone_health.bma_prerequisites(facts(bma, labs=(egfr,), **prerequisites), PARAMS)
    assert shown(found)["variant"] == variant and shown(found)["renal_evidence"] == egfr.label
    normal = lab("egfr", 64, ago(10), None)
    complete = {"dental_evaluation": True, "calcium_vitamin_d": True}
    assert bone_health.bma_prerequisites(facts(bma, labs=(normal,), **complete), PARAMS) == []


def test_drafted_supplement_is_read_from_the_order() -> None:
    drafts = ({"resourceType": "MedicationRequest", "id": "ca", "status": "draft", "intent": "order",
               "medicationCodeableConcept": {"text": "Calcium carbonate 500 mg + vitamin D3 400 IU"}},
              {"resourceType": "MedicationRequest", "id": "xgeva", "status": "draft", "intent": "order",
               "medicationCodeableConcept": {"text": "Xgeva 120 mg SC"}})
    built = build_facts(Record.build("p", [], drafts), NOW, KB)
    assert {(o.ref, o.drug_class) for o in built.orders} == {("MedicationRequest/ca", "calcium-vitamin-d"),
                                                            ("MedicationRequest/xgeva", "bone-modifying")}


# -- through the service ------------------------------------------------------------------------------------
def _post_fixture(client: FlaskClient, relative: str) -> tuple[dict[str, Any], dict[str, Any]]:
    fixture = load_fixture(FIXTURES / relative)
    response = client.post(f"/cds-services/{fixture.service_id}", json=fixture.request)
    assert response.status_code == 200, response.get_json()
    return fixture.request, response.get_json()


def _ratings(body: dict[str, Any]) -> list[str]:
    return [f"{a['resource']['resourceType']}/{a['resource']['id']}" for a in body.get("systemActions", [])
            if any(e.get("url") == RATING_URL for e in a.get("resource", {}).get("extension", []))]


def test_no_rating_when_labs_were_not_prefetched(client: FlaskClient) -> None:
    relative = "order-select/acr-usually-not-appropriate--labs-not-prefetched-no-rating.json"
    request, body = _post_fixture(client, relative)
    assert "labs" not in request["prefetch"] and "fhirServer" not in request
    assert [c["source"]["topic"]["code"] for c in body["cards"]] == ["acr-usually-not-appropriate"]
    assert _ratings(body) == []
    _, complete = _post_fixture(client, "order-select/acr-usually-not-appropriate--mri-cap-text-only.json")
    assert _ratings(complete) == ["ServiceRequest/sr-mri-cap"]


def _bundle(*resources: Any) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def _messy_request() -> dict[str, Any]:
    subject = {"reference": "Patient/bc-1"}
    body = hook_request("order-select")
    pf = body["prefetch"]
    cancer = {"resourceType": "Condition", "id": "c-bc", "subject": subject,
              "code": {"coding": [{"system": "http://snomed.info/sct", "code": "254837009"}]},
              "onsetDateTime": "2026-05", "stage": [{"summary": {"text": "Stage 2A"}}, "garbage"]}
    pf["conditions"] = _bundle(
        cancer, copy.deepcopy(cancer),  # duplicate id
        {"resourceType": "Condition", "id": "no-code", "subject": subject},
        {"resourceType": "Condition", "id": "odd", "code": {"coding": "not-a-list"}, "onsetDateTime": "yesterday",
         "clinicalStatus": "active", "verificationStatus": 7, "bodySite": "spine"},
        {"resourceType": "Condition", "id": "pain", "code": {"text": "bone pain"}, "onsetDateTime": "2026",
         "abatementDateTime": "2026-13-45"},
        "not a resource", None, {"no": "resourceType"},
    )
    pf["labs"] = _bundle(
        {"resourceType": "Observation", "id": "alp-1", "status": "final",
         "code": {"coding": [{"system": "http://loinc.org", "code": "6768-6"}]}, "effectiveDateTime": "2026-05",
         "valueQuantity": {"value": "abc", "unit": "furlongs"}, "referenceRange": [{"high": {"value": "x"}}]},
        {"resourceType": "Observation", "id": "alp-2", "status": "final",
         "code": {"coding": [{"system": "http://loinc.org", "code": "6768-6"}]}, "effectiveDateTime": "2026-05-30",
         "valueQuantity": {"value": 3.1, "unit": "ukat/L"},
         "referenceRange": [{"high": {"value": 120, "unit": "U/L"}}]},
        {"resourceType": "Observation", "id": "egfr", "status": "final",
         "code": {"coding": [{"system": "http://loinc.org", "code": "98979-8"}]},
         "effectiveDateTime": "2026-05-31T25:99:00Z", "valueQuantity": {"value": "NaN", "unit": None}},
        {"resourceType": "Observation", "id": "alt", "code": {"text": "ALT"}, "valueString": "high-ish",
         "interpretation": "H"},
    )
    pf["tumorMarkers"] = _bundle({"resourceType": "Observation", "id": "er", "code": {"text": "ER status"},
                                  "valueCodeableConcept": ["negative"]})
    pf["medicationAdministrations"] = _bundle(
        {"resourceType": "MedicationAdministration", "id": "ma-1", "status": "completed",
         "medicationReference": {"reference": "Medication/missing"}, "effectiveDateTime": "2026-05-20"},
        {"resourceType": "MedicationAdministration", "id": "ma-2", "status": "completed",
         "medicationCodeableConcept": {"text": "doxorubicin"}, "effectivePeriod": {"start": "soon"}},
        {"resourceType": "MedicationAdministration", "id": "ma-3", "medicationCodeableConcept": {"text": "paclitaxel"},
         "effectiveDateTime": "2026-05", "dosage": {"dose": {"value": "lots", "unit": "mg"}}},
    )
    pf["medicationRequests"] = _bundle(
        {"resourceType": "MedicationRequest", "id": "mr-1", "status": "active",
         "medicationCodeableConcept": {"text": "letrozole"}, "dosageInstruction": {"timing": "daily"},
         "authoredOn": "2026-02"},
        {"resourceType": "MedicationRequest", "id": "mr-2", "status": "active",
         "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                   "code": 993449}]},
         "dosageInstruction": [None, {"doseAndRate": "x"}, {"timing": {"repeat": {"boundsPeriod": "2026"}}}]},
    )
    pf["imagingReports"] = _bundle(
        {"resourceType": "DiagnosticReport", "id": "dr-1", "status": "final",
         "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD"}]}],
         "code": {"text": "CT chest abdomen pelvis with contrast"}, "effectiveDateTime": "2026-05",
         "conclusion": 42, "conclusionCode": "94222008", "imagingStudy": [{"reference": "ImagingStudy/gone"}],
         "result": [{"reference": "Observation/gone"}, "x"],
         "presentedForm": [{"contentType": "text/plain", "data": "%%%not base64%%%"}]},
        {"resourceType": "DiagnosticReport", "id": "dr-2", "status": "final", "code": {},
         "conclusion": "Lytic lesion T8, no metastasis? " * 500},
    )
    pf["imagingStudies"] = _bundle({"resourceType": "ImagingStudy", "id": "is-1", "modality": "NM",
                                    "series": [{"modality": "CT"}, 3], "started": "2026-05"})
    pf["imagingObservations"] = _bundle({"resourceType": "Observation", "id": "io-1", "category": "imaging",
                                         "code": {"coding": [{"system": "http://snomed.info/sct",
                                                              "code": "94222008"}]},
                                         "valueBoolean": True, "derivedFrom": ["ImagingStudy/is-1", {"x": 1}]})
    pf["procedures"] = _bundle({"resourceType": "Procedure", "id": "pr-1", "status": "completed",
                                "code": {"text": "Dental evaluation"}, "performedDateTime": None})
    drafts = [
        {"resourceType": "ServiceRequest", "id": "draft-1", "status": "draft", "intent": "order",
         "code": {"text": "bone scan whole body"}, "reasonCode": {"text": "headache"}},
        {"resourceType": "ServiceRequest", "id": "draft-1", "status": "draft", "intent": "order",
         "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "71260"}]}},  # duplicate id
        {"resourceType": "ServiceRequest", "id": "no-code", "status": "draft"},
        {"resourceType": "ServiceRequest", "id": "weird", "status": "draft", "code": "78306",
         "reasonCode": ["bone pain", {"coding": [None]}]},
        {"resourceType": "MedicationRequest", "id": "bma", "status": "draft",
         "medicationReference": {"reference": "Medication/unknown", "display": "denosumab 120 mg"}},
        {"resourceType": "MedicationRequest", "id": "empty", "status": "draft"},
    ]
    body["context"]["draftOrders"]["entry"] = [{"resource": d} for d in drafts]
    body["context"]["selections"] = ["ServiceRequest/draft-1", "ServiceRequest/weird", "MedicationRequest/bma"]
    return body


def test_messy_fhir_never_crashes_order_select(client: FlaskClient) -> None:
    request = _messy_request()
    for hook, service in SERVICE_FOR.items():
        body = copy.deepcopy(request)
        body["hook"] = hook
        if hook == "order-sign":
            body["context"].pop("selections")
        response = client.post(f"/cds-services/{service}", json=body)
        assert response.status_code == 200, response.get_json()
        answer = response.get_json()
        assert isinstance(answer["cards"], list)
        for card in answer["cards"]:
            assert len(card["summary"]) < 140


# -- suggested orders are valid FHIR ---------------------------------------------------------------------
SUGGESTION_FIXTURES = (
    "order-sign/acr-usually-not-appropriate--mri-cap-three-cpt-orders-reason-code.json",
    "order-select/acr-usually-not-appropriate--mri-cap-text-only.json",
    "order-select/cns-symptoms-mri-brain--headache-in-reason-code-pet-ct.json",
    "order-select/cns-symptoms-mri-brain--leg-weakness-text-with-back-pain-mri-cap.json",
    "order-select/renal-impairment-contrast--egfr-24-range-only-ct-cap-loinc.json",
    "order-select/visceral-suspicion-bone-scan-alone--alt-ast-high-bone-scan-loinc.json",
    "order-select/radiograph-survey-insensitive--skeletal-survey-cpt-bone-pain.json",
    "order-select/bone-scan-lytic-limitation--ct-report-conclusion-lytic.json",
    "order-sign/aggressive-subtype-pet-ct--tnbc-from-receptors-ct-split.json",
)


# orders with no CPT code at all: MRI of the whole spine (one CPT per region); CT C/A/P with contrast is
# suggested as its two CPT-coded halves (71260 + 74177)
NO_SINGLE_CPT = {"42698-1"}


def _ordered(body: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(card, action) of every order a suggestion creates or changes a draft into."""
    for card in body["cards"]:
        for suggestion in card.get("suggestions", []):
            for action in suggestion["actions"]:
                if action["type"] in {"create", "update"}:
                    yield card, action


@pytest.mark.parametrize("relative", SUGGESTION_FIXTURES)
def test_suggested_service_requests_are_valid_drafts(client: FlaskClient, relative: str) -> None:
    request, body = _post_fixture(client, relative)
    drafts = {f"ServiceRequest/{e['resource']['id']}": e["resource"] for e in request["context"]["draftOrders"]["entry"]
              if e["resource"]["resourceType"] == "ServiceRequest"}
    ordered = list(_ordered(body))
    assert ordered, f"{relative}: no suggested order"
    for card, action in ordered:
        resource = action["resource"]
        ServiceRequest.model_validate(resource)
        assert resource["status"] == "draft"
        if action["type"] == "update":  # the draft changed to the better order (Argonaut PAMA scenario 02)
            source = drafts[f"ServiceRequest/{resource['id']}"]
            assert {k: resource.get(k) for k in ("intent", "subject", "reasonCode", "priority", "encounter")} == {
                k: source.get(k) for k in ("intent", "subject", "reasonCode", "priority", "encounter")}
            assert resource["code"] != source["code"]
        else:
            assert resource["intent"] == "order"
            assert resource["subject"] == {"reference": f"Patient/{request['context']['patientId']}"}
            changed = [a["resourceId"] if a["type"] == "delete" else f"ServiceRequest/{a['resource']['id']}"
                       for s in card.get("suggestions", []) for a in s["actions"] if a["type"] in {"delete", "update"}]
            source = next((drafts[r] for r in changed if r in drafts), None) or next(iter(drafts.values()))
            if source.get("reasonCode"):
                assert resource["reasonCode"] == source["reasonCode"]
        systems = {c["system"] for c in resource["code"]["coding"]}
        assert LOINC in systems
        if resource["code"]["coding"][0]["code"] not in NO_SINGLE_CPT:
            assert CPT in systems


def test_replace_suggestion_changes_one_half_of_a_split_ct_and_deletes_the_other(client: FlaskClient) -> None:
    _, body = _post_fixture(client, "order-sign/aggressive-subtype-pet-ct--tnbc-from-receptors-ct-split.json")
    [card] = body["cards"]
    [suggestion] = card["suggestions"]
    kinds = [(a["type"], a.get("resourceId") or f"ServiceRequest/{a['resource']['id']}") for a in suggestion["actions"]]
    assert kinds == [("update", "ServiceRequest/sr-ct-chest"), ("delete", "ServiceRequest/sr-ct-ap")]
    updated = suggestion["actions"][0]["resource"]
    assert [c["code"] for c in updated["code"]["coding"] if c["system"] == CPT] == ["78815"]  # FDG-PET/CT


def test_fixture_dates_are_pinned_to_the_test_clock() -> None:
    for path in sorted(Path(FIXTURES / "order-select").glob("*.json")) + sorted(
            Path(FIXTURES / "order-sign").glob("*.json")):
        assert load_fixture(path).as_of == NOW, path.name


def test_contrast_ct_suggestion_orders_both_cpt_coded_halves(client: FlaskClient) -> None:
    fixture = "order-select/visceral-suspicion-bone-scan-alone--alt-ast-high-bone-scan-loinc.json"
    _, body = _post_fixture(client, fixture)
    card = next(c for c in body["cards"] if c["source"]["topic"]["code"] == "visceral-suspicion-bone-scan-alone")
    add_ct = next(s for s in card["suggestions"] if s["label"].lower().startswith("add"))
    created = [a["resource"]["code"]["coding"] for a in add_ct["actions"] if a["type"] == "create"]
    cpts = sorted(c["code"] for coding in created for c in coding if c["system"] == CPT)
    assert cpts == ["71260", "74177"]
    assert all(any(c["system"] == LOINC for c in coding) for coding in created)
    assert all("display" not in c for coding in created for c in coding if c["system"] == CPT)  # AMA text


# -- a single region of a listed survey is rated as that survey (issue 10) -----------------------------------
@pytest.mark.parametrize(("code", "survey"), [
    ("71552", "MRI_CAP"),       # MRI chest alone (the sandbox PAMA screen sends one code)
    ("74183", "MRI_CAP"),       # MRI abdomen alone
    ("74176", "CT_CAP_NOIV"),   # CT abdomen/pelvis without contrast alone
    ("71250", "CT_CAP_NOIV"),   # CT chest without contrast alone
])
def test_one_region_of_a_survey_is_rated_as_the_survey(code: str, survey: str) -> None:
    built = build_facts(_record(_draft("sr-1", (CPT, code)), selections=("ServiceRequest/sr-1",)), NOW, KB)
    inside = scenario_facts(*built.orders)
    assert [r.rating for r in appropriateness.ratings(inside, PARAMS, KB.acr, True)] == ["not-appropriate"]
    [card] = appropriateness.usually_not_appropriate(inside, PARAMS, KB.acr)
    assert shown(card)["variant"] == "SURVEY_PART"
    assert shown(card)["survey"] == KB.acr(survey).acr_wording
    # outside the scenario (no suspicion) it stays unrated, as before
    assert [r.rating for r in appropriateness.ratings(facts(*built.orders), PARAMS, KB.acr, True)] == [
        "no-criteria-apply"]


def test_a_region_of_an_appropriate_survey_is_not_rated_as_the_survey() -> None:
    built = build_facts(_record(_draft("sr-1", (CPT, "71260")), selections=("ServiceRequest/sr-1",)), NOW, KB)
    rated = appropriateness.ratings(scenario_facts(*built.orders), PARAMS, KB.acr, True)
    assert [r.rating for r in rated] == ["no-criteria-apply"]


# -- the ACR table applies to its own scenario: neoadjuvant therapy by default (issue 10) ----------------------
def test_scenario_needs_neoadjuvant_therapy_by_default() -> None:
    mri = order("MRI_CAP")
    after_surgery = scenario_facts(mri, surgeries=(ago(20),))  # chemo started before the breast surgery
    assert appropriateness.usually_not_appropriate(after_surgery, PARAMS, KB.acr) == []
    assert {r.rating for r in appropriateness.ratings(after_surgery, PARAMS, KB.acr, True)} == {"no-criteria-apply"}
    off_label = {**PARAMS, "P_SCENARIO_REQUIRE_NEOADJUVANT": 0}  # any systemic therapy: off-label, site setting
    assert appropriateness.usually_not_appropriate(after_surgery, off_label, KB.acr)
    assert appropriateness.usually_not_appropriate(scenario_facts(mri), PARAMS, KB.acr)


# -- renal-impairment-contrast: every contrast CT region, coded or in text (issue 10, §7.2 R07) -----------------
@pytest.mark.parametrize("code", [
    (CPT, "71260"), (CPT, "74177"), (CPT, "74160"), (CPT, "72193"), (CPT, "70491"), (CPT, "70460"),
    (CPT, "72126"), (LOINC, "24628-0"), (LOINC, "86984-2"), (LOINC, "82809-5"),
])
def test_renal_card_fires_for_every_contrast_ct(code: tuple[str, str]) -> None:
    ckd = Condition("End stage renal disease", ago(400), "Condition/ckd")
    built = build_facts(_record(_draft("sr-1", code), selections=("ServiceRequest/sr-1",)), NOW, KB)
    found = contrast.renal_impairment_contrast(
        PatientFacts(now=NOW, breast_cancer=BREAST_CANCER, orders=built.orders, ckd_severe=ckd), PARAMS)
    assert topics(found) == {"renal-impairment-contrast"}, code


@pytest.mark.parametrize("text", ["CT neck with contrast", "CT head w/o and w contrast", "CT pelvis with IV contrast"])
def test_renal_card_fires_for_contrast_ct_in_text(text: str) -> None:
    egfr = LabResult("egfr", ago(3), 22, "", "low", "interpretation")
    draft = {"resourceType": "ServiceRequest", "id": "sr-1", "status": "draft", "intent": "order",
             "subject": {"reference": "Patient/p"}, "code": {"text": text}}
    built = build_facts(_record(draft, selections=("ServiceRequest/sr-1",)), NOW, KB)
    found = contrast.renal_impairment_contrast(
        PatientFacts(now=NOW, breast_cancer=BREAST_CANCER, orders=built.orders, labs=(egfr,)), PARAMS)
    assert topics(found) == {"renal-impairment-contrast"}


@pytest.mark.parametrize("code", [(CPT, "71250"), (CPT, "74176"), (CPT, "72125"), (CPT, "78815"), (CPT, "78306")])
def test_renal_card_quiet_without_contrast(code: tuple[str, str]) -> None:
    ckd = Condition("End stage renal disease", ago(400), "Condition/ckd")
    built = build_facts(_record(_draft("sr-1", code), selections=("ServiceRequest/sr-1",)), NOW, KB)
    assert contrast.renal_impairment_contrast(
        PatientFacts(now=NOW, breast_cancer=BREAST_CANCER, orders=built.orders, ckd_severe=ckd), PARAMS) == []


@pytest.mark.parametrize(("condition", "counts"), [
    ({"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "N17.9"}, True),          # acute kidney injury
    ({"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "Z99.2"}, True),          # on dialysis
    ({"system": "http://snomed.info/sct", "code": "14669001"}, True),                   # acute renal failure
    ({"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "N18.6"}, True),          # ESRD
    ({"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "N18.31"}, False),        # CKD 3a
])
def test_aki_dialysis_and_esrd_count_as_renal_risk(condition: dict[str, str], counts: bool) -> None:
    chart = [{"resourceType": "Condition", "id": "renal", "clinicalStatus": {"coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
        "code": {"coding": [condition]}}]
    built = build_facts(_record(_draft("sr-1", (CPT, "71260")), selections=("ServiceRequest/sr-1",),
                                conditions=chart), NOW, KB)
    assert bool(contrast.renal_impairment_contrast(built, PARAMS)) is counts


# -- the contrast net and survey parts through the service (issue 10) ------------------------------------------
def _created_codes(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [action["resource"]["code"] for _, action in _ordered(body)]


def test_contrast_net_on_a_card_of_another_topic(client: FlaskClient) -> None:
    _, body = _post_fixture(client, "order-select/visceral-suspicion-bone-scan-alone--alt-high-egfr-20-no-contrast-"
                                    "ct-offered.json")
    [card] = [c for c in body["cards"] if c["source"]["topic"]["code"] == "visceral-suspicion-bone-scan-alone"]
    created = _created_codes(body)
    assert created, "the card still offers the non-contrast survey"
    assert all(not ((m := KB.classify_procedure(code)) and m.iodinated_contrast) for code in created)
    assert "**Kidneys:**" in card["detail"] and "ACR–NKF 2020" in card["detail"]


def test_renal_card_for_a_contrast_neck_ct_offers_nothing_unsafe(client: FlaskClient) -> None:
    _, body = _post_fixture(client, "order-select/renal-impairment-contrast--ct-neck-with-contrast-cpt-70491-"
                                    "egfr-22.json")
    [card] = [c for c in body["cards"] if c["source"]["topic"]["code"] == "renal-impairment-contrast"]
    assert not card.get("suggestions")
    assert "no CT with IV contrast" in card["detail"]
    _, chest = _post_fixture(client, "order-sign/renal-impairment-contrast--aki-n17-9-ct-chest-alone.json")
    assert [c["code"] for c in _created_codes(chest)[0]["coding"]] == ["71250", "29252-4"]


def test_single_region_card_says_it_is_rated_as_the_survey(client: FlaskClient) -> None:
    _, body = _post_fixture(client, "order-select/acr-usually-not-appropriate--mri-chest-alone-cpt-71552-rated-as-"
                                    "survey.json")
    [card] = [c for c in body["cards"] if c["source"]["topic"]["code"] == "acr-usually-not-appropriate"]
    assert "is one region of that survey, so it is rated as part of it" in card["detail"]
    assert "MRI chest abdomen pelvis" in card["detail"]
