"""Facts from Conditions: breast cancer (stage, subtype), metastases, CKD, osteopenia, coded symptoms."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from cdshooks.clinical.extract.common import Resource, clinically_active, first_date, label_of, ref, site_text, verified
from cdshooks.clinical.facts import Condition, Symptom
from cdshooks.clinical.knowledge import Knowledge
from cdshooks.fhir.codes import concept_text, profile

_STAGE = re.compile(r"\bstage\s*(0|IV|I{1,3})\s*([ABC])?\b|\b(?:AJCC\s*)?(0|IV|I{1,3})([ABC])\b", re.IGNORECASE)
# "Stage 2A" as EHRs often write it: the arabic stage after the word "stage" (a sub-stage letter may follow)
_ARABIC_STAGE = re.compile(r"\bstage\s*([0-4])(?=\s*[ABC]?\b)", re.IGNORECASE)
_ROMAN = {"0": "0", "1": "I", "2": "II", "3": "III", "4": "IV"}
SEVERE_CKD = {"stage-4", "stage-5", "esrd"}
CNS_KINDS = {"headache", "seizure", "weakness"}


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
            found = parse_stage(concept_text(stage.get("summary")))
            if found:
                return found
    return None


def symptom_kind(kb: Knowledge, concept: Any) -> str | None:
    """bone-pain | headache | seizure | weakness | weight-loss | visceral, from a symptom concept."""
    if kb.valueset("VS_CNS_SYMPTOMS").matches(concept):
        kinds = kb.valueset("VS_CNS_SYMPTOMS").kinds(concept) & CNS_KINDS
        return sorted(kinds)[0] if kinds else "weakness"
    if kb.valueset("VS_BONE_PAIN").matches(concept):
        return "bone-pain"
    if kb.valueset("VS_WEIGHT_LOSS").matches(concept):
        return "weight-loss"
    if kb.valueset("VS_VISCERAL_SYMPTOMS").matches(concept):
        return "visceral"
    return None


def extract_conditions(kb: Knowledge, conditions: tuple[Resource, ...]) -> ConditionFacts:
    out = ConditionFacts()
    cancers: list[tuple[Condition, str | None]] = []
    for resource in conditions:
        if not verified(resource):
            continue
        raw_code = resource.get("code")
        code = profile(raw_code)  # read once, matched against many value sets
        onset = first_date(resource, "onsetDateTime", "onsetPeriod.start", "recordedDate")
        label = label_of(raw_code, "condition")
        active = clinically_active(resource)
        condition = Condition(label, onset, ref(resource), site_text(resource), concept_text(code))
        if kb.valueset("VS_BREAST_CANCER").matches(code) or kb.valueset("VS_INFLAMMATORY_BC").matches(code) \
                or kb.valueset("VS_TNBC").matches(code):
            if active:
                cancers.append((condition, _stage_of(resource)))
            if kb.valueset("VS_INFLAMMATORY_BC").matches(code):
                out.inflammatory, out.subtype_basis = True, f"coded as {label}"
            elif kb.valueset("VS_TNBC").matches(code) and not out.inflammatory:
                out.triple_negative, out.subtype_basis = True, f"coded as {label}"
            continue
        if kb.valueset("VS_BONE_METS").matches(code):
            if active:
                out.bone_mets.append(condition)
            continue
        if kb.valueset("VS_SECONDARY_CANCER").matches(code):
            if active:
                out.other_mets.append(condition)
            continue
        if kb.valueset("VS_CKD").matches(code):
            if active and (kb.valueset("VS_CKD").kinds(code) & SEVERE_CKD
                           or kb.valueset("VS_RENAL_CONTRAST_RISK").matches(code)):
                out.ckd_severe = condition
            continue
        if kb.valueset("VS_RENAL_CONTRAST_RISK").matches(code):  # AKI or dialysis (R07, §7.2)
            if active and out.ckd_severe is None:
                out.ckd_severe = condition
            continue
        if kb.valueset("VS_OSTEOPENIA").matches(code):
            out.osteopenia = out.osteopenia or active
            continue
        kind = symptom_kind(kb, code)
        if kind is not None:
            abated = first_date(resource, "abatementDateTime", "abatementPeriod.end")
            out.symptoms.append(Symptom(kind, label_of(raw_code, kind.replace("-", " ")), onset, active, abated,
                                        site_text(resource), ref(resource)))
    if cancers:
        cancers.sort(key=lambda cs: (cs[1] is None, cs[0].onset is None))
        out.breast_cancer = cancers[0][0]
        out.stage = next((stage for _, stage in cancers if stage), None)
    return out
