"""Codes real EHRs send (issue 10): each one is read as the clinical fact it stands for, and its near miss is not.

Distant recurrence coded the ICD-10-CM way (Z85.3 + C79.51, no active C50), SNOMED breast cancer codes without a
display, the ALP / ALT / eGFR LOINC variants, eGFR reported as ">60", pain ICD-10-CM codes, CDT oral evaluations,
denosumab and zoledronic acid products (osteoporosis vs oncology regimen, decided by the YAML patterns only),
megestrol, generic SPECT CPT codes (not bone scans) and MR chest + abdomen (not MRI C/A/P).
"""

from __future__ import annotations

from typing import Any

import pytest

from cdshooks.clinical.build_facts import build_facts
from cdshooks.clinical.facts import PatientFacts
from cdshooks.clinical.knowledge import default_knowledge
from cdshooks.clinical.rules.scenario import renal_impairment
from cdshooks.fhir.record import Record
from tests.conftest import shown
from tools.fixtures.builders import AS_OF, CPT, LOINC, SNOMED, Chart

KB = default_knowledge()
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
Z853 = (ICD, "Z85.3", "Personal history of malignant neoplasm of breast")
C7951 = (ICD, "C79.51", "Secondary malignant neoplasm of bone")


def facts_of(chart: Chart) -> PatientFacts:
    return build_facts(Record.build(chart.patient_id, chart.resources), AS_OF, KB)


# ------------------------------------------------------------------ breast cancer coded the ICD-10-CM way
def test_history_of_breast_cancer_with_bone_metastasis_is_metastatic_breast_cancer() -> None:
    chart = Chart()
    chart.condition(Z853, onset=-2000, status="resolved")
    chart.condition(C7951, onset=-20)
    facts = facts_of(chart)
    assert facts.breast_cancer is not None
    assert "history of malignant neoplasm of breast" in facts.breast_cancer.label.lower()
    assert facts.bone_mets and facts.bone_mets_evidence() is not None


def test_history_alone_is_not_breast_cancer() -> None:
    chart = Chart()
    chart.condition(Z853, onset=-2000)
    assert facts_of(chart).breast_cancer is None


def test_history_with_a_refuted_bone_metastasis_is_not_breast_cancer() -> None:
    chart = Chart()
    chart.condition(Z853, onset=-2000)
    chart.condition(C7951, onset=-20, verification="refuted")
    assert facts_of(chart).breast_cancer is None


def test_snomed_history_code_counts_like_z85_3() -> None:
    chart = Chart()
    chart.condition((SNOMED, "429087003"), onset=-2000)
    chart.condition((SNOMED, "94222008"), onset=-20)
    assert facts_of(chart).breast_cancer is not None


def test_an_active_c50_stays_the_breast_cancer() -> None:
    chart = Chart()
    chart.condition(Z853, onset=-2000)
    chart.condition((ICD, "C50.911", "Malignant neoplasm of unspecified site of right female breast"), onset=-300)
    chart.condition(C7951, onset=-20)
    facts = facts_of(chart)
    assert facts.breast_cancer is not None and facts.breast_cancer.label.startswith("Malignant neoplasm")


@pytest.mark.parametrize("code", ["278054005", "254838004", "93796005", "353511000119101"])
def test_snomed_breast_cancer_without_a_display_is_breast_cancer(code: str) -> None:
    chart = Chart()
    chart.condition((SNOMED, code), onset=-100)
    assert facts_of(chart).breast_cancer is not None


def test_snomed_secondary_lung_code_is_not_breast_cancer() -> None:
    chart = Chart()
    chart.condition((SNOMED, "353561000119103"), onset=-100)  # secondary malignant neoplasm of right lung
    assert facts_of(chart).breast_cancer is None


