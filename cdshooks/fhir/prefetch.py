"""Prefetch templates (as advertised in discovery) and CDS Hooks 2.0 token substitution.

Templates use only 2.0 tokens: `{{context.<root primitive field>}}` and the user tokens derived from
`context.userId`. Searches are bounded with `_count` and, where the server supports it, `_sort`; code
lists keep a large record from flooding the request. `required` keys are the ones without which no rule
can run: when one cannot be had at all, the service answers 412.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"

# Laboratory tests the rules read: ALP, ALT, AST, total bilirubin, eGFR (CKD-EPI 2021, CKD-EPI, MDRD,
# race-specific variants), creatinine, calcium (clinical-rules.md §3.5); calcium in moles, ionised and
# albumin-corrected calcium and albumin for R26 (VS_LAB_CALCIUM*, VS_LAB_ALBUMIN).
LAB_CODES = (
    "6768-6", "1742-6", "1920-8", "1975-2", "98979-8", "62238-1", "33914-3", "48642-3", "48643-1",
    "88293-6", "88294-4", "2160-0", "17861-6",
    "2000-8", "1994-3", "1995-0", "29265-6", "1751-7", "61151-7", "61152-5", "2862-1",
)
# ER, PR and HER2 results (clinical-rules.md §3.5, VS_ER_TEST / VS_PR_TEST / VS_HER2_TEST).
MARKER_CODES = (
    "85337-4", "16112-5", "40556-3", "85339-0", "40557-1", "16113-3", "48676-1", "85319-2", "85318-4",
    "18474-7",
)
# Symptoms recorded as Observations: bone pain, headache, seizure, muscle weakness, hemiparesis,
# hemiplegia, low back pain, backache (clinical-rules.md §3.3).
SYMPTOM_CODES = ("12584003", "25064002", "91175000", "26544005", "20022000", "50582007", "279039007",
                 "161891005",
                 # R05 visual / speech deficits, R25 neck pain and cord deficits (VS_CNS_SYMPTOMS, VS_SPINAL_PAIN,
                 # VS_NEURO_DEFICIT)
                 "24982008", "87486003", "8011004", "81680005", "267064002", "165232002", "72042002", "22325002",
                 "44077006", "192970008")
RADIOLOGY_CATEGORIES = ("http://terminology.hl7.org/CodeSystem/v2-0074|RAD", f"{LOINC}|LP29684-5")


def _token_list(system: str, codes: tuple[str, ...]) -> str:
    return ",".join(f"{system}|{code}" for code in codes)


@dataclass(frozen=True)
class PrefetchKey:
    template: str
    required: bool
    description: str


PATIENT = "{{context.patientId}}"

PREFETCH: dict[str, PrefetchKey] = {
    "patient": PrefetchKey(f"Patient/{PATIENT}", True, "the patient"),
    "conditions": PrefetchKey(
        f"Condition?patient={PATIENT}&_count=200", True,
        "problems, diagnoses and coded symptoms (breast cancer, metastases, CKD, osteoporosis, pain)",
    ),
    "labs": PrefetchKey(
        f"Observation?patient={PATIENT}&code={_token_list(LOINC, LAB_CODES)}&_sort=-date&_count=200", False,
        "ALP, liver tests, eGFR, creatinine, calcium (total, ionised, corrected), albumin",
    ),
    "tumorMarkers": PrefetchKey(
        f"Observation?patient={PATIENT}&code={_token_list(LOINC, MARKER_CODES)}&_sort=-date&_count=50", False,
        "ER, PR and HER2 results",
    ),
    "symptomObservations": PrefetchKey(
        f"Observation?patient={PATIENT}&code={_token_list(SNOMED, SYMPTOM_CODES)}&_sort=-date&_count=100",
        False, "symptoms recorded as observations",
    ),
    "imagingObservations": PrefetchKey(
        f"Observation?patient={PATIENT}&category=imaging&_sort=-date&_count=100", False,
        "imaging findings",
    ),
    "imagingReports": PrefetchKey(
        f"DiagnosticReport?patient={PATIENT}&category={','.join(RADIOLOGY_CATEGORIES)}&_sort=-date&_count=100",
        False, "radiology reports",
    ),
    "imagingStudies": PrefetchKey(
        f"ImagingStudy?patient={PATIENT}&_sort=-started&_count=100", False, "imaging studies",
    ),
    "medicationRequests": PrefetchKey(
        f"MedicationRequest?patient={PATIENT}&_sort=-authoredon&_count=200", False,
        "systemic therapy and bone-modifying agent orders",
    ),
    "medicationAdministrations": PrefetchKey(
        f"MedicationAdministration?patient={PATIENT}&_sort=-effective-time&_count=200", False,
        "administered doses",
    ),
    "medicationStatements": PrefetchKey(
        f"MedicationStatement?patient={PATIENT}&_count=100", False, "medication history (oral endocrine therapy)",
    ),
    "procedures": PrefetchKey(
        f"Procedure?patient={PATIENT}&_sort=-date&_count=100", False,
        "breast surgery, biopsies, dental evaluation",
    ),
}

_TOKEN = re.compile(r"\{\{\s*([A-Za-z][A-Za-z0-9_.]*)\s*\}\}")
USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}


def token_values(context: Mapping[str, Any]) -> dict[str, str]:
    """Values for every 2.0 token this context can fill (root-level primitive fields + user tokens)."""
    values: dict[str, str] = {}
    for key, value in context.items():
        if isinstance(value, str | int) and not isinstance(value, bool):
            values[f"context.{key}"] = str(value)
    user = context.get("userId")
    if isinstance(user, str) and "/" in user:
        rtype, _, rid = user.partition("/")
        for token, wanted in USER_TOKENS.items():
            if rtype == wanted and rid:
                values[token] = rid
    return values


def render(template: str, values: Mapping[str, str]) -> str | None:
    """Fill a template; None when a token has no value (the key then cannot be fetched)."""
    missing = False

    def fill(match: re.Match[str]) -> str:
        nonlocal missing
        value = values.get(match.group(1))
        if value is None:
            missing = True
            return ""
        return quote(value, safe="")

    rendered = _TOKEN.sub(fill, template)
    return None if missing else rendered
