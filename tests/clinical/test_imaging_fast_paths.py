"""The imaging extractor's fast paths answer exactly what the general path answers, odd data included."""

from __future__ import annotations

import base64
import dataclasses
import itertools
from collections import OrderedDict
from typing import Any

import pytest

from cdshooks.clinical.extract.common import concepts, first_date, observation_codes
from cdshooks.clinical.extract.imaging import (
    MAX_ATTACHMENTS,
    RESULT_FIELDS,
    _coded_result,
    _dicts,
    _filed_fast,
    _is_imaging,
    _link_targets,
    _presented_text,
    _report_coded,
    _short_name,
    attachment_text,
    filed_observations,
    usable,
    worth_filing,
)
from cdshooks.clinical.facts import ImagingResult
from cdshooks.clinical.knowledge import default_knowledge
from cdshooks.fhir.codes import codings

KB = default_knowledge()
BONE_METS = KB.valueset("VS_BONE_METS")
BONE_CODE = {"coding": [{"system": "http://snomed.info/sct", "code": "94222008"}], "text": "Bone metastasis"}
LAB_CODE = {"coding": [{"system": "http://loinc.org", "code": "6768-6", "display": "ALP"}], "text": "ALP"}


class _Str(str):
    """A str subclass: the fast path leaves it to the general path."""


def _obs(oid: str, state: Any = "final", code: Any = LAB_CODE, **extra: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"resourceType": "Observation", "id": oid, "code": code, **extra}
    if state is not _MISSING:
        found["status"] = state
    return found


_MISSING = object()

# one Observation per odd shape the scan may meet (each alone, and among usual labs)
ODD: list[Any] = [
    _obs("lab"),
    _obs("bone", code=BONE_CODE),
    _obs("bone-prelim", "preliminary", code=BONE_CODE),
    _obs("bone-partial", "partial", code=BONE_CODE, identifier=[{"system": "s", "value": "v"}]),
    _obs("bone-final-same-id", "final", code=BONE_CODE, identifier=[{"system": "s", "value": "v"}]),
    _obs("text", valueString="lytic lesion"),
    _obs("text-empty", valueString=""),
    _obs("text-none", valueString=None),
    _obs("note-empty", note=[]),
    _obs("note-none", note=None),
    _obs("derived-empty", derivedFrom=[]),
    _obs("derived", derivedFrom=[{"reference": "ImagingStudy/x"}]),
    _obs("partof-str", partOf="ImagingStudy/x"),
    _obs("partof-zero", partOf=0),
    _obs("state-list", ["final"], valueString="x"),
    _obs("state-none", None, valueString="x"),
    _obs("state-missing", _MISSING, valueString="x"),
    _obs("state-int", 5, valueString="x"),
    _obs("state-sub", _Str("final"), valueString="x"),
    _obs("state-sub-prelim", _Str("preliminary"), valueString="x"),
    _obs("state-eie", "entered-in-error", valueString="x"),
    _obs("state-cancelled", "cancelled", code=BONE_CODE),
    _obs("state-amended", "amended", valueString="x"),
    _obs("state-registered", "registered", valueString="x"),
    _obs("refuted", verificationStatus={"coding": [{"code": "refuted"}]}, valueString="x"),
    _obs("refuted-list", verificationStatus=[{"coding": [{"code": "refuted"}]}], valueString="x"),
    _obs("verification-odd", verificationStatus="entered-in-error", valueString="x"),
    _obs("code-list", code=[BONE_CODE]),
    _obs("code-str", code="94222008"),
    _obs("code-none", code=None),
    _obs("code-text", code={"text": "secondary malignant neoplasm of bone"}),
    OrderedDict(_obs("dict-subclass", valueString="x")),
    "odd",
    None,
    7,
    [_obs("nested", valueString="x")],
]


def _general(observations: tuple[Any, ...], codes: Any) -> list[Any]:
    return usable(observations, lambda o: worth_filing(o, codes, BONE_METS))


def _codes_variants(observations: tuple[Any, ...]) -> list[Any]:
    codes = observation_codes(observations)
    partial = dict(itertools.islice(codes.items(), 0, None, 2))  # every other Observation read outside `codes`
    return [codes, partial, None]