# ------------------------------------------------------------------ labs
@pytest.mark.parametrize(("code", "kind"), [
    ("77141-0", "alp"), ("59789-8", "alp"), ("1743-4", "alt"), ("1744-2", "alt"),
    ("77147-7", "egfr"), ("69405-9", "egfr"), ("76633-7", "egfr"), ("94677-2", "egfr"), ("50044-7", "egfr"),
    ("50210-4", "egfr"), ("70969-1", "egfr"), ("98980-6", "egfr"),
])
def test_lab_codes_are_read_as_their_test(code: str, kind: str) -> None:
    chart = Chart()
    chart.lab(code, 42, "U/L", -3)
    labs = facts_of(chart).labs
    assert [lab.kind for lab in labs] == [kind]


def _egfr_string(chart: Chart, text: str, low: float | None = 60) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Observation", "status": "final",
                                "subject": {"reference": "Patient/bc-1"},
                                "code": {"coding": [{"system": LOINC, "code": "77147-7"}]},
                                "effectiveDateTime": chart.day(-3), "valueString": text}
    if low is not None:
        resource["referenceRange"] = [{"low": {"value": low, "unit": "mL/min/{1.73_m2}"}}]
    return chart.add(resource)


def test_egfr_reported_as_above_60_is_not_low() -> None:
    chart = Chart()
    _egfr_string(chart, ">60")
    facts = facts_of(chart)
    egfr = facts.latest_lab("egfr")
    assert egfr is not None and egfr.value == 60 and egfr.comparator == ">"
    assert egfr.flag != "low" and "eGFR >60" in egfr.label
    assert renal_impairment(facts, KB.parameters) is None


def test_egfr_above_60_against_a_low_limit_of_90_is_not_called_low() -> None:
    chart = Chart()
    _egfr_string(chart, "> 60 mL/min/1.73m2", low=90)
    egfr = facts_of(chart).latest_lab("egfr")
    assert egfr is not None and egfr.flag is None


def test_egfr_quantity_with_comparator_is_a_bound() -> None:
    chart = Chart()
    resource = chart.lab("98979-8", 90, "mL/min/{1.73_m2}", -3, low=90)
    resource["valueQuantity"]["comparator"] = ">"
    egfr = facts_of(chart).latest_lab("egfr")
    assert egfr is not None and egfr.comparator == ">" and egfr.flag == "normal"


def test_egfr_string_below_30_is_renal_impairment() -> None:
    chart = Chart()
    _egfr_string(chart, "24")
    facts = facts_of(chart)
    assert renal_impairment(facts, KB.parameters) is not None


# ------------------------------------------------------------------ pain, dental, imaging codes
@pytest.mark.parametrize("code", ["M54.2", "M54.6", "M54.9", "G89.3", "M54.50"])
def test_pain_icd10_codes_are_pain(code: str) -> None:
    chart = Chart()
    chart.condition((ICD, code), onset=-5)
    assert [s.kind for s in facts_of(chart).symptoms] == ["bone-pain"]


def test_other_dorsopathy_code_is_not_pain() -> None:
    chart = Chart()
    chart.condition((ICD, "M54.1"), onset=-5)  # radiculopathy: not listed
    assert facts_of(chart).symptoms == ()


@pytest.mark.parametrize("system", ["http://www.ada.org/cdt", "http://ada.org/cdt"])
@pytest.mark.parametrize("code", ["D0120", "D0150", "D0180"])
def test_cdt_oral_evaluations_are_dental_evaluation(system: str, code: str) -> None:
    chart = Chart()
    chart.procedure(-30, (system, code))
    assert facts_of(chart).dental_evaluation


def test_other_cdt_code_is_not_dental_evaluation() -> None:
    chart = Chart()
    chart.procedure(-30, ("http://www.ada.org/cdt", "D1110"))  # prophylaxis
    assert not facts_of(chart).dental_evaluation


@pytest.mark.parametrize("code", ["78803", "78830", "78831", "78832"])
def test_generic_spect_cpt_is_not_a_bone_scan(code: str) -> None:
    concept = {"coding": [{"system": CPT, "code": code}]}
    assert KB.procedure_class(concept) is None
    assert KB.procedure_modality(concept) is None


def test_bone_spect_text_with_a_generic_code_is_still_a_bone_scan() -> None:
    concept = {"coding": [{"system": CPT, "code": "78830"}], "text": "Bone SPECT/CT of the spine"}
    assert KB.procedure_class(concept) == "BONE_SCAN_OTHER"


