"""Synthea-style records through all three hooks: no errors, spec-valid answers, no spurious warnings.

The records are made here by a small deterministic generator (`random.Random(seed)`, every date relative to
AS_OF) in the shape Synthea writes: years of encounters with metabolic panels, vital signs and surveys,
unrelated chronic and acute conditions, screening mammography ImagingStudies (modality MG) with their
reports, breast biopsy, lumpectomy, radiotherapy, ER/PR/HER2 results, chemotherapy and endocrine therapy,
and many unrelated prescriptions. None of these patients has any sign of metastatic disease, so no hook may
answer with a `warning` (or `critical`) card, and nothing may be logged as an error.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from cdshooks.fhir.prefetch import PREFETCH
from cdshooks.protocol.conformance import response_problems
from tests.conftest import NOW, ORDER_SELECT, ORDER_SIGN, PATIENT_VIEW
from tools.fixtures.builders import (
    CLINICAL,
    CPT,
    DICOM,
    ICD10,
    INTERPRETATION,
    LOINC,
    OBS_CATEGORY,
    RXNORM,
    SNOMED,
    V2_0074,
    concept,
    prefetch_key,
)

Resource = dict[str, Any]
UCUM = "http://unitsofmeasure.org"

# (LOINC, display, unit, low, high, decimals): the comprehensive metabolic panel parts the service reads
METABOLIC = (
    ("6768-6", "Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma", "U/L", 44, 121, 0),
    ("1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L", 7, 40, 0),
    ("1920-8", "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L", 10, 40, 0),
    ("1975-2", "Bilirubin.total [Mass/volume] in Serum or Plasma", "mg/dL", 0.2, 1.2, 1),
    ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 0.6, 1.1, 2),
    ("17861-6", "Calcium [Mass/volume] in Serum or Plasma", "mg/dL", 8.6, 10.3, 1),
    ("33914-3", "Glomerular filtration rate/1.73 sq M.predicted (MDRD)", "mL/min/{1.73_m2}", 60, 120, 0),
)
# ... and the parts it does not read (a server that ignores the code filter returns them too)
OTHER_LABS = (
    ("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL", 70, 99),
    ("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", 136, 145),
    ("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", 3.5, 5.1),
    ("6299-2", "Urea nitrogen [Mass/volume] in Blood", "mg/dL", 7, 20),
    ("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", 120, 200),
    ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 4.8, 5.6),
    ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 12, 15.5),
    ("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL", 4, 11),
)
VITALS = (
    ("8302-2", "Body Height", "cm", 158, 170),
    ("29463-7", "Body Weight", "kg", 60, 92),
    ("39156-5", "Body mass index (BMI) [Ratio]", "kg/m2", 22, 33),
    ("8867-4", "Heart rate", "/min", 58, 96),
    ("9279-1", "Respiratory rate", "/min", 12, 18),
    ("72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported", "{score}", 0, 2),
)
UNRELATED_CONDITIONS = (
    ((SNOMED, "59621000", "Essential hypertension (disorder)"), True),
    ((SNOMED, "15777000", "Prediabetes (finding)"), True),
    ((SNOMED, "55822004", "Hyperlipidemia (disorder)"), True),
    ((SNOMED, "162864005", "Body mass index 30+ - obesity (finding)"), True),
    ((SNOMED, "444814009", "Viral sinusitis (disorder)"), False),
    ((SNOMED, "10509002", "Acute bronchitis (disorder)"), False),
    ((SNOMED, "195662009", "Acute viral pharyngitis (disorder)"), False),
    ((SNOMED, "44465007", "Sprain of ankle (disorder)"), False),
    ((SNOMED, "68496003", "Polyp of colon (disorder)"), False),
    ((ICD10, "Z80.3", "Family history of malignant neoplasm of breast"), True),
    ((SNOMED, "73595000", "Stress (finding)"), True),
    ((SNOMED, "160903007", "Full-time employment (finding)"), True),
)
UNRELATED_MEDICATIONS = (
    ("314076", "lisinopril 10 MG Oral Tablet"),
    ("197361", "amlodipine 5 MG Oral Tablet"),
    ("860975", "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet"),
    ("259255", "atorvastatin 80 MG Oral Tablet"),
    ("313782", "Acetaminophen 325 MG Oral Tablet"),
    ("197805", "Ibuprofen 400 MG Oral Tablet"),
    ("308182", "Amoxicillin 250 MG Oral Capsule"),
    ("562251", "Amoxicillin 250 MG / Clavulanate 125 MG Oral Tablet"),
    ("849574", "Naproxen sodium 220 MG Oral Tablet"),
    ("895994", "120 ACTUAT Fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler"),
    ("312961", "Simvastatin 20 MG Oral Tablet"),
    ("1049221", "Acetaminophen 325 MG / Oxycodone Hydrochloride 5 MG Oral Tablet"),
)


def _uuid(text: str) -> str:
    return str(uuid.UUID(hashlib.sha256(text.encode()).hexdigest()[:32]))


@dataclass
class SyntheaStyle:
    """One generated patient: resources built in Synthea's shapes, dates as day offsets from AS_OF."""

    patient_id: str
    seed: int
    resources: list[Resource] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self._n = 0
        self.resources.append({"resourceType": "Patient", "id": self.patient_id, "gender": "female",
                               "birthDate": (NOW - timedelta(days=365 * self.rng.randint(48, 72))).date().isoformat(),
                               "name": [{"family": "Synthetic", "given": [f"Patient{self.seed}"]}]})

    # -- plumbing -----------------------------------------------------------------------------------
    def add(self, resource: Resource) -> Resource:
        self._n += 1
        resource.setdefault("id", _uuid(f"{self.patient_id}/{self._n}"))
        resource["subject"] = {"reference": f"Patient/{self.patient_id}"}
        self.resources.append(resource)
        return resource

    @staticmethod
    def when(offset: float) -> str:
        return (NOW + timedelta(days=offset)).strftime("%Y-%m-%dT%H:%M:%S+00:00")

    def encounter_days(self, years: int, every: tuple[int, int]) -> list[int]:
        days, offset = [], -365 * years
        while offset < -3:
            days.append(offset)
            offset += self.rng.randint(*every)
        return days

    # -- Synthea shapes -------------------------------------------------------------------------------
    def condition(self, code: tuple[str, str, str], onset: int, active: bool = True) -> Resource:
        resource: Resource = {
            "resourceType": "Condition", "code": concept(code, text=code[2].split(" (")[0]),
            "clinicalStatus": concept((CLINICAL, "active" if active else "resolved")),
            "verificationStatus": concept(("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed")),
            "category": [concept(("http://terminology.hl7.org/CodeSystem/condition-category", "encounter-diagnosis"))],
            "onsetDateTime": self.when(onset), "recordedDate": self.when(onset)}
        if not active:
            resource["abatementDateTime"] = self.when(onset + self.rng.randint(7, 20))
        return self.add(resource)

    def observation(self, code: str, display: str, value: float, unit: str, offset: int, category: str,
                    low: float | None = None, high: float | None = None) -> Resource:
        resource: Resource = {
            "resourceType": "Observation", "status": "final", "category": [concept((OBS_CATEGORY, category))],
            "code": concept((LOINC, code, display), text=display), "effectiveDateTime": self.when(offset),
            "issued": self.when(offset + 0.1),
            "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}}
        if low is not None and high is not None:
            resource["referenceRange"] = [{"low": {"value": low, "unit": unit}, "high": {"value": high, "unit": unit}}]
            if self.rng.random() < 0.5:
                resource["interpretation"] = [concept((INTERPRETATION, "N", "Normal"))]
        return self.add(resource)

    def panel(self, offset: int, loose: bool) -> None:
        results = []
        for code, display, unit, low, high, decimals in METABOLIC:
            value = round(self.rng.uniform(low + (high - low) * 0.1, high - (high - low) * 0.1), decimals)
            results.append(self.observation(code, display, value, unit, offset, "laboratory", low, high))
        for code, display, unit, low, high in OTHER_LABS:
            results.append(self.observation(code, display, round(self.rng.uniform(low, high), 1), unit, offset,
                                            "laboratory"))
        for code, display, unit, low, high in VITALS:
            self.observation(code, display, round(self.rng.uniform(low, high), 1), unit, offset, "vital-signs")
        self.add({"resourceType": "Observation", "status": "final", "category": [concept((OBS_CATEGORY, "survey"))],
                  "code": concept((LOINC, "72166-2", "Tobacco smoking status")), "effectiveDateTime": self.when(offset),
                  "valueCodeableConcept": concept((SNOMED, "266919005", "Never smoked tobacco (finding)"))})
        if loose:  # Synthea files the panel as a laboratory DiagnosticReport
            self.add({"resourceType": "DiagnosticReport", "status": "final",
                      "category": [concept((V2_0074, "LAB", "Laboratory"))],
                      "code": concept((LOINC, "24323-8", "Comprehensive metabolic 2000 panel - Serum or Plasma")),
                      "effectiveDateTime": self.when(offset), "issued": self.when(offset + 0.2),
                      "result": [{"reference": f"Observation/{r['id']}"} for r in results]})

    def mammogram(self, offset: int, birads: str = "BI-RADS 1: negative. No evidence of malignancy.") -> None:
        series_uid = f"1.2.840.99999.{self.seed}.{abs(offset)}"
        study = self.add({
            "resourceType": "ImagingStudy", "status": "available", "started": self.when(offset),
            "identifier": [{"use": "official", "system": "urn:ietf:rfc:3986", "value": f"urn:oid:{series_uid}"}],
            "modality": [{"system": DICOM, "code": "MG", "display": "Mammography"}],
            "procedureCode": [concept((SNOMED, "71651007", "Mammography (procedure)"))],
            "numberOfSeries": 1, "numberOfInstances": 4,
            "series": [{"uid": series_uid, "number": 1, "modality": {"system": DICOM, "code": "MG"},
                        "bodySite": {"system": SNOMED, "code": "76752008", "display": "Breast structure"},
                        "instances": [{"uid": f"{series_uid}.{i}", "number": i,
                                       "sopClass": {"system": "urn:ietf:rfc:3986",
                                                    "code": "urn:oid:1.2.840.10008.5.1.4.1.1.1.2"}}
                                      for i in range(1, 5)]}]})
        self.add({"resourceType": "DiagnosticReport", "status": "final",
                  "category": [concept((V2_0074, "RAD", "Radiology"))],
                  "code": concept((LOINC, "24606-6", "MG Breast Screening")), "effectiveDateTime": self.when(offset),
                  "issued": self.when(offset + 1), "imagingStudy": [{"reference": f"ImagingStudy/{study['id']}"}],
                  "conclusion": birads})

    def procedure(self, code: tuple[str, str, str], offset: int) -> Resource:
        return self.add({"resourceType": "Procedure", "status": "completed", "code": concept(code, text=code[2]),
                         "performedPeriod": {"start": self.when(offset), "end": self.when(offset + 0.05)}})

    def prescription(self, code: str, display: str, offset: int, status: str) -> Resource:
        return self.add({"resourceType": "MedicationRequest", "status": status, "intent": "order",
                         "medicationCodeableConcept": concept((RXNORM, code, display), text=display),
                         "authoredOn": self.when(offset),
                         "dosageInstruction": [{"sequence": 1, "asNeededBoolean": False,
                                                "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                                                "doseAndRate": [{"doseQuantity": {"value": 1}}]}]})

    def infusion(self, code: str, display: str, offset: int) -> None:
        request = self.prescription(code, display, offset - 1, "completed")
        self.add({"resourceType": "MedicationAdministration", "status": "completed",
                  "medicationCodeableConcept": concept((RXNORM, code, display), text=display),
                  "effectiveDateTime": self.when(offset),
                  "request": {"reference": f"MedicationRequest/{request['id']}"}})

    def receptor(self, code: str, display: str, positive: bool, offset: int) -> None:
        answer = (LOINC, "LA6576-8", "Positive") if positive else (LOINC, "LA6577-6", "Negative")
        self.add({"resourceType": "Observation", "status": "final", "category": [concept((OBS_CATEGORY, "laboratory"))],
                  "code": concept((LOINC, code, display)), "effectiveDateTime": self.when(offset),
                  "valueCodeableConcept": concept(answer)})

    def background(self, years: int, loose: bool) -> None:
        """Unrelated history: chronic and acute conditions, yearly panels, prescriptions, routine procedures."""
        for code, chronic in UNRELATED_CONDITIONS:
            self.condition(code, -self.rng.randint(200, 365 * years), active=chronic)
        for offset in self.encounter_days(years, (60, 120)):
            self.panel(offset, loose)
            self.procedure((SNOMED, "430193006", "Medication Reconciliation (procedure)"), offset)
            if self.rng.random() < 0.4:
                self.procedure((SNOMED, "710824005", "Assessment of health and social care needs (procedure)"), offset)
        for offset in self.encounter_days(years, (150, 250)):
            code, display = self.rng.choice(UNRELATED_MEDICATIONS)
            self.prescription(code, display, offset, self.rng.choice(["stopped", "completed", "active"]))
        for code, display in UNRELATED_MEDICATIONS[:4]:
            self.prescription(code, display, -self.rng.randint(30, 400), "active")
        self.add({"resourceType": "ImagingStudy", "status": "available", "started": self.when(-700),
                  "modality": [{"system": DICOM, "code": "DX", "display": "Digital Radiography"}],
                  "procedureCode": [concept((SNOMED, "399208008", "Plain X-ray of chest (procedure)"))]})
        self.add({"resourceType": "ImagingStudy", "status": "available", "started": self.when(-900),
                  "modality": [{"system": DICOM, "code": "US", "display": "Ultrasound"}],
                  "procedureCode": [concept((SNOMED, "47079000", "Ultrasonography of breast (procedure)"))]})


# ================================================================================================
# The three patients (none with any sign of metastatic disease)
# ================================================================================================

def survivor_on_anastrozole() -> SyntheaStyle:
    """Stage IIA ER+/PR+/HER2- breast cancer treated 3 years ago (biopsy, lumpectomy, AC-T, radiotherapy);
    anastrozole since; yearly mammograms negative; hypertension, prediabetes; normal labs."""
    p = SyntheaStyle("synthea-survivor", seed=11)
    p.background(years=6, loose=False)
    cancer = p.condition((SNOMED, "254837009", "Malignant neoplasm of breast (disorder)"), -1150)
    cancer["stage"] = [{"summary": {"text": "Stage IIA"}}]
    p.mammogram(-1160, "BI-RADS 4: suspicious abnormality in the left breast; tissue sampling recommended.")
    p.procedure((SNOMED, "122548005", "Biopsy of breast (procedure)"), -1152)
    for code, display, positive in (("85337-4", "Estrogen receptor Ag [Presence] in Breast cancer specimen by "
                                                "Immune stain", True),
                                    ("85339-0", "Progesterone receptor Ag [Presence] in Breast cancer specimen by "
                                                "Immune stain", True),
                                    ("48676-1", "HER2 [Interpretation] in Tissue", False)):
        p.receptor(code, display, positive, -1150)
    for cycle in range(4):
        p.infusion("1790099", "10 ML Doxorubicin Hydrochloride 2 MG/ML Injection", -1120 + 14 * cycle)
        p.infusion("1734919", "Cyclophosphamide 1000 MG Injection", -1120 + 14 * cycle)
    for week in range(12):
        p.infusion("583214", "Paclitaxel 100 MG Injection", -1060 + 7 * week)
    p.procedure((SNOMED, "392021009", "Lumpectomy of breast (procedure)"), -960)
    p.procedure((SNOMED, "396487001", "Sentinel lymph node biopsy (procedure)"), -960)
    for fraction in range(25):
        p.procedure((SNOMED, "33195004", "Teleradiotherapy procedure (procedure)"), -920 + fraction)
    p.prescription("199224", "anastrozole 1 MG Oral Tablet", -880, "active")
    for year in range(1, 3):
        p.mammogram(-365 * year + p.rng.randint(-20, 20))
    return p


def neoadjuvant_without_suspicion() -> SyntheaStyle:
    """Stage IIB HER2+ breast cancer on neoadjuvant chemotherapy + trastuzumab, no symptom, normal labs; the
    FHIR server ignored the search filters (every Observation and DiagnosticReport comes back)."""
    p = SyntheaStyle("synthea-neoadjuvant", seed=23)
    p.background(years=4, loose=True)
    cancer = p.condition((ICD10, "C50.412", "Malignant neoplasm of upper-outer quadrant of left female breast"), -75)
    cancer["stage"] = [{"summary": {"text": "Stage IIB"}}]
    p.mammogram(-80, "BI-RADS 5: highly suggestive of malignancy, left breast upper outer quadrant.")
    p.procedure((SNOMED, "122548005", "Biopsy of breast (procedure)"), -76)
    for code, display, positive in (("85337-4", "ER", False), ("85339-0", "PR", False), ("48676-1", "HER2", True)):
        p.receptor(code, f"{display} result", positive, -74)
    for cycle in range(4):
        p.infusion("1790099", "10 ML Doxorubicin Hydrochloride 2 MG/ML Injection", -60 + 14 * cycle)
        p.infusion("1734919", "Cyclophosphamide 1000 MG Injection", -60 + 14 * cycle)
    p.infusion("101306", "Herceptin", -4)
    p.add({"resourceType": "DiagnosticReport", "status": "final",
           "category": [concept((LOINC, "34117-2", "History and physical note"))],
           "code": concept((LOINC, "34117-2", "History and physical note")), "effectiveDateTime": p.when(-10),
           "presentedForm": [{"contentType": "text/plain; charset=utf-8", "data": base64.b64encode(
               b"Patient feels well. No bone pain, no headache. Continue neoadjuvant therapy.").decode()}]})
    return p


def history_only_with_comorbidities() -> SyntheaStyle:
    """Breast cancer history (Z85.3) 9 years ago, osteoporosis on alendronate, CKD stage 3, many prescriptions."""
    p = SyntheaStyle("synthea-history", seed=37)
    p.background(years=8, loose=False)
    p.condition((ICD10, "Z85.3", "Personal history of malignant neoplasm of breast"), -3300)
    p.condition((SNOMED, "254837009", "Malignant neoplasm of breast (disorder)"), -3300, active=False)
    p.condition((SNOMED, "64859006", "Osteoporosis (disorder)"), -1500)
    p.condition((SNOMED, "433144002", "Chronic kidney disease stage 3 (disorder)"), -900)
    p.prescription("904419", "alendronate sodium 70 MG Oral Tablet", -1400, "active")
    for year in range(1, 8):
        p.mammogram(-365 * year + p.rng.randint(-30, 30))
    return p


PATIENTS: tuple[Callable[[], SyntheaStyle], ...] = (survivor_on_anastrozole, neoadjuvant_without_suspicion,
                                                     history_only_with_comorbidities)


# ================================================================================================
# Requests
# ================================================================================================

def _loose_key(resource: Resource) -> str | None:
    """A server that ignores code and category filters returns every Observation / DiagnosticReport."""
    if resource["resourceType"] == "Observation":
        return "labs"
    if resource["resourceType"] == "DiagnosticReport":
        return "imagingReports"
    return _strict_key(resource)


def _strict_key(resource: Resource) -> str | None:
    if resource["resourceType"] == "DiagnosticReport":
        codes = {c.get("code") for cat in resource.get("category", []) for c in cat.get("coding", [])}
        return "imagingReports" if "RAD" in codes else None  # the search filters on category RAD
    try:
        return prefetch_key(resource)
    except ValueError:
        return None  # no prefetch search would return it (vital signs, surveys, other labs)


def prefetch(patient: SyntheaStyle, loose: bool) -> dict[str, Any]:
    keyed: dict[str, list[Resource]] = {key: [] for key in PREFETCH if key != "patient"}
    for resource in patient.resources[1:]:
        key = (_loose_key if loose else _strict_key)(resource)
        if key is not None:
            keyed[key].append(resource)
    out: dict[str, Any] = {"patient": patient.resources[0]}
    for key, resources in keyed.items():
        out[key] = {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
                    "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources]}
    return out


def _draft_mammogram(patient_id: str) -> Resource:
    return {"resourceType": "ServiceRequest", "id": "draft-mammo", "status": "draft", "intent": "order",
            "subject": {"reference": f"Patient/{patient_id}"},
            "code": concept((CPT, "77066", "Diagnostic mammography, bilateral"), text="MG diagnostic mammogram, both"),
            "reasonCode": [concept((ICD10, "Z85.3", "Personal history of malignant neoplasm of breast"))]}


def request(hook: str, patient: SyntheaStyle, loose: bool) -> dict[str, Any]:
    context: dict[str, Any] = {"userId": "Practitioner/dr-1", "patientId": patient.patient_id}
    if hook != "patient-view":
        draft = _draft_mammogram(patient.patient_id)
        context["draftOrders"] = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": draft}]}
        if hook == "order-select":
            context["selections"] = ["ServiceRequest/draft-mammo"]
    return {"hook": hook, "hookInstance": _uuid(f"{hook}/{patient.patient_id}"), "context": context,
            "prefetch": prefetch(patient, loose)}


# ================================================================================================
# Tests
# ================================================================================================

@pytest.fixture(scope="module")
def patients() -> list[SyntheaStyle]:
    return [build() for build in PATIENTS]


def test_generator_is_deterministic_and_large(patients: list[SyntheaStyle]) -> None:
    again = [build() for build in PATIENTS]
    for first, second in zip(patients, again, strict=True):
        assert first.resources == second.resources
        assert len(first.resources) >= 300
        kinds = {r["resourceType"] for r in first.resources}
        assert {"Condition", "Observation", "MedicationRequest", "ImagingStudy", "DiagnosticReport",
                "Procedure"} <= kinds
        assert any(m.get("code") == "MG" for r in first.resources if r["resourceType"] == "ImagingStudy"
                   for m in r["modality"])


@pytest.mark.parametrize("loose", [False, True], ids=["server-filters", "server-ignores-filters"])
@pytest.mark.parametrize(("hook", "service"), [("patient-view", PATIENT_VIEW), ("order-select", ORDER_SELECT),
                                               ("order-sign", ORDER_SIGN)])
def test_synthea_style_records_give_no_errors_and_no_warnings(client: FlaskClient, patients: list[SyntheaStyle],
                                                              caplog: pytest.LogCaptureFixture, hook: str,
                                                              service: str, loose: bool) -> None:
    for patient in patients:
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            response = client.post(f"/cds-services/{service}", json=request(hook, patient, loose))
        assert response.status_code == 200, (patient.patient_id, response.get_json())
        body = response.get_json()
        assert response_problems(body) == [], (patient.patient_id, response_problems(body))
        alarming = [(c["indicator"], c["source"].get("topic", {}).get("code"), c["summary"]) for c in body["cards"]
                    if c["indicator"] in {"warning", "critical"}]
        assert alarming == [], (patient.patient_id, alarming)
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert errors == [], (patient.patient_id, errors)


def test_patient_view_of_synthea_style_records_is_quiet(client: FlaskClient, patients: list[SyntheaStyle]) -> None:
    """Nothing in these charts calls for result-time guidance at all: no card of any kind."""
    for patient in patients:
        body = client.post(f"/cds-services/{PATIENT_VIEW}", json=request("patient-view", patient, False)).get_json()
        assert [c["source"]["topic"]["code"] for c in body["cards"]] == [], patient.patient_id


def test_dates_are_relative_to_as_of(patients: list[SyntheaStyle]) -> None:
    latest = max(datetime.fromisoformat(r[k]) for p in patients for r in p.resources
                 for k in ("effectiveDateTime", "authoredOn", "started", "onsetDateTime") if k in r)
    assert NOW - timedelta(days=5) <= latest <= NOW
