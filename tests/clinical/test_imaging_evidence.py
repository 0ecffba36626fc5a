"""The imaging evidence layer: every place a result is filed, report status, and supersession (issue 9, 3-4;
clinical-rules.md §4.1 and §7.1). Records are FHIR JSON dicts read through Record and the extractors."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cdshooks.clinical import report_reading
from cdshooks.clinical.build_facts import build_facts
from cdshooks.clinical.evidence import BONE, Assertion, Status
from cdshooks.clinical.extract import imaging as imaging_extract
from cdshooks.clinical.extract.imaging import attachment_text, extract_imaging, html_text
from cdshooks.clinical.facts import Condition, ImagingResult, PatientFacts, supersedes
from cdshooks.clinical.knowledge import default_knowledge
from cdshooks.clinical.report_reading import BoneMetResult, Change, ReportReading
from cdshooks.fhir.record import Record

KB = default_knowledge()
NOW = datetime(2026, 6, 1, 9, tzinfo=UTC)
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
RAD = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD"}]}]
BONE_SCAN = {"coding": [{"system": LOINC, "code": "39818-0"}]}
CT_CAP = {"coding": [{"system": LOINC, "code": "72254-6"}]}
BONE_METS = {"coding": [{"system": SNOMED, "code": "94222008"}]}
POSITIVE_TEXT = "Multiple lytic lesions in the pelvis and ribs, consistent with osseous metastases."
NEGATIVE_TEXT = "No scintigraphic evidence of osseous metastatic disease."


def b64(text: str, encoding: str = "utf-8") -> str:
    return base64.b64encode(text.encode(encoding)).decode()


def report(rid: str, code: dict[str, Any] = BONE_SCAN, day: str = "2026-05-20", status: str = "final",
           **extra: Any) -> dict[str, Any]:
    return {"resourceType": "DiagnosticReport", "id": rid, "status": status, "category": RAD, "code": code,
            "subject": {"reference": "Patient/bc-1"}, "effectiveDateTime": day, **extra}


def finding(oid: str, day: str = "2026-05-20", **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": oid, "status": "final", "subject": {"reference": "Patient/bc-1"},
            "category": [{"coding": [{"code": "imaging"}]}], "effectiveDateTime": day, **extra}


def study(sid: str, modality: str = "NM", day: str = "2026-05-20") -> dict[str, Any]:
    return {"resourceType": "ImagingStudy", "id": sid, "status": "available", "started": f"{day}T08:00:00Z",
            "subject": {"reference": "Patient/bc-1"}, "modality": [{"system": DCM, "code": modality}]}


def results(*resources: dict[str, Any]) -> list[ImagingResult]:
    record = Record.build("bc-1", resources)
    return extract_imaging(KB, record.of, record.resolve)


def only(*resources: dict[str, Any]) -> ImagingResult:
    found = results(*resources)
    assert len(found) == 1, found
    return found[0]


# -- every place a result is filed ----------------------------------------------------------------------

def test_html_presented_form_is_read_without_tags_scripts_or_entities() -> None:
    html = ("<html><head><title>RIS</title><style>p{color:red}</style></head><body><h2>IMPRESSION</h2>"
            "<p>Multiple lytic lesions in the pelvis&nbsp;and ribs,<br/>consistent with osseous metastases.</p>"
            "<script>var x = '<p>No metastases</p>';</script></body></html>")
    result = only(report("r1", code=CT_CAP, presentedForm=[{"contentType": "text/html; charset=utf-8",
                                                              "data": b64(html)}]))
    assert "<" not in result.conclusion and "color" not in result.conclusion and "var x" not in result.conclusion
    assert "pelvis and ribs" in result.conclusion.replace("\xa0", " ")
    assert result.result is BoneMetResult.POSITIVE and result.basis == "text"


def test_html_reader_survives_broken_markup() -> None:
    assert html_text("<p>Sclerotic focus <b>T9 <<<</p><div") .startswith("Sclerotic focus")
    assert html_text("") == ""


def test_attachments_other_than_text_are_ignored_and_charset_respected() -> None:
    assert attachment_text({"contentType": "application/pdf", "data": b64(POSITIVE_TEXT)}) == ""
    assert isinstance(attachment_text({"contentType": "text/plain", "data": "%%% not base64 %%%"}), str)
    assert attachment_text({"contentType": "text/plain; charset=iso-8859-1",
                            "data": b64("Läsion im BWK 12", "latin-1")}) == "Läsion im BWK 12"
    assert attachment_text({"contentType": "text/plain", "url": "http://x/report.txt"}) == ""
    huge = attachment_text({"contentType": "text/plain", "data": b64("x" * 500_000)})
    assert len(huge) <= imaging_extract.MAX_TEXT


def test_addenda_are_all_read_original_first() -> None:
    forms = [{"contentType": "text/plain", "creation": "2026-05-22", "data": b64("ADDENDUM: " + NEGATIVE_TEXT)},
             {"contentType": "text/plain", "creation": "2026-05-20", "data": b64("Original read: " + POSITIVE_TEXT)}]
    result = only(report("r1", code=CT_CAP, presentedForm=forms))
    assert result.conclusion.index("Original read") < result.conclusion.index("ADDENDUM")


def test_finding_only_as_result_observation_value_string_is_read() -> None:
    narrative = finding("o1", code={"coding": [{"system": LOINC, "code": "19005-8"}],
                                    "text": "Radiology Imaging study [Impression] (narrative)"},
                        valueString=POSITIVE_TEXT)
    result = only(report("r1", code=CT_CAP, result=[{"reference": "Observation/o1"}]), narrative)
    assert result.source == "DiagnosticReport/r1"
    assert result.result is BoneMetResult.POSITIVE and "lytic lesions" in result.conclusion


@pytest.mark.parametrize(("value", "expected"), [
    ({"valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "260415000", "display": "Not detected"}]}},
     Status.NEGATIVE),
    ({"valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "2667000"}]}}, Status.NEGATIVE),
    ({"valueCodeableConcept": {"text": "Negative"}}, Status.NEGATIVE),
    ({"valueString": "Not detected"}, Status.NEGATIVE),
    ({"valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "52101004"}]}}, Status.METASTATIC),
    ({"valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "82334004"}]}}, Status.INDETERMINATE),
    ({"interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                                      "code": "NEG"}]}]}, Status.NEGATIVE),
])
def test_coded_findings_respect_their_value(value: dict[str, Any], expected: Status) -> None:
    result = only(report("r1", result=[{"reference": "Observation/o1"}]), finding("o1", code=BONE_METS, **value))
    assert result.basis == "observation"
    assert result.status_of(BONE) is expected
    assert [a.status for a in result.assertions if a.region == BONE] == [expected]


def test_data_absent_reason_means_no_value() -> None:
    absent = finding("o1", code=BONE_METS, dataAbsentReason={"coding": [{"code": "not-performed"}]},
                     valueCodeableConcept={"coding": [{"system": SNOMED, "code": "52101004"}]},
                     interpretation=[{"coding": [{"code": "POS"}]}])
    assert results(absent) == []  # a standalone finding with no value is no result
    result = only(report("r1", result=[{"reference": "Observation/o1"}]), absent)
    assert result.basis == "text" and result.result is BoneMetResult.UNKNOWN and result.status_of(BONE) is None


def test_coded_result_beats_text_for_bone_status() -> None:
    result = only(report("r1", code=CT_CAP, conclusion="Stable appearance. No osseous metastatic disease.",
                         conclusionCode=[BONE_METS]))
    assert result.basis == "conclusionCode" and result.status_of(BONE) is Status.METASTATIC


def test_coded_status_keeps_the_texts_detail(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str | None, str | None, object]] = []
    liver = Assertion("liver", Status.METASTATIC)
    bone = Assertion(BONE, Status.INDETERMINATE, "lytic", frozenset({"new-foci"}), "T9",
                     frozenset({"vertebral"}))

    def fake_read(text: str | None, modality: str | None = None, procedure_class: str | None = None,
                  grammar: object = None) -> ReportReading:
        seen.append((modality, procedure_class, grammar))
        return ReportReading(BoneMetResult.INDETERMINATE, None, frozenset(), False, False, False, (bone, liver))

    monkeypatch.setattr(imaging_extract, "read_report", fake_read)
    result = only(report("r1", code=CT_CAP, conclusion="text", conclusionCode=[BONE_METS]))
    # the reader is told the study's modality and procedure class, and reads with the knowledge's phrases
    assert seen == [("CT", "CT_CAP_IV", KB.report_grammar)]
    assert set(result.assertions) == {
        Assertion(BONE, Status.METASTATIC, "lytic", frozenset({"new-foci"}), "T9", frozenset({"vertebral"})), liver}
    # without a coded result the reader's assertions stand as they are
    uncoded = only(report("r2", code=CT_CAP, conclusion="text"))
    assert uncoded.assertions == (bone, liver) and uncoded.status_of("liver") is Status.METASTATIC
    assert report_reading.read_report is not fake_read


def test_unlinked_imaging_finding_joins_the_same_day_report_of_its_modality() -> None:
    scan = report("r1", conclusion=None, code=BONE_SCAN)
    coded = finding("o1", code=BONE_METS, valueCodeableConcept={"coding": [{"system": SNOMED, "code": "2667000"}]})
    result = only(scan, coded)
    assert result.source == "DiagnosticReport/r1" and result.status_of(BONE) is Status.NEGATIVE
    # another day: a standalone finding, the report stays without a result
    later = finding("o1", day="2026-05-25", code=BONE_METS,
                    valueCodeableConcept={"coding": [{"system": SNOMED, "code": "2667000"}]})
    assert {r.source for r in results(scan, later)} == {"DiagnosticReport/r1", "Observation/o1"}


def test_unlinked_finding_with_two_same_day_candidates_stays_on_its_own() -> None:
    coded = finding("o1", code=BONE_METS, valueCodeableConcept={"coding": [{"system": SNOMED, "code": "52101004"}]})
    found = results(report("r1", code=BONE_SCAN), report("r2", code=CT_CAP), coded)
    assert {r.source for r in found} == {"DiagnosticReport/r1", "DiagnosticReport/r2", "Observation/o1"}


def test_unlinked_finding_joins_a_same_day_unreported_study() -> None:
    coded = finding("o1", code=BONE_METS, valueCodeableConcept={"coding": [{"system": SNOMED, "code": "52101004"}]})
    result = only(study("s1", "PT"), coded)
    assert (result.source, result.modality, result.status_of(BONE)) == ("Observation/o1", "PT", Status.METASTATIC)


def test_linked_finding_joins_the_report_of_its_study() -> None:
    coded = finding("o1", code=BONE_METS, derivedFrom=[{"reference": "ImagingStudy/s1"}],
                    valueCodeableConcept={"coding": [{"system": SNOMED, "code": "52101004"}]})
    result = only(study("s1", "CT"), report("r1", code=None, imagingStudy=[{"reference": "ImagingStudy/s1"}]),
                  coded)
    assert (result.source, result.modality, result.basis) == ("DiagnosticReport/r1", "CT", "observation")


# -- report status ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("status", ["entered-in-error", "cancelled", "registered", "unknown"])
def test_reports_that_never_count(status: str) -> None:
    assert results(report("r1", status=status, conclusion=POSITIVE_TEXT)) == []


@pytest.mark.parametrize("link", [
    {"identifier": [{"system": "urn:ris", "value": "ACC-1"}]},
    {"imagingStudy": [{"reference": "ImagingStudy/s1"}]},
    {"basedOn": [{"reference": "ServiceRequest/sr1"}]},
])
def test_a_preliminary_report_gives_way_to_its_final_version(link: dict[str, Any]) -> None:
    preliminary = report("r-pre", status="preliminary", conclusion="Focal uptake in T9, suspicious for metastasis.",
                         conclusionCode=[BONE_METS], **link)
    final = report("r-final", status="amended", day="2026-05-21", conclusion=NEGATIVE_TEXT, **link)
    found = [r for r in results(study("s1"), preliminary, final) if r.basis != "study"]
    assert [(r.source, r.report_status) for r in found] == [("DiagnosticReport/r-final", "amended")]


def test_a_preliminary_report_alone_counts_with_its_status() -> None:
    result = only(report("r-pre", status="preliminary", conclusionCode=[BONE_METS]))
    assert (result.report_status, result.status_of(BONE)) == ("preliminary", Status.METASTATIC)
    other = report("r2", identifier=[{"system": "urn:ris", "value": "ACC-2"}])
    assert len(results(report("r-pre", status="preliminary", identifier=[{"system": "urn:ris", "value": "ACC-1"}]),
                       other)) == 2


def test_rules_do_not_act_on_a_preliminary_read_by_default() -> None:
    pre = _img("r1", -10, Status.NEGATIVE, report_status="preliminary")
    facts = PatientFacts(now=NOW, imaging=(pre,))
    assert facts.imaging_before_now() == [] and facts.imaging_before_now(include_preliminary=True) == [pre]


# -- supersession -----------------------------------------------------------------------------------------

def _img(source: str, days: int, status: Status | None, modality: str = "CT", procedure: str | None = None,
         site: str | None = None, changes: frozenset[str] = frozenset(), report_status: str = "final") -> ImagingResult:
    procedure = procedure or {"CT": "CT_CAP_IV", "NM": "BONE_SCAN_WB", "PT": "FDG_PETCT", "MR": "MRI_SPINE"}[modality]
    assertions = (Assertion(BONE, status, site=site, changes=changes),) if status is not None else ()
    return ImagingResult(source=f"DiagnosticReport/{source}", label=f"{procedure} {days}", procedure_class=procedure,
                         modality=modality, when=NOW + timedelta(days=days), result=BoneMetResult.UNKNOWN,
                         character=None, assertions=assertions, report_status=report_status,
                         changes=frozenset(Change(c) for c in changes))


def test_a_suspicious_lesion_later_called_a_bone_island_is_not_bone_metastasis_today() -> None:
    suspicious = _img("ct-2023", -900, Status.SUSPICIOUS, site="L2")
    island = _img("mr-2024", -700, Status.BENIGN, modality="MR", site="L2 vertebral body")
    facts = PatientFacts(now=NOW, imaging=(suspicious, island))
    assert facts.bone_mets_evidence() is None and facts.bone_mets_suspected() is None
    assert facts.bone_mets_suspected(NOW - timedelta(days=800)) is not None  # it was suspected before the MRI


def test_a_negative_bone_scan_does_not_supersede_metastatic_ct() -> None:
    ct = _img("ct", -40, Status.METASTATIC)
    scan = _img("bs", -20, Status.NEGATIVE, modality="NM")
    evidence = PatientFacts(now=NOW, imaging=(ct, scan)).bone_mets_evidence()
    assert evidence is not None and (evidence.basis, evidence.source) == ("imaging", ct.source)
    assert evidence.since == ct.when


@pytest.mark.parametrize("later", [
    _img("ct2", -10, Status.NEGATIVE),
    _img("mr", -10, Status.NEGATIVE, modality="MR"),
    _img("pet", -10, Status.NEGATIVE, modality="PT"),
    _img("bs2", -10, Status.BENIGN, modality="NM"),
])
def test_later_cross_sectional_negative_or_any_benign_supersedes(later: ImagingResult) -> None:
    scan = _img("bs", -40, Status.METASTATIC, modality="NM")
    assert supersedes(later, scan)
    assert PatientFacts(now=NOW, imaging=(scan, later)).bone_mets_evidence() is None


def test_what_does_not_supersede() -> None:
    ct = _img("ct", -40, Status.METASTATIC, site="left iliac bone")
    assert not supersedes(_img("bs", -10, Status.NEGATIVE, modality="NM"), ct)
    assert not supersedes(_img("ct2", -10, Status.INDETERMINATE), ct)
    assert not supersedes(_img("ct0", -50, Status.NEGATIVE), ct)  # earlier, not later
    assert not supersedes(_img("ct2", -10, Status.BENIGN, site="both knees"), ct)  # another lesion
    # treated metastases stay metastases: a negative CT describing response does not undo the diagnosis
    assert not supersedes(_img("ct2", -10, Status.NEGATIVE, changes=frozenset({"decreased"})), ct)


def test_earliest_standing_evidence_and_re_established_disease() -> None:
    first = _img("ct1", -300, Status.METASTATIC)
    benign = _img("mr", -250, Status.BENIGN, modality="MR")
    again = _img("ct2", -30, Status.METASTATIC)
    facts = PatientFacts(now=NOW, imaging=(first, benign, again))
    evidence = facts.bone_mets_evidence()
    assert evidence is not None and evidence.source == again.source
    assert facts.bone_mets_evidence(NOW - timedelta(days=280)) is not None  # before the benign reading
    assert facts.bone_mets_established_before(NOW - timedelta(days=100)) is None
    assert facts.bone_mets_established_before(NOW - timedelta(days=10)) is not None
    assert facts.bone_mets_established_before(again.when) is None  # not before the day it was found
    assert facts.bone_mets_established_before(None) is None


def test_suspected_takes_the_latest_standing_suspicion() -> None:
    old = _img("ct1", -200, Status.SUSPICIOUS, site="T9")
    new = _img("mr", -20, Status.SUSPICIOUS, modality="MR", site="L3")
    facts = PatientFacts(now=NOW, imaging=(old, new, _img("x", -10, Status.INDETERMINATE)))
    suspected = facts.bone_mets_suspected()
    assert suspected is not None and suspected.source == new.source and facts.bone_mets_evidence() is None


def test_coded_condition_and_pathology_establish_bone_metastasis() -> None:
    coded = Condition("Secondary malignant neoplasm of bone", NOW - timedelta(days=90), "Condition/c1")
    ct = _img("ct", -120, Status.METASTATIC)
    evidence = PatientFacts(now=NOW, bone_mets=(coded,), imaging=(ct,)).bone_mets_evidence()
    assert evidence is not None and evidence.source == ct.source  # the earliest evidence that stands
    assert PatientFacts(now=NOW, bone_mets=(coded,)).bone_mets_evidence().basis == "coded"  # type: ignore[union-attr]


def _facts(*resources: dict[str, Any]) -> PatientFacts:
    return build_facts(Record.build("bc-1", resources), NOW, KB)


def test_pathology_report_coded_as_bone_metastasis_is_evidence() -> None:
    pathology = {"resourceType": "DiagnosticReport", "id": "p1", "status": "final",
                 "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "SP"}]}],
                 "code": {"text": "Bone biopsy, left ilium"}, "effectiveDateTime": "2026-04-01",
                 "conclusionCode": [BONE_METS]}
    evidence = _facts(pathology).bone_mets_evidence()
    assert evidence is not None and (evidence.basis, evidence.source) == ("pathology", "DiagnosticReport/p1")
    assert _facts({**pathology, "status": "preliminary"}).bone_mets_evidence() is None
    assert _facts({**pathology, "category": RAD}).bone_mets_pathology == ()


@pytest.mark.parametrize(("verification", "clinical", "counts"), [
    (None, "active", True), ("confirmed", "active", True), ("refuted", "active", False),
    ("entered-in-error", "active", False), ("confirmed", "resolved", False),
])
def test_coded_conditions_that_never_count(verification: str | None, clinical: str, counts: bool) -> None:
    condition: dict[str, Any] = {
        "resourceType": "Condition", "id": "c1", "code": BONE_METS, "onsetDateTime": "2026-03-01",
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                       "code": clinical}]}}
    if verification:
        condition["verificationStatus"] = {"coding": [{"code": verification}]}
    assert (_facts(condition).bone_mets_evidence() is not None) is counts


def test_extracted_results_carry_what_supersession_needs() -> None:
    ct = report("ct1", code=CT_CAP, day="2025-01-10", conclusionCode=[BONE_METS])
    scan = report("bs1", day="2025-02-01", conclusionCode=[{"coding": [{"system": SNOMED, "code": "281900007"}]}])
    facts = _facts(ct, scan)
    evidence = facts.bone_mets_evidence()
    assert evidence is not None and evidence.source == "DiagnosticReport/ct1"
    negative_ct = report("ct2", code=CT_CAP, day="2025-03-01",
                         conclusionCode=[{"coding": [{"system": SNOMED, "code": "260415000"}]}])
    assert _facts(ct, scan, negative_ct).bone_mets_evidence() is None


# -- the evidence behind the new patient-view scenarios (tools/fixtures/result_time.py) ------------------

def _scenario_facts(build: Any) -> PatientFacts:
    _, request = build()
    resources = [request["prefetch"]["patient"]]
    for key, value in request["prefetch"].items():
        if key != "patient":
            resources.extend(entry["resource"] for entry in value["entry"])
    as_of = datetime.fromisoformat(request["extension"]["org.bonemets-cds.fixture"]["asOf"].replace("Z", "+00:00"))
    return build_facts(Record.build(request["context"]["patientId"], resources), as_of, KB)


def test_scenarios_rest_on_the_evidence_model() -> None:
    from tools.fixtures import result_time as rt

    island = _scenario_facts(rt.bma_suspicion_later_bone_island)
    assert island.bone_mets_evidence() is None and island.bone_mets_suspected() is None
    confirmed = _scenario_facts(rt.bma_suspicion_confirmed_later).bone_mets_evidence()
    assert confirmed is not None and confirmed.basis == "imaging"  # the MRI (or the 2023 CT, read as metastatic)
    assert _scenario_facts(rt.bma_final_report_withdraws_suspicion).bone_mets_evidence() is None
    corrected = _scenario_facts(rt.bma_final_report_corrects_preliminary)
    assert [r.report_status for r in corrected.imaging] == ["corrected"]
    assert corrected.bone_mets_evidence() is not None
    assert _scenario_facts(rt.bma_refuted_condition_only).bone_mets_evidence() is None
    refuted_then_pet = _scenario_facts(rt.bma_refuted_condition_new_imaging).bone_mets_evidence()
    assert refuted_then_pet is not None and refuted_then_pet.basis == "imaging"
    html = _scenario_facts(rt.discordant_html_only_bone_scan)
    scan = next(r for r in html.imaging if r.is_bone_scan)
    assert scan.result is BoneMetResult.NEGATIVE and "<" not in scan.conclusion
    assert html.bone_mets_evidence() is not None  # the negative bone scan does not supersede the CT


def test_findings_of_a_withdrawn_report_are_not_results_of_their_own() -> None:
    coded = finding("o1", code=BONE_METS, valueCodeableConcept={"coding": [{"system": SNOMED, "code": "52101004"}]})
    withdrawn = report("r1", status="entered-in-error", result=[{"reference": "Observation/o1"}])
    assert results(withdrawn, coded) == []


def test_a_linked_narrative_finding_without_a_report_is_read() -> None:
    narrative = finding("o1", derivedFrom=[{"reference": "ImagingStudy/s1"}], code={"text": "Impression"},
                        valueString=NEGATIVE_TEXT)
    result = only(study("s1", "NM"), narrative)
    assert (result.source, result.modality, result.result) == ("Observation/o1", "NM", BoneMetResult.NEGATIVE)
    assert results(finding("o2", code={"text": "Impression"}, valueString=NEGATIVE_TEXT)) == []  # no study, no day


def test_many_versions_stay_cheap() -> None:
    many = [report(f"r{n}", status="preliminary" if n % 2 else "final", conclusion=NEGATIVE_TEXT,
                   identifier=[{"system": "urn:ris", "value": f"ACC-{n // 2}"}]) for n in range(2000)]
    found = results(*many)
    assert len(found) == 1000 and {r.report_status for r in found} == {"final"}