def _check(observations: tuple[Any, ...]) -> list[Any] | None:
    found = None
    for codes in _codes_variants(observations):
        expected = _general(observations, codes)
        fast = _filed_fast(observations, codes, BONE_METS)
        assert fast is None or fast == expected
        assert filed_observations(observations, codes, BONE_METS) == expected
        found = fast if codes is not None else found
    return found


@pytest.mark.parametrize("odd", ODD, ids=lambda o: o.get("id") if isinstance(o, dict) else repr(o))
def test_filed_observations_match_the_general_path(odd: Any) -> None:
    labs = tuple(_obs(f"lab-{i}") for i in range(3))
    for observations in ((odd,), (*labs, odd, labs[0]), (odd, *labs, odd)):
        _check(observations)


def test_filed_observations_pairs_of_odd_shapes() -> None:
    for first, second in itertools.combinations(ODD, 2):
        _check((first, second, _obs("lab-x")))


def test_the_fast_path_answers_the_usual_record() -> None:
    """The usual record (final labs, final findings) is answered by the fast path, and as the general path does."""
    labs = [_obs(f"lab-{i}") for i in range(5)]
    observations = (*labs, _obs("bone", code=BONE_CODE), _obs("text", valueString="x"),
                    _obs("amended", "amended", note=[]), _obs("eie", "entered-in-error", valueString="x"),
                    _obs("bone-cancelled", "cancelled", code=BONE_CODE))
    fast = _check(observations)
    assert fast is not None
    assert [o["id"] for o in fast] == ["bone", "text", "amended"]


def test_a_preliminary_finding_is_checked_against_its_final_version() -> None:
    preliminary = _obs("p", "preliminary", code=BONE_CODE, identifier=[{"system": "s", "value": "v"}])
    final = _obs("f", "final", identifier=[{"system": "s", "value": "v"}])  # a lab: not filed, still a final version
    alone = _obs("q", "preliminary", valueString="x")
    observations = (preliminary, final, alone)
    assert _filed_fast(observations, observation_codes(observations), BONE_METS) is None
    assert filed_observations(observations, observation_codes(observations), BONE_METS) == [alone]


def test_results_are_built_by_position_in_field_order() -> None:
    assert tuple(f.name for f in dataclasses.fields(ImagingResult)) == RESULT_FIELDS


CONCLUSION_CODES: list[Any] = [
    None,
    [],
    [BONE_CODE],
    [{"coding": [{"system": "http://snomed.info/sct", "code": "118227000"}], "text": "Indeterminate"}],
    [{"text": "absent"}],
    [{"text": "positive"}],
    BONE_CODE,
    {"text": "no evidence"},
    [BONE_CODE, {"text": "absent"}],
    [{"text": "absent"}, "odd"],
    ["odd"],
    [None],
    [[BONE_CODE]],
    [OrderedDict(BONE_CODE)],
    "94222008",
    7,
]


@pytest.mark.parametrize("value", CONCLUSION_CODES, ids=repr)
def test_report_coded_matches_the_general_path(value: Any) -> None:
    assert _report_coded(KB, value) == _coded_result(KB, concepts(value))


def _plain_presented_text(report: dict[str, Any]) -> list[str]:
    """_presented_text as it read before its fast path (the reference)."""
    attachments = _dicts(report.get("presentedForm"))[:MAX_ATTACHMENTS]
    if not any(isinstance(a.get("data"), str) and a["data"] for a in attachments):
        return []
    created = [first_date(a, "creation") for a in attachments]
    if attachments and all(c is not None for c in created):
        attachments = [a for _, _, a in sorted(zip(created, range(len(attachments)), attachments, strict=True),
                                               key=lambda t: (t[0], t[1]))]
    texts = [attachment_text(a) for a in attachments]
    return [t for t in texts if t.strip()]


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


_LINK = {"contentType": "text/plain", "url": "https://ehr.example.org/Binary/1"}
_DATA = {"contentType": "text/plain", "data": _b64("No osseous metastases."), "creation": "2026-01-02"}
_ADDENDUM = {"contentType": "text/plain", "data": _b64("Addendum: lytic T9."), "creation": "2026-01-01"}
PRESENTED_FORMS: list[Any] = [
    None,
    [],
    [_LINK],
    [_LINK, _LINK],
    _LINK,
    _DATA,
    [_DATA],
    [_DATA, _ADDENDUM],
    [_LINK, _DATA],
    [{**_LINK, "data": ""}],
    [{**_LINK, "data": 5}],
    [{**_LINK, "data": None}],
    [{"data": "   "}],
    ["odd", _DATA],
    [_LINK] * MAX_ATTACHMENTS + [_DATA],  # an eleventh form is not read
    ["odd"] * MAX_ATTACHMENTS + [_DATA],  # odd entries are dropped before the bound
    "odd",
    7,
    [[_DATA]],
]


