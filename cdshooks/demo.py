"""`cdshooks demo`: one order-select request that shows the headline card, its dates relative to a given day.

Fixtures are written for a pinned `asOf`; posted as they are on another day, their symptoms are no longer new
and nothing fires. This request is built for `today` instead: a named patient with stage IIIA breast cancer on
neoadjuvant doxorubicin + cyclophosphamide (last dose 36 days ago), new lumbar bone pain since 10 days, normal
labs, and an MRI of chest, abdomen and pelvis just selected. The ACR scenario (Topic 235 Variant 6) rates that
MRI usually not appropriate as the first search for metastases: the answer is an `acr-usually-not-appropriate`
card offering bone scan, contrast CT or FDG-PET/CT instead.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

SERVICE_ID = "bone-mets-imaging-order-select"
PATIENT_ID = "demo-patient-1"
ORDER_ID = "demo-mri-cap"
EXPECTED_TOPIC = "acr-usually-not-appropriate"
DESCRIPTION = ("Demo: stage IIIA breast cancer on neoadjuvant AC, new bone pain 10 days ago; an MRI chest, "
               "abdomen and pelvis is selected.")

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"

# (LOINC, value, unit, upper limit of normal): ALP, ALT, AST, bilirubin, eGFR (lower limit)
_LABS = (
    ("6768-6", 84, "U/L", 120),
    ("1742-6", 24, "U/L", 40),
    ("1920-8", 21, "U/L", 40),
    ("1975-2", 0.6, "mg/dL", 1.2),
)
_CHEMO = (("1790099", "10 ML Doxorubicin Hydrochloride 2 MG/ML Injection", 108),
          ("1734919", "Cyclophosphamide 1000 MG Injection", 1080))
_CYCLE_DAYS_AGO = (99, 78, 57, 36)  # four three-weekly cycles of AC, the last 36 days ago


def _bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "entry": [{"resource": r} for r in resources]}


def _subject() -> dict[str, str]:
    return {"reference": f"Patient/{PATIENT_ID}"}


def _condition(ident: str, code: str, display: str, onset: date, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Condition", "id": ident, "subject": _subject(),
            "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]},
            "code": {"coding": [{"system": SNOMED, "code": code, "display": display}], "text": display},
            "onsetDateTime": onset.isoformat(), **extra}


def _lab(n: int, code: str, value: float, unit: str, limit: float, day: date) -> dict[str, Any]:
    bound = "low" if code == "98979-8" else "high"
    return {"resourceType": "Observation", "id": f"demo-lab-{n}", "status": "final", "subject": _subject(),
            "category": [{"coding": [{"system": OBS_CATEGORY, "code": "laboratory"}]}],
            "code": {"coding": [{"system": LOINC, "code": code}]}, "effectiveDateTime": day.isoformat(),
            "valueQuantity": {"value": value, "unit": unit},
            "referenceRange": [{bound: {"value": limit, "unit": unit}}]}


def demo_request(today: date) -> dict[str, Any]:
    """The demo order-select request, every date relative to `today`."""
    def ago(days: int) -> date:
        return today - timedelta(days=days)

    patient = {"resourceType": "Patient", "id": PATIENT_ID, "active": True, "gender": "female",
               "birthDate": ago(58 * 365 + 60).isoformat(),
               "name": [{"use": "official", "family": "Demo", "given": ["Rose"], "text": "Rose Demo"}]}
    conditions = _bundle(
        _condition("demo-breast-cancer", "254837009", "Malignant neoplasm of breast", ago(180),
                   stage=[{"summary": {"text": "Stage IIIA"}}]),
        _condition("demo-bone-pain", "12584003", "Bone pain", ago(10), bodySite=[{"text": "Lumbar spine"}]),
    )
    labs = [_lab(n, code, value, unit, limit, ago(3)) for n, (code, value, unit, limit) in enumerate(_LABS)]
    labs.append(_lab(len(labs), "98979-8", 88, "mL/min/{1.73_m2}", 60, ago(3)))
    doses = [
        {"resourceType": "MedicationAdministration", "id": f"demo-dose-{cycle}-{n}", "status": "completed",
         "subject": _subject(),
         "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": code, "display": display}]},
         "effectiveDateTime": f"{ago(days).isoformat()}T09:00:00Z", "dosage": {"dose": {"value": dose, "unit": "mg"}}}
        for cycle, days in enumerate(_CYCLE_DAYS_AGO) for n, (code, display, dose) in enumerate(_CHEMO)
    ]
    order = {"resourceType": "ServiceRequest", "id": ORDER_ID, "status": "draft", "intent": "order",
             "subject": _subject(), "authoredOn": today.isoformat(),
             "code": {"coding": [{"system": SNOMED, "code": "699583008",
                                  "display": "Magnetic resonance imaging of thorax, abdomen and pelvis"}],
                      "text": "MRI chest, abdomen and pelvis"},
             "reasonCode": [{"text": "New bone pain during neoadjuvant chemotherapy: search for metastases"}]}
    empty = _bundle()
    return {
        "hook": "order-select",
        "hookInstance": str(uuid.uuid4()),  # one per call, as an EHR sends it
        "context": {"userId": "Practitioner/demo-oncologist", "patientId": PATIENT_ID,
                    "selections": [f"ServiceRequest/{ORDER_ID}"],
                    "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": order}]}},
        "prefetch": {
            "patient": patient, "conditions": conditions, "labs": _bundle(*labs), "tumorMarkers": empty,
            "symptomObservations": empty, "imagingObservations": empty, "imagingReports": empty,
            "imagingStudies": empty, "medicationRequests": empty, "medicationAdministrations": _bundle(*doses),
            "medicationStatements": empty, "procedures": empty,
        },
    }
