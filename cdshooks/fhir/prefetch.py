"""Prefetch templates (as advertised in discovery) and CDS Hooks 2.0 token substitution.

Templates use only 2.0 tokens: `{{context.<root primitive field>}}` and the user tokens derived from
`context.userId`. Searches are bounded with `_count` and, where the server supports it, `_sort`; code
lists keep a large record from flooding the request. `required` keys are the ones without which no rule
can run: when one cannot be had at all, the service answers 412.

The code lists are generated at start-up from the value sets the extractors read (cdshooks/knowledge/valuesets.yaml
through `default_knowledge()`), so a template can never ask for fewer codes than the rules understand:
`labs` = every exact code of the lab value sets of `extract.observations.LAB_SETS` plus VS_LAB_LFT,
`tumorMarkers` = the receptor test sets, `symptomObservations` = the symptom sets of `extract.conditions`
(ICD-10-CM prefixes cannot be listed; a prefix-only code is read when another key returns it). Each rendered
query stays under MAX_QUERY_LENGTH characters (URLs past ~2 000 characters are refused by some proxies and servers;
a test guards it). The templates follow the shipped value sets: a site override of the knowledge (CDSHOOKS knowledge
dir) changes what the rules read, not what discovery advertises.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from cdshooks.clinical.extract.conditions import SYMPTOM_SETS
from cdshooks.clinical.extract.observations import LAB_SETS, RECEPTOR_SETS
from cdshooks.clinical.knowledge import Knowledge, default_knowledge

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
MAX_QUERY_LENGTH = 2000  # characters of a rendered query (with a 64-character patient id)

# Which value sets give each prefetch key its `code=` filter (one source of truth: the extractors' own lists).
# Laboratory tests: ALP, liver tests, eGFR, creatinine, calcium and whatever LAB_SETS grows to; receptor tests
# (clinical-rules.md §3.5); symptoms recorded as Observations (clinical-rules.md §3.3).
CODE_FILTER_VALUE_SETS: dict[str, tuple[str, ...]] = {
    "labs": (*(name for name, _ in LAB_SETS), "VS_LAB_LFT"),
    "tumorMarkers": tuple(name for name, _ in RECEPTOR_SETS),
    "symptomObservations": SYMPTOM_SETS,
}
RADIOLOGY_CATEGORIES = ("http://terminology.hl7.org/CodeSystem/v2-0074|RAD", f"{LOINC}|LP29684-5")


def value_set_codes(kb: Knowledge, names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(system, code) of every exact code of the named value sets, in file order, without repeats."""
    seen: dict[tuple[str, str], None] = {}
    for name in names:
        for entry in kb.valueset(name).codes:
            seen.setdefault((entry.system, entry.code), None)
    return tuple(seen)


def _token_list(codes: tuple[tuple[str, str], ...]) -> str:
    return ",".join(f"{system}|{code}" for system, code in codes)


def _codes_of(codes: tuple[tuple[str, str], ...], system: str) -> tuple[str, ...]:
    return tuple(code for s, code in codes if s == system)


@dataclass(frozen=True)
class PrefetchKey:
    template: str
    required: bool
    description: str


PATIENT = "{{context.patientId}}"


def build_prefetch(kb: Knowledge) -> dict[str, PrefetchKey]:
    """The prefetch templates, with the code filters of `CODE_FILTER_VALUE_SETS` taken from `kb`."""
    labs, markers, symptoms = (value_set_codes(kb, CODE_FILTER_VALUE_SETS[key])
                               for key in ("labs", "tumorMarkers", "symptomObservations"))
    return _templates(labs, markers, symptoms)


