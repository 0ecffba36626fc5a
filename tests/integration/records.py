"""Synthetic FHIR R4 record of one patient with breast cancer and suspected bone metastases.

Every date derives from `as_of` (never the wall clock), every resource has a fixed id (PUT entries), and
every resource is matched by one of the service's prefetch templates (cdshooks/fhir/prefetch.py): the
conditions search takes all Conditions, labs/tumorMarkers match on LOINC codes, imagingObservations on
category `imaging`, imagingReports on category v2-0074 RAD; the other searches take all of a type.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

Resource = dict[str, Any]

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
CLINICAL_STATUS = "http://terminology.hl7.org/CodeSystem/condition-clinical"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
DICOM_MODALITY = "http://dicom.nema.org/resources/ontology/DCM"

EXTRA_ALP = 30  # the ALP series: with a small `_count` the labs search spans several pages
LAB_CODES_LOADED = ("6768-6", "98979-8")


def _day(as_of: date, days_before: int) -> str:
    return (as_of - timedelta(days=days_before)).isoformat()


def _instant(as_of: date, days_before: int, hour: int = 9) -> str:
    moment = datetime.combine(as_of - timedelta(days=days_before), time(hour, 0), tzinfo=UTC)
    return moment.isoformat()


def _cc(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _category(code: str) -> list[dict[str, Any]]:
    return [{"coding": [{"system": OBS_CATEGORY, "code": code}]}]


def _observation(
    rid: str, subject: dict[str, str], category: str, code: dict[str, Any], when: str, **value: Any
) -> Resource:
    return {
        "resourceType": "Observation", "id": rid, "status": "final", "category": _category(category),
        "code": code, "subject": subject, "effectiveDateTime": when, **value,
    }


def _alp(rid: str, subject: dict[str, str], when: str, value: float) -> Resource:
    high = value > 129
    obs = _observation(
        rid, subject, "laboratory", _cc(LOINC, "6768-6", "Alkaline phosphatase [Enzymatic activity/volume] "
                                        "in Serum or Plasma"), when,
        valueQuantity={"value": value, "unit": "U/L", "system": UCUM, "code": "U/L"},
        referenceRange=[{"low": {"value": 35, "unit": "U/L", "system": UCUM, "code": "U/L"},
                         "high": {"value": 129, "unit": "U/L", "system": UCUM, "code": "U/L"}}],
    )
    obs["interpretation"] = [_cc(INTERPRETATION, "H" if high else "N", "High" if high else "Normal")]
    return obs


def breast_cancer_record(patient_id: str, as_of: date) -> dict[str, Any]:
    """A transaction Bundle of PUT entries (fixed ids) for one patient, dated relative to `as_of`."""
    subject = {"reference": f"Patient/{patient_id}"}
    p = patient_id
    resources: list[Resource] = [
        {
            "resourceType": "Patient", "id": p, "active": True, "gender": "female",
            "birthDate": date(as_of.year - 58, 4, 2).isoformat(),
            "name": [{"family": "Testpatient", "given": ["Bone", "Mets"]}],
        },
        {
            "resourceType": "Condition", "id": f"{p}-c-breast-cancer", "subject": subject,
            "clinicalStatus": {"coding": [{"system": CLINICAL_STATUS, "code": "active"}]},
            "code": _cc(SNOMED, "254837009", "Malignant neoplasm of breast"),
            "onsetDateTime": _day(as_of, 400), "recordedDate": _day(as_of, 398),
        },
        {
            "resourceType": "Condition", "id": f"{p}-c-bone-pain", "subject": subject,
            "clinicalStatus": {"coding": [{"system": CLINICAL_STATUS, "code": "active"}]},
            "code": _cc(SNOMED, "12584003", "Bone pain"),
            "onsetDateTime": _day(as_of, 10), "recordedDate": _day(as_of, 10),
        },
        _alp(f"{p}-o-alp", subject, _instant(as_of, 7), 212.0),
        _observation(
            f"{p}-o-egfr", subject, "laboratory",
            _cc(LOINC, "98979-8", "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, "
                "Plasma or Blood by Creatinine-based formula (CKD-EPI 2021)"),
            _instant(as_of, 7),
            valueQuantity={"value": 78, "unit": "mL/min/{1.73_m2}", "system": UCUM, "code": "mL/min/{1.73_m2}"},
        ),
    ]
    negative = _cc(LOINC, "LA6577-6", "Negative")
    for suffix, code, display in (
        ("er", "85337-4", "Estrogen receptor Ag [Presence] in Breast cancer specimen by Immune stain"),
        ("pr", "85339-0", "Progesterone receptor Ag [Presence] in Breast cancer specimen by Immune stain"),
        ("her2", "48676-1", "HER2 [Interpretation] in Tissue"),
    ):
        resources.append(_observation(f"{p}-o-{suffix}", subject, "laboratory", _cc(LOINC, code, display),
                                      _instant(as_of, 390), valueCodeableConcept=negative))
    resources.append(_observation(
        f"{p}-o-imaging", subject, "imaging", _cc(LOINC, "18748-4", "Diagnostic imaging study"),
        _instant(as_of, 3, 11), valueString="Multiple foci of increased uptake in the thoracolumbar spine.",
    ))
    resources.append({
        "resourceType": "ImagingStudy", "id": f"{p}-is-bone-scan", "status": "available", "subject": subject,
        "started": _instant(as_of, 3, 10), "numberOfSeries": 1,
        "modality": [{"system": DICOM_MODALITY, "code": "NM"}],
        "description": "NM whole body bone scan",
        "series": [{
            "uid": "2.25.118290349203491230471293847102938",
            "modality": {"system": DICOM_MODALITY, "code": "NM"},
            "description": "Whole body planar",
        }],
    })
    resources.append({
        "resourceType": "DiagnosticReport", "id": f"{p}-dr-bone-scan", "status": "final",
        "category": [{"coding": [{"system": V2_0074, "code": "RAD"}]}],
        "code": _cc(LOINC, "39818-0", "NM Bone Scan whole body"), "subject": subject,
        "effectiveDateTime": _instant(as_of, 3, 10), "issued": _instant(as_of, 3, 14),
        "imagingStudy": [{"reference": f"ImagingStudy/{p}-is-bone-scan"}],
        "result": [{"reference": f"Observation/{p}-o-imaging"}],
        "conclusion": "Multiple foci of increased tracer uptake in the thoracolumbar spine, suspicious for "
                      "osseous metastases.",
    })
    doxorubicin = _cc(RXNORM, "1790099", "doxorubicin")
    resources.append({
        "resourceType": "MedicationRequest", "id": f"{p}-mr-doxorubicin", "status": "active", "intent": "order",
        "medicationCodeableConcept": doxorubicin, "subject": subject, "authoredOn": _instant(as_of, 60),
    })
    resources.append({
        "resourceType": "MedicationAdministration", "id": f"{p}-ma-doxorubicin", "status": "completed",
        "medicationCodeableConcept": doxorubicin, "subject": subject,
        "effectiveDateTime": _instant(as_of, 45, 10),
        "request": {"reference": f"MedicationRequest/{p}-mr-doxorubicin"},
    })
    resources.append({
        "resourceType": "MedicationStatement", "id": f"{p}-ms-letrozole", "status": "active",
        "medicationCodeableConcept": _cc(RXNORM, "72965", "letrozole"), "subject": subject,
        "effectivePeriod": {"start": _day(as_of, 300)},
    })
    resources.append({
        "resourceType": "Procedure", "id": f"{p}-pr-lumpectomy", "status": "completed",
        "code": _cc(SNOMED, "64368001", "Partial mastectomy"), "subject": subject,
        "performedDateTime": _instant(as_of, 380, 8),
    })
    # The ALP series: one a week before the latest ALP, every date distinct (a stable `_sort=-date`).
    for i in range(EXTRA_ALP):
        resources.append(_alp(f"{p}-o-alp-{i:02d}", subject, _instant(as_of, 14 + 7 * i), 90.0 + 4 * i))
    return {
        "resourceType": "Bundle", "type": "transaction",
        "entry": [
            {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
            for r in resources
        ],
    }


def resources_of(bundle: dict[str, Any]) -> list[Resource]:
    return [entry["resource"] for entry in bundle["entry"]]


def counts_by_type(bundle: dict[str, Any]) -> Counter[str]:
    return Counter(r["resourceType"] for r in resources_of(bundle))


def ids_by_type(bundle: dict[str, Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for r in resources_of(bundle):
        out.setdefault(r["resourceType"], set()).add(r["id"])
    return out


def lab_ids(bundle: dict[str, Any]) -> set[str]:
    """Ids of the Observations the `labs` prefetch key matches (ALP and eGFR here)."""
    return {
        r["id"] for r in resources_of(bundle)
        if r["resourceType"] == "Observation"
        and any(c.get("code") in LAB_CODES_LOADED for c in r["code"]["coding"])
    }
