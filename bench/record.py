"""A deterministic, realistic CDS Hooks request for benchmarking: one breast-cancer patient, full prefetch.

`typical_request(hook, as_of)` returns the same JSON for the same arguments (seeded `random.Random`, every
date relative to `as_of`, no wall clock). At the default 200 resources the record is spread the way an EHR
record of a patient a few years into treatment looks:

| prefetch key | resources |
|---|---|
| patient | 1 |
| conditions | 15 (breast cancer, bone pain, comorbidities) |
| labs | 88 (ALP, ALT, AST, bilirubin, eGFR, calcium; value, reference range, interpretation) |
| tumorMarkers | 3 (ER, PR, HER2) |
| symptomObservations | 2 |
| imagingObservations | 10 |
| imagingReports | 8 (bone scan, CT C/A/P, PET-CT; conclusion, some conclusionCode) |
| imagingStudies | 8 |
| medicationRequests | 30 |
| medicationAdministrations | 25 |
| medicationStatements | 5 |
| procedures | 5 |

Other sizes scale every key but `patient` in proportion. Everything sits in one searchset page (no `next`
link), so the service never needs a fhirServer. order-select and order-sign carry a draftOrders Bundle with
a whole-body bone scan (CPT 78306) and a CT chest with contrast (CPT 71260); order-select selects the first.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, ClassVar

from cdshooks.fhir.prefetch import PREFETCH

Resource = dict[str, Any]

PATIENT_ID = "bench-pt-1"
PATIENT_REF = {"reference": f"Patient/{PATIENT_ID}"}
BASE = "https://ehr.example.org/fhir"

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CPT = "http://www.ama-assn.org/go/cpt"
UCUM = "http://unitsofmeasure.org"
DICOM = "http://dicom.nema.org/resources/ontology/DCM"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"

# Resources per prefetch key at n_resources=200 (the Patient is the 200th).
SHARES: dict[str, int] = {
    "conditions": 15,
    "labs": 88,
    "tumorMarkers": 3,
    "symptomObservations": 2,
    "imagingObservations": 10,
    "imagingReports": 8,
    "imagingStudies": 8,
    "medicationRequests": 30,
    "medicationAdministrations": 25,
    "medicationStatements": 5,
    "procedures": 5,
}

HOOKS = ("order-select", "order-sign", "patient-view")


def _coding(system: str, code: str, display: str) -> dict[str, str]:
    return {"system": system, "code": code, "display": display}


def _concept(system: str, code: str, display: str, text: str | None = None) -> dict[str, Any]:
    return {"coding": [_coding(system, code, display)], "text": text or display}


def _quantity(value: float, unit: str, ucum: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": ucum}


class _Builder:
    """Resource factories sharing one seeded RNG and one reference date."""

    def __init__(self, rng: random.Random, as_of: date, counts: dict[str, int]) -> None:
        self.rng = rng
        self.as_of = as_of
        self.counts = counts

    # -- dates -------------------------------------------------------------------------------------------
    def day(self, days_ago: int) -> str:
        return (self.as_of - timedelta(days=days_ago)).isoformat()

    def instant(self, days_ago: int, hour: int | None = None) -> str:
        h = self.rng.randint(7, 18) if hour is None else hour
        return f"{self.day(days_ago)}T{h:02d}:{self.rng.randint(0, 59):02d}:00Z"

    def meta(self, days_ago: int) -> dict[str, str]:
        return {"versionId": str(self.rng.randint(1, 4)), "lastUpdated": self.instant(max(0, days_ago - 1))}

    # -- patient -----------------------------------------------------------------------------------------
    def patient(self) -> Resource:
        born = self.as_of - timedelta(days=365 * 58 + self.rng.randint(0, 364))
        return {
            "resourceType": "Patient",
            "id": PATIENT_ID,
            "meta": self.meta(30),
            "identifier": [{"system": "https://ehr.example.org/mrn", "value": f"MRN{self.rng.randint(10**6, 10**7)}"}],
            "active": True,
            "name": [{"use": "official", "family": "Bench", "given": ["Alex"]}],
            "gender": "female",
            "birthDate": born.isoformat(),
            "address": [{"city": "Springfield", "postalCode": "01101", "country": "US"}],
            "communication": [{"language": _concept("urn:ietf:bcp:47", "en-US", "English (United States)")}],
        }

    # -- conditions --------------------------------------------------------------------------------------
    CONDITIONS: tuple[tuple[str, str, int, str], ...] = (
        # (SNOMED code, display, onset days ago, clinical status)
        ("254837009", "Malignant neoplasm of breast", 900, "active"),
        ("12584003", "Bone pain", 45, "active"),
        ("38341003", "Hypertensive disorder, systemic arterial", 3200, "active"),
        ("44054006", "Diabetes mellitus type 2", 2600, "active"),
        ("433144002", "Chronic kidney disease stage 3", 700, "active"),
        ("64859006", "Osteoporosis", 1500, "active"),
        ("55822004", "Hyperlipidemia", 2900, "active"),
        ("40930008", "Hypothyroidism", 4000, "active"),
        ("235595009", "Gastroesophageal reflux disease", 1800, "active"),
        ("414916001", "Obesity", 3000, "active"),
        ("35489007", "Depressive disorder", 850, "remission"),
        ("279039007", "Low back pain", 120, "active"),
        ("239873007", "Osteoarthritis of knee", 2200, "active"),
        ("197480006", "Anxiety disorder", 800, "active"),
        ("386806002", "Impaired cognition", 600, "resolved"),
    )

    def condition(self, i: int, total: int) -> Resource:
        code, display, onset, status = self.CONDITIONS[i % len(self.CONDITIONS)]
        onset += (i // len(self.CONDITIONS)) * 30
        res: Resource = {
            "resourceType": "Condition",
            "id": f"cond-{i:04d}",
            "meta": self.meta(onset),
            "clinicalStatus": _concept(CONDITION_CLINICAL, status, status.capitalize()),
            "verificationStatus": _concept(CONDITION_VERIFICATION, "confirmed", "Confirmed"),
            "category": [_concept(CONDITION_CATEGORY, "problem-list-item", "Problem List Item")],
            "code": _concept(SNOMED, code, display),
            "subject": PATIENT_REF,
            "onsetDateTime": self.day(onset),
            "recordedDate": self.day(onset - 2 if onset > 2 else 0),
        }
        if code == "254837009":
            res["bodySite"] = [_concept(SNOMED, "80248007", "Left breast structure")]
            res["stage"] = [{"summary": _concept(SNOMED, "1222806003", "American Joint Committee on Cancer stage IIA")}]
        if status != "active":
            res["abatementDateTime"] = self.day(max(0, onset - 200))
        return res

    # -- labs --------------------------------------------------------------------------------------------
    LABS: tuple[tuple[str, str, str, str, float | None, float | None, float, float], ...] = (
        # (LOINC, display, unit, UCUM, low, high, typical mean, sd)
        ("6768-6", "Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma", "U/L", "U/L",
         44.0, 147.0, 110.0, 25.0),
        ("1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L", "U/L",
         7.0, 56.0, 28.0, 9.0),
        ("1920-8", "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L", "U/L",
         10.0, 40.0, 27.0, 8.0),
        ("1975-2", "Bilirubin.total [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL", 0.1, 1.2, 0.6, 0.25),
        ("98979-8", "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or "
         "Blood by Creatinine-based formula (CKD-EPI 2021)", "mL/min/1.73m2", "mL/min/{1.73_m2}",
         60.0, None, 56.0, 7.0),
        ("17861-6", "Calcium [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL", 8.5, 10.2, 9.6, 0.45),
    )

    def lab(self, i: int, total: int) -> Resource:
        code, display, unit, ucum, low, high, mean, sd = self.LABS[i % len(self.LABS)]
        panel = i // len(self.LABS)
        days_ago = panel * 45 + self.rng.randint(0, 3)
        if code == "6768-6" and days_ago < 90:
            mean *= 1.7  # ALP rising lately: the kind of value the rules look at
        value = max(0.05, self.rng.gauss(mean, sd))
        value = round(value, 1) if value >= 10 else round(value, 2)
        if high is not None and value > high:
            flag = ("H", "High")
        elif low is not None and value < low:
            flag = ("L", "Low")
        else:
            flag = ("N", "Normal")
        ref_range: dict[str, Any] = {}
        if low is not None:
            ref_range["low"] = _quantity(low, unit, ucum)
        if high is not None:
            ref_range["high"] = _quantity(high, unit, ucum)
        ref_range["text"] = f"{low if low is not None else ''}-{high if high is not None else ''} {unit}".strip()
        effective = self.instant(days_ago, hour=8)
        return {
            "resourceType": "Observation",
            "id": f"lab-{i:04d}",
            "meta": self.meta(days_ago),
            "status": "final",
            "category": [_concept(OBS_CATEGORY, "laboratory", "Laboratory")],
            "code": _concept(LOINC, code, display),
            "subject": PATIENT_REF,
            "encounter": {"reference": f"Encounter/enc-{panel:04d}"},
            "effectiveDateTime": effective,
            "issued": effective.replace("T08:", "T11:"),
            "performer": [{"reference": "Organization/lab-1", "display": "Springfield Clinical Laboratory"}],
            "valueQuantity": _quantity(value, unit, ucum),
            "interpretation": [_concept(INTERPRETATION, flag[0], flag[1])],
            "referenceRange": [ref_range],
        }

    # -- tumour markers ----------------------------------------------------------------------------------
    MARKERS: tuple[tuple[str, str, str, str], ...] = (
        ("85337-4", "Estrogen receptor Ag [Presence] in Breast cancer specimen by Immune stain", "10828004",
         "Positive"),
        ("85339-0", "Progesterone receptor Ag [Presence] in Breast cancer specimen by Immune stain", "10828004",
         "Positive"),
        ("85319-2", "HER2 [Presence] in Breast cancer specimen by Immune stain", "260385009", "Negative"),
    )

    def marker(self, i: int, total: int) -> Resource:
        code, display, value_code, value_display = self.MARKERS[i % len(self.MARKERS)]
        days_ago = 880 - (i // len(self.MARKERS)) * 10
        return {
            "resourceType": "Observation",
            "id": f"marker-{i:04d}",
            "meta": self.meta(days_ago),
            "status": "final",
            "category": [_concept(OBS_CATEGORY, "laboratory", "Laboratory")],
            "code": _concept(LOINC, code, display),
            "subject": PATIENT_REF,
            "effectiveDateTime": self.instant(max(0, days_ago)),
            "valueCodeableConcept": _concept(SNOMED, value_code, value_display),
            "specimen": {"reference": "Specimen/spec-core-1", "display": "Core needle biopsy, left breast"},
            "method": _concept(SNOMED, "406826005", "Immunohistochemistry"),
        }

    # -- symptoms ----------------------------------------------------------------------------------------
    SYMPTOMS: tuple[tuple[str, str], ...] = (("12584003", "Bone pain"), ("279039007", "Low back pain"))

    def symptom(self, i: int, total: int) -> Resource:
        code, display = self.SYMPTOMS[i % len(self.SYMPTOMS)]
        days_ago = 40 + i * 7
        return {
            "resourceType": "Observation",
            "id": f"symptom-{i:04d}",
            "meta": self.meta(days_ago),
            "status": "final",
            "category": [_concept(OBS_CATEGORY, "exam", "Exam")],
            "code": _concept(SNOMED, code, display),
            "subject": PATIENT_REF,
            "effectiveDateTime": self.instant(days_ago),
            "valueCodeableConcept": _concept(SNOMED, "6736007", "Moderate"),
            "bodySite": _concept(SNOMED, "122496007", "Lumbar spine structure"),
            "note": [{"text": "Worse at night, not relieved by rest."}],
        }

    # -- imaging -----------------------------------------------------------------------------------------
    # (kind, DICOM modality, LOINC, display, CPT, days ago of the first of its kind)
    STUDY_KINDS: tuple[tuple[str, str, str, str, str, int], ...] = (
        ("bone-scan", "NM", "39818-0", "NM Whole body Bone Views", "78306", 30),
        ("ct-cap", "CT", "72254-6", "CT Chest and Abdomen and Pelvis W contrast IV", "74177", 28),
        ("pet-ct", "PT", "81554-8", "PET+CT Skull base to mid-thigh", "78815", 400),
        ("bone-scan", "NM", "39818-0", "NM Whole body Bone Views", "78306", 870),
    )
    CONCLUSIONS: ClassVar[dict[str, tuple[tuple[str, tuple[str, str] | None], ...]]] = {
        "bone-scan": (
            ("Focal increased uptake in L3 and the right iliac bone, indeterminate; correlate with CT or MRI.",
             ("118227000", "Indeterminate")),
            ("No scintigraphic evidence of osseous metastatic disease.", ("260385009", "Negative")),
        ),
        "ct-cap": (
            ("Sclerotic lesions in L3 and right iliac wing, suspicious for osseous metastases. No visceral "
             "metastases.", ("94222008", "Secondary malignant neoplasm of bone")),
            ("No evidence of metastatic disease in the chest, abdomen or pelvis.", None),
        ),
        "pet-ct": (
            ("No FDG-avid locoregional or distant disease. Post-surgical changes left breast.",
             ("281900007", "No abnormality detected")),
        ),
    }
    BODY_SITES: tuple[tuple[str, str], ...] = (
        ("122496007", "Lumbar spine structure"), ("12921003", "Pelvis structure"), ("113197003", "Rib structure"),
        ("71341001", "Bone structure of femur"), ("122495006", "Thoracic spine structure"),
    )

    def _study_kind(self, i: int) -> tuple[str, str, str, str, str, int]:
        kind, modality, loinc, display, cpt, first = self.STUDY_KINDS[i % len(self.STUDY_KINDS)]
        return kind, modality, loinc, display, cpt, first + (i // len(self.STUDY_KINDS)) * 120

    def imaging_study(self, i: int, total: int) -> Resource:
        _, modality, loinc, display, cpt, days_ago = self._study_kind(i)
        n_series = 1 if modality == "NM" else self.rng.randint(3, 6)
        series = []
        instances = 0
        for s in range(n_series):
            count = self.rng.randint(1, 4) if modality == "NM" else self.rng.randint(80, 600)
            instances += count
            series.append({
                "uid": f"1.2.840.113619.2.{i + 1}.{s + 1}",
                "number": s + 1,
                "modality": _coding(DICOM, "CT" if modality == "PT" and s > 0 else modality, modality),
                "numberOfInstances": count,
                "bodySite": _coding(SNOMED, "38266002", "Entire body as a whole"),
            })
        return {
            "resourceType": "ImagingStudy",
            "id": f"is-{i:04d}",
            "meta": self.meta(days_ago),
            "identifier": [{"system": "urn:dicom:uid", "value": f"urn:oid:1.2.840.113619.2.{i + 1}"}],
            "status": "available",
            "modality": [_coding(DICOM, m, m) for m in ((modality, "CT") if modality == "PT" else (modality,))],
            "subject": PATIENT_REF,
            "started": self.instant(days_ago),
            "basedOn": [{"reference": f"ServiceRequest/sr-{i:04d}"}],
            "numberOfSeries": n_series,
            "numberOfInstances": instances,
            "procedureCode": [{"coding": [_coding(LOINC, loinc, display), _coding(CPT, cpt, display)],
                               "text": display}],
            "series": series,
        }

    def imaging_report(self, i: int, total: int) -> Resource:
        kind, _, loinc, display, _, days_ago = self._study_kind(i)
        options = self.CONCLUSIONS[kind]
        text, code = options[0] if days_ago < 60 else options[-1]  # recent: the findings; older: baseline
        res: Resource = {
            "resourceType": "DiagnosticReport",
            "id": f"dr-{i:04d}",
            "meta": self.meta(days_ago),
            "status": "final",
            "category": [
                _concept("http://terminology.hl7.org/CodeSystem/v2-0074", "RAD", "Radiology"),
                _concept(LOINC, "LP29684-5", "Radiology"),
            ],
            "code": {"coding": [_coding(LOINC, loinc, display)], "text": display},
            "subject": PATIENT_REF,
            "effectiveDateTime": self.instant(days_ago),
            "issued": self.instant(max(0, days_ago - 1)),
            "performer": [{"reference": "Practitioner/rad-1", "display": "Dr. R. Radiologist"}],
            "resultsInterpreter": [{"reference": "Practitioner/rad-1"}],
            "conclusion": text,
            "presentedForm": [{"contentType": "text/plain", "language": "en-US", "title": f"{display} report",
                               "url": f"{BASE}/Binary/rpt-{i:04d}"}],
        }
        if i < self.counts["imagingStudies"]:
            res["imagingStudy"] = [{"reference": f"ImagingStudy/is-{i:04d}"}]
        results = range(i, self.counts["imagingObservations"], max(1, total))  # observations derived from it
        if results:
            res["result"] = [{"reference": f"Observation/imgobs-{j:04d}"} for j in results]
        if code is not None and i % 4 != 3:  # some sites do not code their conclusions
            res["conclusionCode"] = [_concept(SNOMED, code[0], code[1])]
        return res

    def imaging_observation(self, i: int, total: int) -> Resource:
        report = i % max(1, self.counts["imagingReports"])
        kind, _, _, display, _, days_ago = self._study_kind(report)
        site = self.BODY_SITES[i % len(self.BODY_SITES)]
        recent = days_ago < 60 and i % 3 != 2
        res: Resource = {
            "resourceType": "Observation",
            "id": f"imgobs-{i:04d}",
            "meta": self.meta(days_ago),
            "status": "final",
            "category": [_concept(OBS_CATEGORY, "imaging", "Imaging")],
            "code": _concept(LOINC, "18782-3", "Radiology Study observation (narrative)"),
            "subject": PATIENT_REF,
            "effectiveDateTime": self.instant(days_ago),
            "bodySite": _concept(SNOMED, site[0], site[1]),
            "derivedFrom": [{"reference": f"DiagnosticReport/dr-{report:04d}"}],
        }
        if report < self.counts["imagingStudies"]:
            res["partOf"] = [{"reference": f"ImagingStudy/is-{report:04d}"}]
        if recent and kind == "ct-cap":
            res["code"] = _concept(SNOMED, "94222008", "Secondary malignant neoplasm of bone")
            res["valueCodeableConcept"] = _concept(SNOMED, "52101004", "Present")
            res["interpretation"] = [_concept(INTERPRETATION, "POS", "Positive")]
        elif recent and kind == "bone-scan":
            res["valueString"] = f"{site[1]}: focal increased tracer uptake, indeterminate."
            res["interpretation"] = [_concept(INTERPRETATION, "IND", "Indeterminate")]
        else:
            res["valueString"] = f"{display}, {site[1]}: no focal abnormality."
        return res

    # -- medications -------------------------------------------------------------------------------------
    # (RxNorm, display, dosage text, class, days ago of the current order, status)
    MEDS: tuple[tuple[str, str, str, str, int, str], ...] = (
        ("72965", "letrozole 2.5 MG Oral Tablet", "2.5 mg by mouth once daily", "endocrine", 680, "active"),
        ("1601374", "palbociclib 125 MG Oral Capsule", "125 mg daily, days 1-21 of 28", "cdk", 300, "active"),
        ("993449", "denosumab 120 MG in 1.7 ML Injection", "120 mg subcutaneously every 4 weeks", "bma", 20,
         "active"),
        ("56946", "paclitaxel 6 MG/ML Injectable Solution", "80 mg/m2 IV weekly", "chemo", 805, "completed"),
        ("3639", "doxorubicin 2 MG/ML Injectable Solution", "60 mg/m2 IV every 2 weeks", "chemo", 861,
         "completed"),
        ("3002", "cyclophosphamide 500 MG Injection", "600 mg/m2 IV every 2 weeks", "chemo", 861, "completed"),
        ("26225", "ondansetron 8 MG Oral Tablet", "8 mg by mouth every 8 hours as needed", "support", 861,
         "stopped"),
        ("7804", "oxycodone 5 MG Oral Tablet", "5 mg by mouth every 6 hours as needed for pain", "support", 40,
         "active"),
        ("1897", "calcium carbonate 1250 MG Oral Tablet", "1 tablet by mouth twice daily", "supplement", 25,
         "active"),
        ("2418", "cholecalciferol 1000 UNT Oral Tablet", "1000 units by mouth daily", "supplement", 25, "active"),
        ("6809", "metformin 500 MG Oral Tablet", "500 mg by mouth twice daily", "chronic", 80, "active"),
        ("29046", "lisinopril 10 MG Oral Tablet", "10 mg by mouth daily", "chronic", 95, "active"),
        ("83367", "atorvastatin 20 MG Oral Tablet", "20 mg by mouth nightly", "chronic", 140, "active"),
        ("10582", "levothyroxine 0.075 MG Oral Tablet", "75 mcg by mouth daily", "chronic", 60, "active"),
        ("7646", "omeprazole 20 MG Delayed Release Oral Capsule", "20 mg by mouth daily", "chronic", 170,
         "active"),
        ("77655", "zoledronic acid 5 MG in 100 ML Injection", "5 mg IV once yearly (osteoporosis)", "bma", 670,
         "completed"),
    )
    # MedicationAdministrations, in MEDS indexes and days ago: ondansetron IV and AC x4 every 2 weeks,
    # paclitaxel weekly x12, yearly zoledronic acid for osteoporosis, the first denosumab dose.
    SCHEDULE: tuple[tuple[int, int], ...] = (
        (6, 861),
        *((med, 861 - 14 * k) for k in range(4) for med in (4, 5)),
        *((3, 805 - 7 * k) for k in range(12)),
        (15, 1400), (15, 1035), (15, 670), (2, 20),
    )
    STATEMENTS: tuple[int, ...] = (0, 8, 9, 10, 13)  # letrozole, calcium, vitamin D, metformin, levothyroxine

    def medication_request(self, i: int, total: int) -> Resource:
        code, display, dosage, klass, days_ago, status = self.MEDS[i % len(self.MEDS)]
        renewal = i // len(self.MEDS)
        if renewal:  # older orders of the same drug, superseded
            days_ago += renewal * 180
            status = "completed"
        res: Resource = {
            "resourceType": "MedicationRequest",
            "id": f"mr-{i:04d}",
            "meta": self.meta(days_ago),
            "status": status,
            "intent": "order",
            "category": [_concept("http://terminology.hl7.org/CodeSystem/medicationrequest-category",
                                  "outpatient", "Outpatient")],
            "medicationCodeableConcept": _concept(RXNORM, code, display),
            "subject": PATIENT_REF,
            "authoredOn": self.instant(days_ago),
            "requester": {"reference": "Practitioner/onc-1", "display": "Dr. O. Oncologist"},
            "dosageInstruction": [{"sequence": 1, "text": dosage}],
            "dispenseRequest": {"numberOfRepeatsAllowed": self.rng.randint(0, 5),
                                "validityPeriod": {"start": self.day(days_ago),
                                                   "end": self.day(max(0, days_ago - 365))}},
        }
        if klass in {"endocrine", "cdk", "chemo"}:
            res["reasonReference"] = [{"reference": "Condition/cond-0000"}]
        return res

    def medication_administration(self, i: int, total: int) -> Resource:
        med, days_ago = self.SCHEDULE[i % len(self.SCHEDULE)]
        days_ago += (i // len(self.SCHEDULE)) * 365  # larger records: the same pattern in earlier years
        code, display, dosage, klass, _, _ = self.MEDS[med]
        if klass == "bma":
            dose, route = _quantity(120.0 if code == "993449" else 5.0, "mg", "mg"), ("34206005", "Subcutaneous route")
        else:
            dose, route = _quantity(round(self.rng.uniform(8, 150), 1), "mg", "mg"), ("47625008", "Intravenous route")
        res: Resource = {
            "resourceType": "MedicationAdministration",
            "id": f"ma-{i:04d}",
            "meta": self.meta(days_ago),
            "status": "completed",
            "medicationCodeableConcept": _concept(RXNORM, code, display),
            "subject": PATIENT_REF,
            "effectiveDateTime": self.instant(days_ago),
            "performer": [{"actor": {"reference": "Practitioner/rn-1", "display": "R. Nurse"}}],
            "dosage": {"text": dosage, "route": _concept(SNOMED, route[0], route[1]), "dose": dose},
        }
        if med < self.counts["medicationRequests"]:
            res["request"] = {"reference": f"MedicationRequest/mr-{med:04d}"}
        return res

    def medication_statement(self, i: int, total: int) -> Resource:
        med = self.STATEMENTS[i % len(self.STATEMENTS)]
        code, display, dosage, _, started, _ = self.MEDS[med]
        return {
            "resourceType": "MedicationStatement",
            "id": f"ms-{i:04d}",
            "meta": self.meta(10),
            "status": "active",
            "medicationCodeableConcept": _concept(RXNORM, code, display),
            "subject": PATIENT_REF,
            "effectivePeriod": {"start": self.day(started)},
            "dateAsserted": self.day(10 + i),
            "informationSource": PATIENT_REF,
            "dosage": [{"text": dosage}],
        }

    # -- procedures --------------------------------------------------------------------------------------
    PROCEDURES: tuple[tuple[str, str, int, bool], ...] = (
        # (SNOMED, display, days ago, on the breast)
        ("173240008", "Core needle biopsy of breast", 895, True),
        ("392021009", "Lumpectomy of breast", 850, True),
        ("396487001", "Sentinel lymph node biopsy", 850, True),
        ("33195004", "Teleradiotherapy procedure", 700, True),
        ("34043003", "Dental consultation and report", 21, False),
    )

    def procedure(self, i: int, total: int) -> Resource:
        code, display, days_ago, on_breast = self.PROCEDURES[i % len(self.PROCEDURES)]
        days_ago += (i // len(self.PROCEDURES)) * 365
        res: Resource = {
            "resourceType": "Procedure",
            "id": f"proc-{i:04d}",
            "meta": self.meta(days_ago),
            "status": "completed",
            "code": _concept(SNOMED, code, display),
            "subject": PATIENT_REF,
            "performedDateTime": self.instant(days_ago),
            "performer": [{"actor": {"reference": "Practitioner/surg-1", "display": "Dr. S. Surgeon"}}],
        }
        if on_breast:
            res["bodySite"] = [_concept(SNOMED, "80248007", "Left breast structure")]
            res["reasonReference"] = [{"reference": "Condition/cond-0000"}]
        return res


def _counts(n_resources: int) -> dict[str, int]:
    """Resources per key for `n_resources` in all (largest remainder; the Patient counts as one)."""
    if n_resources < 1:
        raise ValueError("n_resources must be at least 1 (the Patient)")
    rest = n_resources - 1
    weight = sum(SHARES.values())
    exact = {key: rest * share / weight for key, share in SHARES.items()}
    counts = {key: int(value) for key, value in exact.items()}
    order = list(SHARES)
    by_remainder = sorted(order, key=lambda k: (counts[k] - exact[k], order.index(k)))
    for key in by_remainder[: rest - sum(counts.values())]:
        counts[key] += 1
    return counts


def _searchset(resources: list[Resource], query: str) -> Resource:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "link": [{"relation": "self", "url": f"{BASE}/{query}"}],
        "entry": [
            {"fullUrl": f"{BASE}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
            for r in resources
        ],
    }


def _draft_orders(b: _Builder) -> Resource:
    def draft(rid: str, cpt: str, loinc: str, display: str, note: str) -> Resource:
        return {
            "resourceType": "ServiceRequest",
            "id": rid,
            "status": "draft",
            "intent": "order",
            "category": [_concept(SNOMED, "363679005", "Imaging")],
            "code": {"coding": [_coding(CPT, cpt, display), _coding(LOINC, loinc, display)], "text": display},
            "subject": PATIENT_REF,
            "authoredOn": b.instant(0),
            "requester": {"reference": "Practitioner/onc-1"},
            "reasonCode": [_concept(SNOMED, "12584003", "Bone pain")],
            "reasonReference": [{"reference": "Condition/cond-0000"}],
            "note": [{"text": note}],
        }

    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": draft("draft-bs-1", "78306", "39818-0", "NM Whole body Bone Views",
                               "New lumbar bone pain, rising ALP: rule out osseous metastases.")},
            {"resource": draft("draft-ct-1", "71260", "24628-0", "CT Chest W contrast IV", "Restaging, chest.")},
        ],
    }


def typical_request(hook: str, as_of: date, n_resources: int = 200, seed: int = 7) -> dict[str, Any]:
    """A CDS Hooks request for `hook` with every prefetch key filled (`n_resources` resources in all)."""
    if hook not in HOOKS:
        raise ValueError(f"unknown hook {hook!r}; one of {', '.join(HOOKS)}")
    rng = random.Random(seed)
    counts = _counts(n_resources)
    b = _Builder(rng, as_of, counts)
    factories: dict[str, Callable[[int, int], Resource]] = {
        "conditions": b.condition,
        "labs": b.lab,
        "tumorMarkers": b.marker,
        "symptomObservations": b.symptom,
        "imagingObservations": b.imaging_observation,
        "imagingReports": b.imaging_report,
        "imagingStudies": b.imaging_study,
        "medicationRequests": b.medication_request,
        "medicationAdministrations": b.medication_administration,
        "medicationStatements": b.medication_statement,
        "procedures": b.procedure,
    }
    missing = set(PREFETCH) - set(factories) - {"patient"}
    if missing:  # a prefetch key was added to the service: the benchmark record must follow
        raise RuntimeError(f"bench/record.py has no generator for prefetch keys: {sorted(missing)}")
    prefetch: dict[str, Any] = {}
    for key, spec in PREFETCH.items():
        if key == "patient":
            prefetch[key] = b.patient()
            continue
        total = counts.get(key, 0)
        query = spec.template.replace("{{context.patientId}}", PATIENT_ID)
        prefetch[key] = _searchset([factories[key](i, total) for i in range(total)], query)
    context: dict[str, Any] = {"userId": "Practitioner/onc-1", "patientId": PATIENT_ID, "encounterId": "enc-bench-1"}
    if hook in {"order-select", "order-sign"}:
        context["draftOrders"] = _draft_orders(b)
    if hook == "order-select":
        context["selections"] = ["ServiceRequest/draft-bs-1"]
    return {
        "hook": hook,
        "hookInstance": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "context": context,
        "prefetch": prefetch,
    }


def resource_count(request: dict[str, Any]) -> int:
    """Resources in a request's prefetch (Bundle entries and single resources), draft orders excluded."""
    total = 0
    for value in (request.get("prefetch") or {}).values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            total += len(value.get("entry") or [])
        elif isinstance(value, dict):
            total += 1
    return total
