"""Facts from Conditions: breast cancer (stage, subtype), metastases, CKD, osteopenia, coded symptoms.

Distant recurrence coded the ICD-10-CM way — personal history of breast cancer (Z85.3, or SNOMED 429087003) with an
active bone metastasis (C79.51 / C79.52) and no active C50 — is metastatic breast cancer (clinical-rules.md §7.2,
"R01 coding"): the history condition then stands for the breast cancer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cdshooks.clinical.extract.common import (
    Resource,
    cached,
    clinically_active,
    first_date,
    label_of,
    ref,
    site_text,
    verified,
)
from cdshooks.clinical.facts import Condition, Symptom
from cdshooks.clinical.knowledge import Knowledge
from cdshooks.fhir.codes import ConceptProfile, parse_fhir_datetime, profile

_STAGE = re.compile(r"\bstage\s*(0|IV|I{1,3})\s*([ABC])?\b|\b(?:AJCC\s*)?(0|IV|I{1,3})([ABC])\b", re.IGNORECASE)
# "Stage 2A" as EHRs often write it: the arabic stage after the word "stage" (a sub-stage letter may follow)
_ARABIC_STAGE = re.compile(r"\bstage\s*([0-4])(?=\s*[ABC]?\b)", re.IGNORECASE)
_ROMAN = {"0": "0", "1": "I", "2": "II", "3": "III", "4": "IV"}
SEVERE_CKD = {"stage-4", "stage-5", "esrd"}
# VS_CNS_SYMPTOMS kinds -> (Symptom.kind, subkind); the first listed wins when a concept matches several
CNS_KINDS: tuple[tuple[str, str, str], ...] = (
    ("headache-chronic", "headache", "headache-chronic"), ("seizure", "seizure", ""),
    ("weakness-para", "weakness", "weakness-para"), ("weakness-focal", "weakness", "weakness-focal"),
    ("visual", "visual", ""), ("speech", "speech", ""), ("headache", "headache", ""),
    ("weakness-generic", "weakness", "weakness-generic"),
)
DEFICIT_KINDS = ("bladder-bowel", "sensory", "gait")
# onsetAge units (UCUM and common spellings) -> days
_AGE_UNITS = {"a": 365.25, "yr": 365.25, "year": 365.25, "years": 365.25, "mo": 30.44, "month": 30.44,
              "months": 30.44, "wk": 7.0, "week": 7.0, "weeks": 7.0, "d": 1.0, "day": 1.0, "days": 1.0}
# the value sets symptom_kinds reads (the symptomObservations prefetch filter is generated from them)
SYMPTOM_SETS = ("VS_CNS_SYMPTOMS", "VS_BONE_PAIN", "VS_WEIGHT_LOSS", "VS_VISCERAL_SYMPTOMS", "VS_NEURO_DEFICIT",
                "VS_SPINAL_PAIN")


@dataclass
class ConditionFacts:
    breast_cancer: Condition | None = None
    stage: str | None = None
    inflammatory: bool = False
    triple_negative: bool = False
    subtype_basis: str = ""
    bone_mets: list[Condition] = field(default_factory=list)
    other_mets: list[Condition] = field(default_factory=list)
    ckd_severe: Condition | None = None
    osteopenia: bool = False
    symptoms: list[Symptom] = field(default_factory=list)


def parse_stage(text: str) -> str | None:
    """'Stage IIA' / 'IIIB' / 'stage 4' / 'Stage 2A' style text -> roman stage with sub-stage ("IIA"), else None."""
    text = _ARABIC_STAGE.sub(lambda m: f"stage {_ROMAN[m.group(1)]}", text)
    match = _STAGE.search(text)
    if not match:
        return None
    roman = (match.group(1) or match.group(3) or "").upper()
    sub = (match.group(2) or match.group(4) or "").upper()
    return f"{roman}{sub}" if roman else None


def _stage_of(condition: Resource) -> str | None:
    stages = condition.get("stage")
    if not isinstance(stages, list):
        return None
    for stage in stages:
        if isinstance(stage, dict):
            found = summary_stage(stage.get("summary"))
            if found:
                return found
    return None


def summary_stage(summary: Any) -> str | None:
    """`parse_stage(concept_text(summary))`, once per distinct concept: a profile's text is `concept_text` of its
    concept, and the stage depends on nothing else (the breast cancer's stage summary comes back with every call,
    and the two regular expressions cost more than the rest of its condition)."""
    return cached(summary, "parsed-stage", _parsed_stage)


def _parsed_stage(read: ConceptProfile) -> str | None:
    return parse_stage(read.text)


def symptom_kinds(kb: Knowledge, concept: Any) -> tuple[str, str] | None:
    """(kind, subkind) of a symptom concept: kind bone-pain | headache | seizure | weakness | visual | speech |
    neuro-deficit | weight-loss | visceral; subkind the finer value-set kind (e.g. weakness-focal, back-pain)."""
    cns = kb.valueset("VS_CNS_SYMPTOMS")
    if cns.matches(concept):
        kinds = cns.kinds(concept)
        if "headache" in kinds and "headache-chronic" in cns.text_kinds(concept):
            kinds = kinds | {"headache-chronic"}  # "Headache, usual pattern, unchanged": the code, qualified
        for vs_kind, kind, subkind in CNS_KINDS:
            if vs_kind in kinds:
                return kind, subkind
        return "weakness", "weakness-generic"
    deficit = kb.valueset("VS_NEURO_DEFICIT")
    if deficit.matches(concept):
        kinds = deficit.kinds(concept)
        return "neuro-deficit", next((k for k in DEFICIT_KINDS if k in kinds), "sensory")
    if kb.valueset("VS_BONE_PAIN").matches(concept):
        return "bone-pain", "back-pain" if "back-pain" in kb.valueset("VS_BONE_PAIN").kinds(concept) else ""
    if kb.valueset("VS_SPINAL_PAIN").matches(concept):
        return "bone-pain", "back-pain"
    if kb.valueset("VS_WEIGHT_LOSS").matches(concept):
        return "weight-loss", ""
    if kb.valueset("VS_VISCERAL_SYMPTOMS").matches(concept):
        return "visceral", ""
    return None


def symptom_kinds_of(kb: Knowledge, concept: Any) -> tuple[str, str] | None:
    """`symptom_kinds(kb, concept)`, once per distinct concept (kept in its profile's memo, like the value-set
    answers it is made of): the draft orders ask it of the same reason codes on every call."""
    return cached(concept, (kb, "symptom-kinds"), lambda read: symptom_kinds(kb, read))


def symptom_kind(kb: Knowledge, concept: Any) -> str | None:
    """The kind alone (see `symptom_kinds`)."""
    found = symptom_kinds(kb, concept)
    return found[0] if found else None


def onset_of(resource: Resource, birth_date: date | None = None) -> tuple[datetime | None, str]:
    """When a Condition began, and how that is known: onsetDateTime / onsetPeriod.start, onsetAge (with the
    patient's birthDate), onsetString when it is a date ("onset"); else recordedDate ("recorded"); else none."""
    onset = first_date(resource, "onsetDateTime", "onsetPeriod.start")
    if onset is not None:
        return onset, "onset"
    age = resource.get("onsetAge")
    if isinstance(age, dict) and birth_date is not None:
        value = age.get("value")
        unit = str(age.get("code") or age.get("unit") or "a").strip().lower()
        if isinstance(value, int | float) and not isinstance(value, bool) and unit in _AGE_UNITS and value >= 0:
            try:
                born = datetime(birth_date.year, birth_date.month, birth_date.day, tzinfo=UTC)
                return born + timedelta(days=float(value) * _AGE_UNITS[unit]), "onset"
            except (OverflowError, ValueError):
                pass
    text = resource.get("onsetString")
    if isinstance(text, str):
        parsed = parse_fhir_datetime(text.strip())
        if parsed is not None:
            return parsed, "onset"
    recorded = first_date(resource, "recordedDate")
    return (recorded, "recorded") if recorded is not None else (None, "none")


def extract_conditions(kb: Knowledge, conditions: tuple[Resource, ...],
                       birth_date: date | None = None) -> ConditionFacts:
    """The facts of the Conditions. A Condition's code is classified first (once per distinct code) and only what
    its kind uses is read: most codes of a problem list (hypertension, depression, ...) are none of these kinds and
    cost a status check and a lookup."""
    out = ConditionFacts()
    cancers: list[tuple[Condition, str | None]] = []
    histories: list[Condition] = []
    key = (kb, "condition-kind")
    for resource in conditions:
        if not verified(resource):
            continue
        raw_code = resource.get("code")
        code = profile(raw_code)  # read once, matched against many value sets
        try:
            what, detail = code.memo[key]
        except KeyError:
            what, detail = code.memo[key] = _condition_kind(kb, code)
        if what == "symptom":
            if detail is not None:
                kind, subkind = detail
                onset, onset_basis = onset_of(resource, birth_date)
                abated = first_date(resource, "abatementDateTime", "abatementPeriod.end")
                out.symptoms.append(Symptom(kind, label_of(raw_code, kind.replace("-", " ")), onset,
                                            clinically_active(resource), abated, site_text(resource), ref(resource),
                                            subkind, onset_basis))
        elif what == "osteopenia":
            out.osteopenia = out.osteopenia or clinically_active(resource)
        elif what == "history":  # history is history whatever its clinicalStatus (often "resolved")
            histories.append(_condition(resource, code, birth_date, label_of(raw_code, "condition")))
        elif what == "cancer":
            label = label_of(raw_code, "condition")
            if clinically_active(resource):
                cancers.append((_condition(resource, code, birth_date, label), _stage_of(resource)))
            inflammatory, tnbc = detail
            if inflammatory:
                out.inflammatory, out.subtype_basis = True, f"coded as {label}"
            elif tnbc and not out.inflammatory:
                out.triple_negative, out.subtype_basis = True, f"coded as {label}"
        elif not clinically_active(resource):
            continue  # metastases, CKD and renal risks count only while active
        elif what == "bone-mets":
            out.bone_mets.append(_condition(resource, code, birth_date, label_of(raw_code, "condition")))
        elif what == "other-mets":
            out.other_mets.append(_condition(resource, code, birth_date, label_of(raw_code, "condition")))
        elif what == "ckd":
            if detail:  # severe: CKD stage 4/5 or ESRD, or also coded as a contrast risk
                out.ckd_severe = _condition(resource, code, birth_date, label_of(raw_code, "condition"))
        elif what == "renal-risk" and out.ckd_severe is None:  # AKI or dialysis (R07, §7.2)
            out.ckd_severe = _condition(resource, code, birth_date, label_of(raw_code, "condition"))
    if cancers:
        cancers.sort(key=lambda cs: (cs[1] is None, cs[0].onset is None))
        out.breast_cancer = cancers[0][0]
        out.stage = next((stage for _, stage in cancers if stage), None)
    elif histories and out.bone_mets:
        out.breast_cancer = _recurrence(histories, out.bone_mets)
    return out


def _condition(resource: Resource, code: ConceptProfile, birth_date: date | None, label: str) -> Condition:
    """The Condition fact of a resource whose kind is kept: `code` is the profile of its code, `label` that
    code's `label_of(..., "condition")`."""
    return Condition(label, onset_of(resource, birth_date)[0], ref(resource), site_text(resource), code.text)


def _condition_kind(kb: Knowledge, code: ConceptProfile) -> tuple[str, Any]:
    """What a Condition code is, asked in the order `extract_conditions` acts on it (once per distinct code):
    ("cancer", (inflammatory, triple negative)), ("history" | "bone-mets" | "other-mets" | "renal-risk" |
    "osteopenia", None), ("ckd", severe) or ("symptom", `symptom_kinds`)."""
    valueset = kb.valueset
    if valueset("VS_BREAST_CANCER").matches(code) or valueset("VS_INFLAMMATORY_BC").matches(code) \
            or valueset("VS_TNBC").matches(code):
        return "cancer", (valueset("VS_INFLAMMATORY_BC").matches(code), valueset("VS_TNBC").matches(code))
    if valueset("VS_BREAST_CANCER_HISTORY").matches(code):
        return "history", None
    if valueset("VS_BONE_METS").matches(code):
        return "bone-mets", None
    if valueset("VS_SECONDARY_CANCER").matches(code):
        return "other-mets", None
    if valueset("VS_CKD").matches(code):
        return "ckd", bool(valueset("VS_CKD").kinds(code) & SEVERE_CKD
                           or valueset("VS_RENAL_CONTRAST_RISK").matches(code))
    if valueset("VS_RENAL_CONTRAST_RISK").matches(code):
        return "renal-risk", None
    if valueset("VS_OSTEOPENIA").matches(code):
        return "osteopenia", None
    return "symptom", symptom_kinds(kb, code)


def _recurrence(histories: list[Condition], bone_mets: list[Condition]) -> Condition:
    """Breast cancer recurred in bone, coded as history + metastasis: the history condition, labelled so."""
    history = min(histories, key=lambda c: (c.onset is None, c.onset or datetime.min))
    metastasis = bone_mets[0]
    return replace(history, label=f"{history.label} with {metastasis.label}"[:120])
