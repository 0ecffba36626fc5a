"""`extract_conditions` reads only what a Condition's kind uses; it answers exactly what the eager reading (every
field of every Condition read first, as it was written before) answers, odd data included."""

from __future__ import annotations

import itertools
import random
from datetime import date, datetime
from typing import Any

import pytest

from cdshooks.clinical.extract.common import clinically_active, first_date, label_of, ref, site_text, verified
from cdshooks.clinical.extract.conditions import (
    ConditionFacts,
    _condition_kind,
    _recurrence,
    _stage_of,
    extract_conditions,
    onset_of,
    symptom_kinds,
    symptom_kinds_of,
)
from cdshooks.clinical.facts import Condition, Symptom
from cdshooks.clinical.knowledge import Knowledge, default_knowledge
from cdshooks.fhir.codes import concept_text, profile

KB = default_knowledge()
ICD = "http://hl7.org/fhir/sid/icd-10-cm"


def _eager_conditions(kb: Knowledge, conditions: tuple[Any, ...], birth_date: date | None = None) -> ConditionFacts:
    """The reading as first written: a Condition fact built for every verified resource, then kept or not."""
    out = ConditionFacts()
    cancers: list[tuple[Condition, str | None]] = []
    histories: list[Condition] = []
    for resource in conditions:
        if not verified(resource):
            continue
        raw_code = resource.get("code")
        code = profile(raw_code)
        onset, onset_basis = onset_of(resource, birth_date)
        label = label_of(raw_code, "condition")
        active = clinically_active(resource)
        condition = Condition(label, onset, ref(resource), site_text(resource), concept_text(code))
        what, detail = _condition_kind(kb, code)
        if what == "cancer":
            if active:
                cancers.append((condition, _stage_of(resource)))
            inflammatory, tnbc = detail
            if inflammatory:
                out.inflammatory, out.subtype_basis = True, f"coded as {label}"
            elif tnbc and not out.inflammatory:
                out.triple_negative, out.subtype_basis = True, f"coded as {label}"
        elif what == "history":
            histories.append(condition)
        elif what == "bone-mets":
            if active:
                out.bone_mets.append(condition)
        elif what == "other-mets":
            if active:
                out.other_mets.append(condition)
        elif what == "ckd":
            if active and detail:
                out.ckd_severe = condition
        elif what == "renal-risk":
            if active and out.ckd_severe is None:
                out.ckd_severe = condition
        elif what == "osteopenia":
            out.osteopenia = out.osteopenia or active
        elif detail is not None:
            kind, subkind = detail
            abated = first_date(resource, "abatementDateTime", "abatementPeriod.end")
            out.symptoms.append(Symptom(kind, label_of(raw_code, kind.replace("-", " ")), onset, active, abated,
                                        site_text(resource), ref(resource), subkind, onset_basis))
    if cancers:
        cancers.sort(key=lambda cs: (cs[1] is None, cs[0].onset is None))
        out.breast_cancer = cancers[0][0]
        out.stage = next((stage for _, stage in cancers if stage), None)
    elif histories and out.bone_mets:
        out.breast_cancer = _recurrence(histories, out.bone_mets)
    return out


CODES: list[Any] = [
    {"text": "Malignant neoplasm of breast"},
    {"text": "Inflammatory breast cancer"},
    {"coding": [{"display": "Triple negative breast cancer"}]},
    {"coding": [{"system": ICD, "code": "Z85.3", "display": "Personal history of malignant neoplasm of breast"}]},
    {"coding": [{"system": ICD, "code": "C79.51"}]},
    {"coding": [{"system": ICD, "code": "C78.7", "display": "Secondary malignant neoplasm of liver"}]},
    {"text": "Chronic kidney disease stage 4"},
    {"text": "Chronic kidney disease stage 2"},
    {"text": "Acute kidney injury"},
    {"text": "Osteoporosis"},
    {"text": "Headache"},
    {"text": "  Low back pain  "},
    {"coding": [{"system": "http://snomed.info/sct", "code": "x", "display": "Weight loss"}], "text": " "},
    {"text": "Depressive disorder"},
    {"coding": [{"system": "http://snomed.info/sct", "code": "12584003"}]},  # bone pain, no words: a fallback label
    {"coding": "odd", "text": 5},
    None,
    "Bone pain",
]
CLINICAL: list[Any] = [
    None,
    {"coding": [{"code": "active"}]},
    {"coding": [{"code": "resolved"}]},
    {"coding": [{"code": "remission"}, {"code": "relapse"}]},
    {"text": "Active"},
]
EXTRAS: list[dict[str, Any]] = [
    {},
    {"onsetDateTime": "2024-01-02", "bodySite": [{"text": "Left breast"}, {"coding": [{"display": "Liver"}]}]},
    {"onsetPeriod": {"start": "2023-05"}, "abatementDateTime": "2025-01-01", "bodySite": {"text": "Spine"}},
    {"onsetAge": {"value": 51, "unit": "a"}, "abatementPeriod": {"end": "2025-02"}, "bodySite": "spine"},
    {"onsetAge": {"value": 10**400, "code": "a"}, "onsetString": "2022-03-04", "recordedDate": "2022-04-01"},
    {"onsetString": "last spring", "recordedDate": "2021-01-01", "stage": [{"summary": {"text": "Stage IIA"}}]},
    {"onsetDateTime": 5, "stage": [{"summary": {"text": "stage 4"}}, "odd"], "abatementString": "yes"},
    {"stage": {"summary": {"text": "IIIB"}}, "verificationStatus": {"coding": [{"code": "refuted"}]}},
    {"status": "entered-in-error", "onsetDateTime": "2020-01-01"},
    {"abatementAge": {"value": 3}, "bodySite": [None, {"text": ""}]},
]