def test_mr_chest_and_abdomen_is_not_mri_cap() -> None:
    concept = {"coding": [{"system": LOINC, "code": "36942-1", "display": "MR Chest and Abdomen W contrast IV"}]}
    assert KB.procedure_class(concept) != "MRI_CAP"
    assert KB.procedure_modality(concept) == "MR"
    assert KB.procedure_class({"coding": [{"system": LOINC, "code": "91523-1"}]}) == "MRI_CAP"


# ------------------------------------------------------------------ medications
@pytest.mark.parametrize(("text", "osteoporosis"), [
    ("Prolia 60 mg/mL prefilled syringe", True), ("Jubbonti", True), ("Ospomyv", True), ("Stoboclo", True),
    ("Conexxence", True), ("Bildyos", True), ("Bosaya", True), ("Enoby", True),
    ("denosumab 60 MG/ML Prefilled Syringe", True),
    ("Xgeva 120 mg/1.7 mL", False), ("Wyost", False), ("Xbryk", False), ("Osenvelt", False), ("Bomyntra", False),
    ("Bilprevda", False), ("Aukelso", False), ("Xtrenbo", False), ("denosumab 120 mg", False),
    ("Reclast 5 mg/100 mL", True), ("Aclasta", True), ("zoledronic acid 5 MG in 100 ML Injection", True),
    ("Zometa 4 mg/5 mL", False), ("zoledronic acid 4 MG/5 ML", False), ("zoledronic acid 0.5 mg", False),
])
def test_bone_agent_products_tell_the_osteoporosis_regimen(text: str, osteoporosis: bool) -> None:
    medication = KB.medication({"text": text})
    assert medication is not None and medication.drug_class == "bone-modifying"
    assert medication.osteoporosis_dose is osteoporosis


@pytest.mark.parametrize(("ingredient", "dose", "osteoporosis"), [
    ("denosumab", 60, True), ("denosumab", 120, False), ("zoledronic acid", 5, True), ("zoledronic acid", 4, False),
    ("denosumab", 90, None),
])
def test_structured_dose_goes_through_the_same_yaml_patterns(ingredient: str, dose: float,
                                                             osteoporosis: bool | None) -> None:
    chart = Chart()
    chart.breast_cancer()
    chart.administration(-10, text=ingredient, dose_mg=dose)
    therapy = next(t for t in facts_of(chart).therapies if t.agent == ingredient)
    assert therapy.osteoporosis_dose is bool(osteoporosis)
    assert KB.osteoporosis_dose(ingredient, f"{dose:g} mg") is osteoporosis


def test_no_hard_coded_dose_rule_left_in_python() -> None:
    from pathlib import Path

    source = Path("cdshooks/clinical/extract/medications.py").read_text()
    assert "<= 60" not in source and "xgeva" not in source.lower()


def test_megestrol_is_endocrine_therapy() -> None:
    medication = KB.medication({"text": "Megestrol acetate 40 mg/mL oral suspension"})
    assert medication is not None and medication.drug_class == "endocrine"
    assert KB.medication({"text": "Megace ES"}) is not None


@pytest.mark.parametrize(("text", "variant"), [
    ("Prolia 60 mg SC every 6 months", "osteoporosis-dose"), ("Reclast 5 mg IV yearly", "osteoporosis-dose"),
    ("Jubbonti 60 mg", "osteoporosis-dose"), ("Zometa 4 mg IV", None), ("Wyost 120 mg", None),
])
def test_osteoporosis_regimen_alone_gets_the_osteoporosis_dose_variant(text: str, variant: str | None) -> None:
    from cdshooks.clinical.rules.bone_health import bone_mets_without_bma

    chart = Chart()
    chart.breast_cancer()
    chart.condition(C7951, onset=-100)
    chart.administration(-30, text=text)
    findings = bone_mets_without_bma(facts_of(chart), KB.parameters)
    if variant is None:
        assert findings == []
    else:
        assert [shown(f)["variant"] for f in findings] == [variant]