@pytest.mark.parametrize("forms", PRESENTED_FORMS, ids=repr)
def test_presented_text_matches_the_plain_reading(forms: Any) -> None:
    report = {"resourceType": "DiagnosticReport", "id": "r"}
    if forms is not None:
        report["presentedForm"] = forms
    assert _presented_text(report) == _plain_presented_text(report)
    assert _presented_text({**report, "presentedForm": None}) == []


def _plain_is_imaging(observation: dict[str, Any]) -> bool:
    for concept in concepts(observation.get("category")):
        if any(code == "imaging" for _, code, _ in codings(concept)):
            return True
    return BONE_METS.matches(observation.get("code"))


CATEGORIES: list[Any] = [
    None,
    [],
    [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "imaging"}]}],
    [{"coding": [{"code": "laboratory"}]}, {"coding": [{"code": " imaging "}]}],
    [{"coding": [{"code": "Imaging"}]}],
    {"coding": [{"code": "imaging"}]},
    [{"coding": {"code": "imaging"}}],
    [{"coding": [{"code": "imaging"}, {"code": "laboratory"}]}],
    [{"text": "imaging"}],
    [{"coding": [{"display": "imaging"}]}],
    ["imaging"],
    [{"coding": [{"code": ["imaging"]}]}],
]


@pytest.mark.parametrize("category", CATEGORIES, ids=repr)
@pytest.mark.parametrize("code", [LAB_CODE, BONE_CODE, None])
def test_is_imaging_matches_the_plain_reading(category: Any, code: Any) -> None:
    observation = {"resourceType": "Observation", "id": "o", "category": category, "code": code}
    assert _is_imaging(KB, observation) == _plain_is_imaging(observation)


_TARGETS = {"ImagingStudy/a": {"resourceType": "ImagingStudy", "id": "a"}, "Observation/b": {"id": "b"}}
LINKS: list[Any] = [
    None,
    [],
    [{"reference": "ImagingStudy/a"}],
    [{"reference": "ImagingStudy/a"}, {"reference": "Observation/b"}, {"reference": "Missing/c"}],
    [{"reference": None}, {}, {"display": "x"}],
    ["ImagingStudy/a", {"reference": "ImagingStudy/a"}, None, 5],
    {"reference": "ImagingStudy/a"},
    "ImagingStudy/a",
    7,
    [{"reference": ["ImagingStudy/a"]}],
    [{"reference": "ImagingStudy/a"}] * 3,
    [{"reference": f"Observation/{i}"} for i in range(6)],  # longer than a bound of 4
    ["odd"] * 4 + [{"reference": "ImagingStudy/a"}],  # odd entries dropped before the bound
    [[{"reference": "ImagingStudy/a"}]],
]


def _resolve(reference: Any) -> Any:
    return _TARGETS.get(reference) if isinstance(reference, str) else None


@pytest.mark.parametrize("value", LINKS, ids=repr)
@pytest.mark.parametrize("limit", [None, 4, 50])
def test_link_targets_match_the_plain_reading(value: Any, limit: int | None) -> None:
    expected = [_resolve(link.get("reference")) for link in _dicts(value)[:limit]]
    assert _link_targets(value, _resolve, limit) == expected


@pytest.mark.parametrize("procedure", [None, "BONE_SCAN_WB", "CT_CAP_IV", "NOT_A_CLASS"])
@pytest.mark.parametrize("modality", [None, "NM", "XX"])
def test_short_name_with_the_per_call_names_is_the_same(procedure: Any, modality: Any) -> None:
    names: dict[str, str | None] = {}
    concept = {"text": "Some study"}
    for _ in range(2):  # the second asks the per-call names
        assert _short_name(KB, procedure, concept, modality, names) == _short_name(KB, procedure, concept, modality)
    assert (procedure in names) == (procedure is not None)
