"""The clinical knowledge files load, validate and answer the questions the rules ask."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from cdshooks.clinical.knowledge import (
    KNOWLEDGE_DIR,
    Knowledge,
    KnowledgeError,
    default_knowledge,
    load_knowledge,
)

SCT = "http://snomed.info/sct"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
CPT = "http://www.ama-assn.org/go/cpt"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
STATUSES = {"V-IG", "V-REF", "C", "UNVERIFIED"}


@pytest.fixture(scope="module")
def kb() -> Knowledge:
    return load_knowledge()


def _raw(name: str) -> dict[str, Any]:
    with (KNOWLEDGE_DIR / name).open(encoding="utf-8") as handle:
        data: dict[str, Any] = yaml.safe_load(handle)
    return data


def concept(*codes: tuple[str, str], text: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"coding": [{"system": system, "code": code} for system, code in codes]}
    if text is not None:
        result["text"] = text
    return result


# ---------------------------------------------------------------------------------------------- loading


def test_default_knowledge_is_loaded_once() -> None:
    assert default_knowledge() is default_knowledge()
    assert isinstance(default_knowledge(), Knowledge)


def test_every_value_set_named_in_the_rules_exists(kb: Knowledge) -> None:
    required = {
        "VS_BREAST_CANCER",
        "VS_INFLAMMATORY_BC",
        "VS_TNBC",
        "VS_BONE_METS",
        "VS_BONE_PAIN",
        "VS_CNS_SYMPTOMS",
        "VS_WEIGHT_LOSS",
        "VS_CKD",
        "VS_OSTEOPENIA",
        "VS_BREAST_SURGERY",
        "VS_LAB_ALP",
        "VS_LAB_LFT",
        "VS_LAB_EGFR",
        "VS_LAB_CREATININE",
        "VS_LAB_CALCIUM",
        "VS_ER_TEST",
        "VS_PR_TEST",
        "VS_HER2_TEST",
        "VS_RECEPTOR_POSITIVE",
        "VS_RECEPTOR_NEGATIVE",
        "VS_RESULT_QUALIFIERS",
        "VS_INTERPRETATION",
        "VS_DICOM_MODALITY",
        "VS_RADIOLOGY_REPORT_CATEGORY",
        "VS_CALCIUM_VITAMIN_D_SUPPLEMENT",
        "VS_DENTAL_EVALUATION",
    }
    assert required <= set(kb.valueset_names)


def test_every_code_carries_a_status_and_every_value_set_a_source() -> None:
    for name, vs in _raw("valuesets.yaml")["valuesets"].items():
        assert vs["source"].strip(), name
        for code in vs.get("codes") or []:
            assert code["status"] in STATUSES, (name, code)
            assert code["system"].startswith(("http://", "https://", "urn:")), (name, code)


def test_unknown_value_set_names_itself(kb: Knowledge) -> None:
    with pytest.raises(KeyError, match="VS_NOPE"):
        kb.valueset("VS_NOPE")
    with pytest.raises(KeyError, match="medication"):
        kb.valueset("VS_CHEMO")


# ---------------------------------------------------------------------------------------------- value sets


def test_each_value_set_matches_its_own_codes(kb: Knowledge) -> None:
    checked = 0
    for name, raw in _raw("valuesets.yaml")["valuesets"].items():
        vs = kb.valueset(name)
        for code in raw.get("codes") or []:
            assert vs.matches_coding(code["system"], code["code"]), (name, code["code"])
            assert vs.matches(concept((code["system"], code["code"]))), (name, code["code"])
            checked += 1
    assert checked > 100


def test_each_value_set_matches_codes_under_its_prefixes(kb: Knowledge) -> None:
    for name, raw in _raw("valuesets.yaml")["valuesets"].items():
        for prefix in raw.get("prefixes") or []:
            code = prefix["prefix"].rstrip(".") + ("9" if prefix["prefix"].endswith(".") else "99")
            assert kb.valueset(name).matches_coding(prefix["system"], code), (name, code)


@pytest.mark.parametrize("code", ["C50.911", "C50911", "c50.911", " C50.411 ", "C50.A1", "C50A2"])
def test_breast_cancer_icd10_prefix_with_or_without_dot(kb: Knowledge, code: str) -> None:
    assert kb.valueset("VS_BREAST_CANCER").matches_coding(ICD, code)


@pytest.mark.parametrize(
    ("system", "code"),
    [(ICD, "C51.0"), (ICD, "C5"), (ICD, "D05.11"), (SCT, "C50.911"), (None, "C50.911"), (ICD, None)],
)
def test_breast_cancer_does_not_match_other_codes(
    kb: Knowledge, system: str | None, code: str | None
) -> None:
    assert not kb.valueset("VS_BREAST_CANCER").matches_coding(system, code)


def test_bone_mets_codes(kb: Knowledge) -> None:
    mets = kb.valueset("VS_BONE_METS")
    assert mets.matches_coding(ICD, "C79.51")
    assert mets.matches_coding(ICD, "C7952")
    assert mets.matches_coding(SCT, "94222008")
    assert not mets.matches_coding(ICD, "C79.31")
    assert not mets.matches_coding(ICD, "C79")
    assert mets.kinds(concept((ICD, "C79.52"))) == {"marrow"}


def test_system_aliases_are_honoured(kb: Knowledge) -> None:
    assert kb.valueset("VS_BREAST_CANCER").matches_coding("urn:oid:2.16.840.1.113883.6.90", "C50.912")
    assert kb.valueset("VS_BONE_PAIN").matches_coding("http://snomed.info/sct/", "12584003")
    assert kb.valueset("VS_LAB_ALP").matches_coding("urn:oid:2.16.840.1.113883.6.1", "6768-6")


def test_valuesets_for_coding_is_the_reverse_index(kb: Knowledge) -> None:
    assert {"VS_BREAST_CANCER", "VS_TNBC"} <= kb.valuesets_for_coding(SCT, "706970001")
    assert kb.valuesets_for_coding(SCT, "0000") == frozenset()


def test_text_fallback(kb: Knowledge) -> None:
    bc = kb.valueset("VS_BREAST_CANCER")
    assert bc.matches({"text": "Invasive ductal carcinoma of left breast"})
    assert bc.matches(concept(("http://local/codes", "BC1"), text="Breast cancer, ER+"))
    local_display = {
        "coding": [{"system": "urn:local", "code": "9", "display": "Malignant neoplasm of breast"}]
    }
    assert bc.matches(local_display)
    assert not bc.matches({"text": "Family history of malignant neoplasm of breast"})
    assert not bc.matches({"text": "Breast cancer screening"})
    assert not bc.matches({"text": "Ductal carcinoma in situ of breast"})
    assert not bc.matches({"text": "Benign neoplasm of breast"})
    assert not bc.matches(None)


def test_text_fallback_is_negation_aware(kb: Knowledge) -> None:
    weight = kb.valueset("VS_WEIGHT_LOSS")
    assert weight.matches_text("Unintentional weight loss of 6 kg")
    assert not weight.matches_text("No weight loss")
    assert not weight.matches_text("intentional weight loss (diet)")
    assert kb.valueset("VS_BONE_PAIN").matches_text("No fever. Bone pain in the right hip")
    assert not kb.valueset("VS_CNS_SYMPTOMS").matches_text("denies headache")


def test_cns_symptom_kinds(kb: Knowledge) -> None:
    cns = kb.valueset("VS_CNS_SYMPTOMS")
    assert cns.kinds(concept((SCT, "25064002"))) == {"headache"}
    assert cns.kinds(concept((SCT, "91175000"))) == {"seizure"}
    # generic muscle weakness and chronic headache are recognised as such, so R05 can leave them out (§7.2)
    assert cns.kinds(concept((SCT, "26544005"))) == {"weakness-generic"}
    assert cns.kinds({"text": "New headaches and left arm weakness"}) == {"headache", "weakness-focal"}
    assert "headache-chronic" in cns.kinds({"text": "Chronic tension-type headache"})
    assert cns.kinds(concept((ICD, "G43.909"))) == {"headache-chronic"}
    assert cns.kinds({"text": "Paraparesis"}) == {"weakness-para"}
    assert cns.kinds({"text": "Expressive aphasia"}) == {"speech"}
    assert cns.kinds({"text": "nausea"}) == frozenset()


def test_liver_tests_are_separately_identifiable(kb: Knowledge) -> None:
    lft = kb.valueset("VS_LAB_LFT")
    assert lft.kinds(concept((LOINC, "1742-6"))) == {"alt"}
    assert lft.kinds(concept((LOINC, "1920-8"))) == {"ast"}
    assert lft.kinds(concept((LOINC, "1975-2"))) == {"bilirubin"}
    assert lft.kinds({"text": "AST (SGOT)"}) == {"ast"}
    assert not lft.matches(concept((LOINC, "6768-6"), text="Alkaline phosphatase"))


def test_ckd_stage(kb: Knowledge) -> None:
    ckd = kb.valueset("VS_CKD")
    assert ckd.kinds(concept((ICD, "N18.4"))) == {"stage-4"}
    assert ckd.kinds(concept((ICD, "N185"))) == {"stage-5"}
    assert ckd.kinds(concept((ICD, "N18.6"))) == {"esrd"}
    assert ckd.kinds(concept((SCT, "431857002"))) == {"stage-4"}
    assert ckd.kinds(concept((SCT, "433144002"))) == {"stage-3"}
    assert "stage-4" in ckd.kinds({"text": "Chronic kidney disease stage IV"})
    assert "esrd" in ckd.kinds({"text": "ESRD on dialysis"})
    assert not {"stage-4", "stage-5", "esrd"} & ckd.kinds({"text": "CKD stage 3a"})


def test_receptor_answers_and_qualifiers(kb: Knowledge) -> None:
    assert kb.valueset("VS_RECEPTOR_NEGATIVE").matches(concept((LOINC, "LA6577-6")))
    assert kb.valueset("VS_RECEPTOR_POSITIVE").matches(concept((LOINC, "LA6576-8")))
    assert not kb.valueset("VS_RECEPTOR_POSITIVE").matches(concept((LOINC, "LA6577-6")))
    qualifiers = kb.valueset("VS_RESULT_QUALIFIERS")
    assert qualifiers.kinds(concept((SCT, "52101004"))) == {"present"}
    assert qualifiers.kinds(concept((SCT, "281900007"))) == {"no-abnormality"}
    interp = kb.valueset("VS_INTERPRETATION")
    v3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
    assert interp.kinds(concept((v3, "HH"))) == {"high"}
    assert interp.kinds(concept((v3, "N"))) == {"normal"}


def test_bma_companions_use_text(kb: Knowledge) -> None:
    supplements = kb.valueset("VS_CALCIUM_VITAMIN_D_SUPPLEMENT")
    assert supplements.kinds({"text": "Calcium carbonate 500 mg + Vitamin D3 400 IU"}) == {
        "calcium",
        "vitamin-d",
    }
    assert kb.valueset("VS_DENTAL_EVALUATION").matches_text("Dental clearance before zoledronic acid")
    assert not kb.valueset("VS_DENTAL_EVALUATION").matches_text("Oncology follow-up")


def test_dicom_modalities(kb: Knowledge) -> None:
    modality = kb.valueset("VS_DICOM_MODALITY")
    dcm = "http://dicom.nema.org/resources/ontology/DCM"
    assert modality.kinds(concept((dcm, "DX"))) == {"xr"}
    assert modality.kinds([concept((dcm, "PT")), concept((dcm, "CT"))]) == {"pt", "ct"}


# ---------------------------------------------------------------------------------------------- medications


def test_product_codes_map_to_ingredients(kb: Knowledge) -> None:
    dox = kb.medication(concept((RXNORM, "1790099")))
    assert dox is not None and (dox.ingredient, dox.drug_class) == ("doxorubicin", "chemotherapy")
    herceptin = kb.medication({"coding": [{"system": RXNORM, "code": "101306", "display": "Herceptin"}]})
    assert herceptin is not None and (herceptin.ingredient, herceptin.drug_class) == ("trastuzumab", "her2")
    letrozole = kb.medication(concept((RXNORM, "200064")))
    assert letrozole is not None and letrozole.drug_class == "endocrine"


def test_every_listed_code_maps_to_its_own_ingredient(kb: Knowledge) -> None:
    for ingredient, raw in _raw("medications.yaml")["medications"].items():
        codes = ([raw["ingredient_code"]] if raw.get("ingredient_code") else []) + (raw.get("products") or [])
        for code in codes:
            found = kb.medication(concept((code["system"], code["code"])))
            assert found is not None and found.ingredient == ingredient, (ingredient, code["code"])
            assert found.drug_class == raw["class"]


def test_denosumab_dose_from_text(kb: Knowledge) -> None:
    xgeva = kb.medication({"text": "Xgeva 120 mg"})
    assert xgeva is not None and xgeva.ingredient == "denosumab" and xgeva.drug_class == "bone-modifying"
    assert xgeva.osteoporosis_dose is False
    prolia = kb.medication({"text": "Prolia 60 mg"})
    assert prolia is not None and prolia.ingredient == "denosumab" and prolia.osteoporosis_dose is True
    coded_prolia = kb.medication(
        {
            "coding": [
                {
                    "system": RXNORM,
                    "code": "993449",
                    "display": "denosumab 60 MG/ML Prefilled Syringe [Prolia]",
                }
            ]
        }
    )
    assert coded_prolia is not None and coded_prolia.osteoporosis_dose is True
    plain = kb.medication({"text": "denosumab"})
    assert plain is not None and plain.osteoporosis_dose is False


@pytest.mark.parametrize(
    ("text", "ingredient", "drug_class"),
    [
        ("Carboplatin AUC 5 IV", "carboplatin", "chemotherapy"),
        ("capecitabine 500 MG Oral Tablet", "capecitabine", "chemotherapy"),
        ("EPIRUBICIN HCL", "epirubicin", "chemotherapy"),
        ("5-FU continuous infusion", "fluorouracil", "chemotherapy"),
        ("Halaven 1.4 mg/m2", "eribulin", "chemotherapy"),
        ("gemcitabine", "gemcitabine", "chemotherapy"),
        ("Enhertu 5.4 mg/kg", "trastuzumab deruxtecan", "her2"),
        ("ado-trastuzumab emtansine", "trastuzumab emtansine", "her2"),
        ("Zoladex 3.6 mg implant", "goserelin", "endocrine"),
        ("leuprolide acetate depot", "leuprolide", "endocrine"),
        ("Kisqali 600 mg", "ribociclib", "cdk46"),
        ("Zometa 4 mg IV", "zoledronic acid", "bone-modifying"),
    ],
)
def test_name_fallback(kb: Knowledge, text: str, ingredient: str, drug_class: str) -> None:
    found = kb.medication({"text": text})
    assert found is not None
    assert (found.ingredient, found.drug_class) == (ingredient, drug_class)


def test_medication_unknown_or_partial_words(kb: Knowledge) -> None:
    assert kb.medication({"text": "aspirin 81 mg"}) is None
    assert kb.medication(concept((RXNORM, "0"))) is None
    assert kb.medication(None) is None
    assert kb.medication({"text": "doxorubicinol metabolite"}) is None


def test_combination_products_list_every_ingredient(kb: Knowledge) -> None:
    found = kb.medications({"text": "Doxorubicin and cyclophosphamide (AC)"})
    assert [m.ingredient for m in found] == ["doxorubicin", "cyclophosphamide"]
    assert set(kb.ingredients("cdk46")) == {"palbociclib", "ribociclib", "abemaciclib"}


# ---------------------------------------------------------------------------------------------- procedures


def test_every_procedure_code_classifies_to_its_class(kb: Knowledge) -> None:
    for name, raw in _raw("procedures.yaml")["procedures"].items():
        for code in raw.get("codes") or []:
            assert kb.procedure_class(concept((code["system"], code["code"]))) == name, code


@pytest.mark.parametrize(
    ("system", "code", "expected"),
    [
        (CPT, "78306", "BONE_SCAN_WB"),
        (LOINC, "39818-0", "BONE_SCAN_WB"),
        (CPT, "78315", "BONE_SCAN_OTHER"),
        (LOINC, "25031-6", "BONE_SCAN_OTHER"),
        (LOINC, "72254-6", "CT_CAP_IV"),
        (SCT, "1148700003", "CT_CAP_IV"),
        (LOINC, "72253-8", "CT_CAP_NOIV"),
        (SCT, "393161000119104", "CT_CAP_NOIV"),
        (LOINC, "72252-0", "CT_CAP_WO_W"),
        (CPT, "71260", "CT_CHEST_IV"),
        (LOINC, "24628-0", "CT_CHEST_IV"),
        (CPT, "74177", "CT_ABD_PELVIS_IV"),
        (LOINC, "36813-4", "CT_ABD_PELVIS_IV"),
        (CPT, "71250", "CT_CHEST_NOIV"),
        (LOINC, "29252-4", "CT_CHEST_NOIV"),
        (CPT, "74176", "CT_ABD_PELVIS_NOIV"),
        (LOINC, "36952-0", "CT_ABD_PELVIS_NOIV"),
        (CPT, "78815", "FDG_PETCT"),
        (LOINC, "81554-8", "FDG_PETCT"),
        (SCT, "443271005", "FDG_PETCT"),
        (LOINC, "81551-4", "NAF_PETCT"),
        (LOINC, "91523-1", "MRI_CAP"),
        (SCT, "699583008", "MRI_CAP"),
        (CPT, "70553", "MRI_BRAIN"),
        (LOINC, "80510-1", "MRI_BRAIN"),
        (SCT, "816077007", "MRI_BRAIN"),
        (CPT, "72158", "MRI_SPINE"),
        (SCT, "41333006", "MRI_SPINE"),
        (LOINC, "80514-3", "MRI_BONE_MARROW"),
        (LOINC, "46358-8", "MRI_WHOLE_BODY"),
        (CPT, "77075", "XR_SURVEY"),
        (LOINC, "38089-9", "XR_SURVEY"),
        (SCT, "1295429000", "XR_SURVEY"),
        (CPT, "72040", "XR_SITE"),
        (SCT, "783628002", "XR_SITE"),
        (LOINC, "86987-5", "CT_SPINE"),
        (CPT, "72133", "CT_SPINE"),
        (CPT, "70460", "CT_OTHER_IV"),
        (CPT, "70491", "CT_OTHER_IV"),
        (CPT, "74160", "CT_OTHER_IV"),
        (CPT, "72193", "CT_OTHER_IV"),
        (SCT, "429875006", "CT_SPINE"),
    ],
)
def test_classification_from_codes(kb: Knowledge, system: str, code: str, expected: str) -> None:
    assert kb.procedure_class(concept((system, code))) == expected


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        (((CPT, "71260"), (CPT, "74177")), "CT_CAP_IV"),
        (((CPT, "71250"), (CPT, "74176")), "CT_CAP_NOIV"),
        (((CPT, "71270"), (CPT, "74178")), "CT_CAP_WO_W"),
        (((LOINC, "24628-0"), (LOINC, "36813-4")), "CT_CAP_IV"),
        (((LOINC, "29252-4"), (LOINC, "36952-0")), "CT_CAP_NOIV"),
        (((CPT, "71260"), (LOINC, "72254-6")), "CT_CAP_IV"),
        (((CPT, "71550"), (CPT, "74183"), (CPT, "72197")), "MRI_CAP"),
        (((CPT, "74183"), (CPT, "72197")), "MRI_ABDOMEN_PELVIS"),
        (((CPT, "71260"), (CPT, "74176")), "CT_CHEST_IV"),
    ],
)
def test_split_halves_combine_within_one_order(
    kb: Knowledge, codes: tuple[tuple[str, str], ...], expected: str
) -> None:
    assert kb.procedure_class(concept(*codes)) == expected


def test_split_halves_combine_across_orders(kb: Knowledge) -> None:
    chest = kb.procedure_class(concept((CPT, "71260")))
    abdomen = kb.procedure_class(concept((LOINC, "36813-4")))
    assert chest == "CT_CHEST_IV" and abdomen == "CT_ABD_PELVIS_IV"
    assert "CT_CAP_IV" in kb.combine_procedure_classes([chest, abdomen])
    assert "CT_CAP_IV" not in kb.combine_procedure_classes([chest])
    assert "MRI_CAP" in kb.combine_procedure_classes(["MRI_CHEST", "MRI_ABDOMEN", "MRI_PELVIS"])


TEXT_EXAMPLES: dict[str, list[str]] = {
    "BONE_SCAN_WB": [
        "Bone scan",
        "Whole body bone scintigraphy",
        "NM Whole body Bone Views",
        "Tc-99m MDP bone scan",
        "WB bone scan with SPECT",
    ],
    "BONE_SCAN_OTHER": ["NM bone limited views", "Three phase bone scan", "Bone SPECT/CT lumbar spine"],
    "NAF_PETCT": ["NaF PET/CT whole body", "PET/CT 18F-sodium fluoride"],
    "FDG_PETCT": ["PET/CT", "FDG PET-CT skull base to mid-thigh", "PET CT chest abdomen pelvis"],
    "CT_CAP_IV": [
        "CT chest abdomen pelvis with contrast",
        "CT Chest and Abdomen and Pelvis W contrast IV",
        "CT C/A/P w/ IV contrast",
        "CT CAP contrast-enhanced",
    ],
    "CT_CAP_NOIV": [
        "CT chest abdomen pelvis without contrast",
        "CT C/A/P w/o contrast",
        "CT CAP non-contrast",
    ],
    "CT_CAP_WO_W": [
        "CT chest/abdomen/pelvis w/wo contrast",
        "CT Chest and Abdomen and Pelvis WO and W contrast IV",
    ],
    "CT_CAP_CONTRAST_UNSPECIFIED": ["CT chest abdomen pelvis"],
    "CT_CHEST_IV": ["CT chest with IV contrast", "CT thorax w contrast"],
    "CT_ABD_PELVIS_IV": ["CT abdomen/pelvis with IV contrast", "CT Abdomen and Pelvis W contrast IV"],
    "CT_CHEST_NOIV": ["CT chest without contrast", "CT Chest WO contrast"],
    "CT_ABD_PELVIS_NOIV": ["CT abdomen and pelvis without contrast"],
    "CT_CHEST_WO_W": ["CT chest without and with contrast"],
    "CT_ABD_PELVIS_WO_W": ["CT Abdomen and Pelvis WO and W contrast IV"],
    "CT_SPINE": ["CT L-spine", "CT thoracic spine without contrast"],
    "CT_OTHER_IV": ["CT neck with contrast", "CT head w/o and w contrast", "CT soft tissue neck with IV contrast"],
    "MRI_CAP": ["MRI chest abdomen pelvis", "MR Chest and Abdomen and Pelvis WO contrast"],
    "MRI_ABDOMEN_PELVIS": ["MRI abdomen and pelvis with contrast"],
    "MRI_CHEST": ["MRI chest without contrast"],
    "MRI_ABDOMEN": ["MRI abdomen w/wo contrast"],
    "MRI_PELVIS": ["MRI pelvis"],
    "MRI_BRAIN": [
        "MRI brain w/wo",
        "MR Brain for metastasis WO and W contrast IV",
        "Magnetic resonance imaging of head",
    ],
    "MRI_SPINE": ["MRI lumbar spine w/o", "MRI C-spine", "MRI whole spine screening"],
    "MRI_BONE_MARROW": ["MR Bone marrow"],
    "MRI_WHOLE_BODY": ["MRI whole body", "Whole-body MRI"],
    "XR_SURVEY": [
        "Skeletal survey",
        "Metastatic bone survey",
        "XR Bones Limited Survey Views for metastasis",
    ],
    "XR_SITE": ["XR lumbar spine 2 views", "X-ray right hip", "Radiograph of left femur"],
}


def test_every_procedure_class_has_text_examples(kb: Knowledge) -> None:
    assert set(TEXT_EXAMPLES) == set(kb.procedure_classes)


@pytest.mark.parametrize(
    ("expected", "text"), [(cls, text) for cls, texts in TEXT_EXAMPLES.items() for text in texts]
)
def test_classification_from_text_only(kb: Knowledge, expected: str, text: str) -> None:
    assert kb.procedure_class({"text": text}) == expected


@pytest.mark.parametrize(
    "text",
    [
        "DEXA bone density scan",
        "Chest x-ray 2 views",
        "MRI breast bilateral",
        "Mammogram",
        "US abdomen",
        "Lab work",
    ],
)
def test_other_imaging_text_is_not_classified(kb: Knowledge, text: str) -> None:
    assert kb.procedure_class({"text": text}) is None


def test_text_refines_but_does_not_override_codes(kb: Knowledge) -> None:
    assert kb.procedure_class(concept((CPT, "78815"), text="NaF PET/CT")) == "NAF_PETCT"
    assert (
        kb.procedure_class(concept((CPT, "71260"), text="CT chest abdomen pelvis with contrast"))
        == "CT_CAP_IV"
    )
    assert kb.procedure_class(concept((CPT, "78306"), text="MRI brain")) == "BONE_SCAN_WB"


def test_regions_and_contrast(kb: Knowledge) -> None:
    lumbar = kb.classify_procedure(concept((CPT, "72158")))
    assert lumbar is not None and (lumbar.procedure_class, lumbar.region) == ("MRI_SPINE", "lumbar")
    cervical = kb.classify_procedure({"text": "MRI cervical spine w/o"})
    assert cervical is not None and cervical.region == "cervical" and cervical.matched_by == "text"
    generic = kb.classify_procedure(concept((SCT, "241645008"), text="MRI thoracic spine"))
    assert generic is not None and generic.region == "thoracic" and generic.matched_by == "snomed"
    ct = kb.classify_procedure(concept((LOINC, "72254-6")))
    assert ct is not None and ct.iodinated_contrast is True and ct.modality == "CT"
    pet = kb.classify_procedure(concept((LOINC, "82809-5")))
    assert pet is not None and pet.procedure_class == "FDG_PETCT" and pet.iodinated_contrast is True


def test_unknown_and_excluded_codes(kb: Knowledge) -> None:
    assert kb.procedure_class(concept((SCT, "44491008"))) is None  # Fluoroscopy, not "Bone scan"
    assert kb.procedure_class(concept((CPT, "99213"))) is None
    assert kb.procedure_class(None) is None
    assert kb.procedure_modality(concept((SCT, "77477000"))) == "CT"
    assert kb.procedure_modality(concept((CPT, "78306"))) == "NM"


def test_procedure_entry_is_a_copy_with_order_codes(kb: Knowledge) -> None:
    entry = kb.procedure("MRI_BRAIN")
    assert entry["modality"] == "MR"
    assert {c["code"] for c in entry["order"]["codes"]} == {"70553", "24587-8"}
    entry["modality"] = "XX"
    assert kb.procedure("MRI_BRAIN")["modality"] == "MR"
    assert kb.procedure("MRI_SPINE")["order_by_region"]["lumbar"]["codes"][0]["code"] == "72158"
    with pytest.raises(KeyError, match="NOPE"):
        kb.procedure("NOPE")


# ---------------------------------------------------------------------------------------------- ACR table


def test_acr_table_has_exactly_the_five_rated_classes(kb: Knowledge) -> None:
    rated = {cls for cls in kb.procedure_classes if (row := kb.acr(cls)) is not None and row.rated_as is None}
    assert rated == {"BONE_SCAN_WB", "CT_CAP_IV", "FDG_PETCT", "MRI_CAP", "CT_CAP_NOIV"}
    # single regions of the two usually-not-appropriate surveys take the survey's rating (issue 10)
    parts = {cls: row.rated_as for cls in kb.procedure_classes if (row := kb.acr(cls)) is not None and row.rated_as}
    assert parts == {"MRI_CHEST": "MRI_CAP", "MRI_ABDOMEN": "MRI_CAP", "MRI_PELVIS": "MRI_CAP",
                     "MRI_ABDOMEN_PELVIS": "MRI_CAP", "CT_CHEST_NOIV": "CT_CAP_NOIV",
                     "CT_ABD_PELVIS_NOIV": "CT_CAP_NOIV"}


@pytest.mark.parametrize(
    ("cls", "category", "rating", "rrl_msv"),
    [
        ("BONE_SCAN_WB", "usually-appropriate", "appropriate", "1-10"),
        ("CT_CAP_IV", "usually-appropriate", "appropriate", "10-30"),
        ("FDG_PETCT", "usually-appropriate", "appropriate", "10-30"),
        ("MRI_CAP", "usually-not-appropriate", "not-appropriate", "0"),
        ("CT_CAP_NOIV", "usually-not-appropriate", "not-appropriate", "10-30"),
    ],
)
def test_acr_rows(kb: Knowledge, cls: str, category: str, rating: str, rrl_msv: str) -> None:
    entry = kb.acr(cls)
    assert entry is not None
    assert (entry.category, entry.pama_rating, entry.rrl_msv) == (category, rating, rrl_msv)
    assert entry.source


def test_acr_scenario_and_no_rating(kb: Knowledge) -> None:
    assert kb.acr("NAF_PETCT") is None
    assert kb.acr("MRI_WHOLE_BODY") is None
    assert kb.pama_no_rating == "no-criteria-apply"
    assert kb.pama_system == "http://fhir.org/argonaut/CodeSystem/pama-rating"
    assert kb.acr_scenario["variant"] == 6
    assert kb.acr_scenario["topic_id"] == 235


# ---------------------------------------------------------------------------------------------- parameters


EXPECTED_PARAMETERS = {
    "P_SUSPICION_LOOKBACK_DAYS": 30,
    "P_NEOADJ_LOOKBACK_DAYS": 270,
    "P_RECENT_STAGING_DAYS": 30,
    "P_DISCORDANCE_WINDOW_DAYS": 60,
    "P_POSTCHEMO_FN_DAYS": 28,
    "P_FLARE_MIN_DAYS": 14,
    "P_FLARE_MAX_DAYS": 90,
    "P_FLARE_EXTENDED_MAX_DAYS": 180,
    "P_FLARE_REIMAGE_DAYS": 90,
    "P_EGFR_CONTRAST_LIMIT": 30,
    "P_ALP_ULN": 120,
    "P_BMA_LOOKBACK_DAYS": 120,
    "P_EGFR_LOOKBACK_DAYS": 90,
    "P_NEW_THERAPY_GAP_DAYS": 90,
    "P_RECURRENCE_AFTER_CHEMO_DAYS": 180,
    "P_ALP_LOOKBACK_DAYS": 30,
    "P_RECEPTOR_RETEST_DAYS": 90,
    "P_THERAPY_ACTIVE_DAYS": 28,
    "P_RESULT_RECENT_DAYS": 90,
    "P_SCENARIO_REQUIRE_NEOADJUVANT": 1,
    "P_ORDER_TIME_POSTCHEMO_TIMING": 0,
    # R25 / R26 (clinical-rules.md §7.3)
    "P_CORD_PAIN_LOOKBACK_DAYS": 90,
    "P_SUSPECTED_METS_IMAGING_DAYS": 365,
    "P_CALCIUM_LOOKBACK_DAYS": 7,
    "P_ALBUMIN_PAIRING_DAYS": 3,
    "P_CALCIUM_CORRECTED_ULN_MGDL": 10.5,
    "P_CALCIUM_CORRECTED_ULN_MMOLL": 2.6,
    "P_CALCIUM_IONISED_ULN_MMOLL": 1.32,
}


def test_parameters(kb: Knowledge) -> None:
    assert dict(kb.parameters) == EXPECTED_PARAMETERS
    assert kb.param("P_FLARE_MIN_DAYS") == 14
    assert kb.parameter_info("P_NEOADJ_LOOKBACK_DAYS")["status"] == "DESIGN DEFAULT"
    assert kb.parameter_info("P_EGFR_CONTRAST_LIMIT")["unit"] == "mL/min/1.73m2"
    with pytest.raises(KeyError, match="P_NOPE"):
        kb.param("P_NOPE")


# ---------------------------------------------------------------------------------------------- overrides


def _write(directory: Path, name: str, content: str) -> Path:
    path = directory / name
    path.write_text(content, encoding="utf-8")
    return path


def test_override_replaces_a_parameter(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "parameters.yaml",
        "parameters:\n"
        "  P_FLARE_MIN_DAYS: 21\n"
        "  P_ALP_ULN: {value: 104, unit: U/L, status: SOURCED, provenance: local lab reference range}\n",
    )
    local = load_knowledge(tmp_path)
    assert local.param("P_FLARE_MIN_DAYS") == 21
    assert local.parameter_info("P_FLARE_MIN_DAYS")["status"] == "LOCAL OVERRIDE"
    assert local.parameter_info("P_FLARE_MIN_DAYS")["unit"] == "days"
    assert local.param("P_ALP_ULN") == 104
    assert local.param("P_FLARE_MAX_DAYS") == 90
    assert default_knowledge().param("P_FLARE_MIN_DAYS") == 14


def test_override_replaces_entries_and_removes_acr_rows(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "valuesets.yaml",
        "valuesets:\n"
        "  VS_BONE_PAIN:\n"
        "    description: local bone pain codes\n"
        "    source: site terminology team\n"
        "    codes:\n"
        "      - {system: 'urn:local', code: BP1, display: Bone pain, status: UNVERIFIED}\n",
    )
    _write(tmp_path, "acr_table.yaml", "rows:\n  MRI_CAP: null\n")
    local = load_knowledge(tmp_path)
    assert local.valueset("VS_BONE_PAIN").matches_coding("urn:local", "BP1")
    assert not local.valueset("VS_BONE_PAIN").matches_coding(SCT, "12584003")
    assert local.valueset("VS_BREAST_CANCER").matches_coding(ICD, "C50.911")
    assert local.acr("MRI_CAP") is None
    assert local.acr("BONE_SCAN_WB") is not None


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("parameters.yaml", "parameters:\n  P_FLARE_MIN_DAYS: soon\n", "P_FLARE_MIN_DAYS"),
        ("parameters.yaml", "parameters: [1, 2]\n", "parameters"),
        (
            "parameters.yaml",
            "parameters:\n  P_X: {value: 1, unit: d, status: DESIGN DEFAULT}\n",
            "provenance",
        ),
        (
            "valuesets.yaml",
            "valuesets:\n  VS_X:\n    description: x\n    source: y\n    text_patterns: ['(']\n",
            "VS_X",
        ),
        (
            "valuesets.yaml",
            "valuesets:\n  VS_X:\n    description: x\n    source: y\n"
            "    codes: [{code: '1', display: x, status: C}]\n",
            "system",
        ),
        ("valuesets.yaml", "valuesets:\n  VS_X:\n    description: x\n    codes: []\n", "source"),
        ("procedures.yaml", "procedures:\n  BONE_SCAN_WB: {display: x}\n", "BONE_SCAN_WB"),
        (
            "acr_table.yaml",
            "rows:\n  XR_SURVEY: {category: great, rrl: O, rrl_msv: '0', source: s}\n",
            "XR_SURVEY",
        ),
        (
            "acr_table.yaml",
            "rows:\n  NOT_A_CLASS: {category: usually-appropriate, rrl: O, rrl_msv: '0', source: s}\n",
            "NOT_A_CLASS",
        ),
        (
            "medications.yaml",
            "medications:\n  aspirin: {class: nsaid, source: s, names: [aspirin]}\n",
            "aspirin",
        ),
        (
            "medications.yaml",
            "medications:\n  foo: {class: her2, source: s, names: [herceptin]}\n",
            "herceptin",
        ),
        ("parameters.yaml", "parameters:\n  P_FLARE_MIN_DAYS: [\n", "invalid YAML"),
        ("parameters.yaml", "- just\n- a list\n", "mapping"),
    ],
)
def test_bad_override_names_the_file(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = _write(tmp_path, name, content)
    with pytest.raises(KnowledgeError) as excinfo:
        load_knowledge(tmp_path)
    assert str(path) in str(excinfo.value)
    assert message in str(excinfo.value)


def test_missing_override_directory(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match="does not exist"):
        load_knowledge(tmp_path / "nope")


def test_unrelated_files_in_the_override_directory_are_ignored(tmp_path: Path) -> None:
    _write(tmp_path, "notes.yaml", "anything: [\n")
    assert load_knowledge(tmp_path).param("P_FLARE_MIN_DAYS") == 14