def _templates(labs: tuple[tuple[str, str], ...], markers: tuple[tuple[str, str], ...],
               symptoms: tuple[tuple[str, str], ...]) -> dict[str, PrefetchKey]:
    return {
        "patient": PrefetchKey(f"Patient/{PATIENT}", True, "the patient"),
        "conditions": PrefetchKey(
            f"Condition?patient={PATIENT}&_count=200", True,
            "problems, diagnoses and coded symptoms (breast cancer, metastases, CKD, osteoporosis, pain)",
        ),
        "labs": PrefetchKey(
            f"Observation?patient={PATIENT}&code={_token_list(labs)}&_sort=-date&_count=200", False,
            "ALP, liver tests, eGFR, creatinine, calcium",
        ),
        "tumorMarkers": PrefetchKey(
            f"Observation?patient={PATIENT}&code={_token_list(markers)}&_sort=-date&_count=50", False,
            "ER, PR and HER2 results",
        ),
        "symptomObservations": PrefetchKey(
            f"Observation?patient={PATIENT}&code={_token_list(symptoms)}&_sort=-date&_count=100",
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
            f"MedicationRequest?patient={PATIENT}&_include=MedicationRequest:medication&_sort=-authoredon&_count=200",
            False, "systemic therapy and bone-modifying agent orders (with the Medications they reference)",
        ),
        "medicationAdministrations": PrefetchKey(
            f"MedicationAdministration?patient={PATIENT}&_include=MedicationAdministration:medication"
            "&_sort=-effective-time&_count=200", False,
            "administered doses",
        ),
        "medicationStatements": PrefetchKey(
            f"MedicationStatement?patient={PATIENT}&_include=MedicationStatement:medication&_count=100", False,
            "medication history (oral endocrine therapy)",
        ),
        "procedures": PrefetchKey(
            f"Procedure?patient={PATIENT}&_sort=-date&_count=100", False,
            "breast surgery, biopsies, dental evaluation, chemotherapy given (recorded as a procedure)",
        ),
    }


# Generated once at start-up (import) from the shipped knowledge; the services hold this same dict.
_KB = default_knowledge()
LAB_CODE_LIST = value_set_codes(_KB, CODE_FILTER_VALUE_SETS["labs"])
MARKER_CODE_LIST = value_set_codes(_KB, CODE_FILTER_VALUE_SETS["tumorMarkers"])
SYMPTOM_CODE_LIST = value_set_codes(_KB, CODE_FILTER_VALUE_SETS["symptomObservations"])
# the LOINC lab / marker codes and the SNOMED symptom codes (fixtures route Observations with them)
LAB_CODES = _codes_of(LAB_CODE_LIST, LOINC)
MARKER_CODES = _codes_of(MARKER_CODE_LIST, LOINC)
SYMPTOM_CODES = _codes_of(SYMPTOM_CODE_LIST, SNOMED)
PREFETCH: dict[str, PrefetchKey] = _templates(LAB_CODE_LIST, MARKER_CODE_LIST, SYMPTOM_CODE_LIST)

_TOKEN = re.compile(r"\{\{\s*([A-Za-z][A-Za-z0-9_.]*)\s*\}\}")
USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}


_PRIMITIVES = (str, int)  # a tuple: `str | int` would build a union object at every check


def token_values(context: Mapping[str, Any]) -> dict[str, str]:
    """Values for every 2.0 token this context can fill (root-level primitive fields + user tokens)."""
    values: dict[str, str] = {}
    for key, value in context.items():
        if isinstance(value, _PRIMITIVES) and not isinstance(value, bool):
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
    return fill(template, values) if fillable(template, values) else None


def fillable(template: str, values: Mapping[str, str]) -> bool:
    """Whether every token of the template has a value (`render` would not give None), without filling it. Every
    call checks every key: the token names are listed once per template (`_tokens`)."""
    for name in _tokens(template):  # noqa: SIM110 (a loop, not all(<generator>))
        if values.get(name) is None:
            return False
    return True


def fill(template: str, values: Mapping[str, str]) -> str:
    """The template with every token replaced by its value, URL-encoded (a token without a value gives "": check
    `fillable` first)."""
    parts = _parts(template)
    return "".join(quote(values.get(part) or "", safe="") if i % 2 else part for i, part in enumerate(parts))


@functools.lru_cache(maxsize=256)
def _tokens(template: str) -> tuple[str, ...]:
    """The token names of a template, in order (every call checks its templates: listed once)."""
    return _parts(template)[1::2]


@functools.lru_cache(maxsize=256)
def _parts(template: str) -> tuple[str, ...]:
    """The template split at its tokens: literal text at even positions, token names at odd ones (templates are
    the services' own, a handful: split once)."""
    return tuple(_TOKEN.split(template))