def _resource(n: int, code: Any, clinical: Any, extra: dict[str, Any]) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Condition", "id": f"c{n}", **extra}
    if code is not None:
        resource["code"] = code
    if clinical is not None:
        resource["clinicalStatus"] = clinical
    return resource


ALL = [_resource(n, *case) for n, case in enumerate(itertools.product(CODES, CLINICAL, EXTRAS))]


def _records() -> list[tuple[Any, ...]]:
    shuffle = random.Random(15)
    records: list[tuple[Any, ...]] = [tuple(ALL), tuple(reversed(ALL))]
    for _ in range(40):
        records.append(tuple(shuffle.sample(ALL, 12)))
    return records


@pytest.mark.parametrize("conditions", _records())
@pytest.mark.parametrize("birth_date", [None, date(1970, 3, 4)])
def test_conditions_match_the_eager_reading(conditions: tuple[Any, ...], birth_date: date | None) -> None:
    assert extract_conditions(KB, conditions, birth_date) == _eager_conditions(KB, conditions, birth_date)


def test_the_comparison_sees_every_kind() -> None:
    """A reference that agrees on empty answers proves nothing: the full record sets every fact."""
    facts = _eager_conditions(KB, tuple(ALL), date(1970, 3, 4))
    assert facts.breast_cancer is not None and facts.stage and facts.inflammatory and facts.subtype_basis
    assert facts.bone_mets and facts.other_mets and facts.ckd_severe and facts.osteopenia
    assert {s.kind for s in facts.symptoms} >= {"bone-pain", "headache", "weight-loss"}
    assert any(s.label == "bone pain" for s in facts.symptoms)
    assert any(s.abated for s in facts.symptoms) and any(s.site for s in facts.symptoms)
    assert any(isinstance(s.onset, datetime) and s.onset_basis == "recorded" for s in facts.symptoms)
    history = _eager_conditions(KB, tuple(r for r in ALL if r.get("code") in (CODES[3], CODES[4])))
    assert history.breast_cancer is not None and " with " in history.breast_cancer.label
    renal = _eager_conditions(KB, tuple(r for r in ALL if r.get("code") == CODES[8]))
    assert renal.ckd_severe is not None


SYMPTOM_CONCEPTS: list[Any] = [
    *CODES,
    {"text": "Headache, usual pattern, unchanged"},
    {"text": "Paraparesis"},
    {"text": "no weight loss"},
    {"text": "Abdominal pain"},
    {"text": "Urinary incontinence"},
    {"coding": [{"system": "http://snomed.info/sct", "code": "12584003"}, {"code": 5}], "text": "Back pain"},
    [{"text": "Bone pain"}],
    {"coding": [None, "x"]},
    7,
]


@pytest.mark.parametrize("concept", SYMPTOM_CONCEPTS)
def test_remembered_symptom_kinds_match_symptom_kinds(concept: Any) -> None:
    for _ in range(2):  # asked, then remembered
        assert symptom_kinds_of(KB, concept) == symptom_kinds(KB, concept)
        assert symptom_kinds_of(KB, profile(concept)) == symptom_kinds(KB, concept)
    assert sum(symptom_kinds(KB, c) is not None for c in SYMPTOM_CONCEPTS) >= 8
