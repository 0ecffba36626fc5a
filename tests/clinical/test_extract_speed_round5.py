"""Round 5 of the extraction's fast paths (issue 15) answer exactly what the general readings answer, odd data
included: the lab fact and its reference range, the Observations'
code profiles kept by the lab extractor for the imaging one, a stage summary parsed once per concept, the triple
negative check skipped when a receptor kind has no negative result, the pathology reports' conclusion checked before
their category, and a plain concept of several codings found by its text."""

from __future__ import annotations

import copy
import dataclasses
import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cdshooks.clinical import build_facts as bf
from cdshooks.clinical.extract import conditions as cond
from cdshooks.clinical.extract import imaging as img
from cdshooks.clinical.extract import observations as obs
from cdshooks.clinical.extract.common import concepts, label_of, observation_codes, ref, site_text, status, verified
from cdshooks.clinical.facts import Condition, LabResult, Receptor
from cdshooks.clinical.knowledge import default_knowledge
from cdshooks.fhir import codes
from cdshooks.fhir.codes import ConceptProfile, codings, concept_text, profile
from cdshooks.fhir.record import Record

KB = default_knowledge()
NOW = datetime(2026, 6, 1, 19, 0, tzinfo=UTC)
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"

ODD_VALUES: list[Any] = [None, "", " ", "x", "Stage IIA", "stage 4", 5, 5.0, True, [], {}, [1], {"text": "IIIB"},
                         "final", "negative", SNOMED, "94222008"]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a part of a JSON value (dict keys and list indexes)."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _mutate(value: Any, rng: random.Random, extra: list[Any] | None = None) -> None:
    """Replace, drop, wrap or add one part of a JSON dict (in place)."""
    paths = _paths(value)[1:]
    if not paths:
        return
    path = rng.choice(paths)
    parent: Any = value
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    action = rng.random()
    choices = ODD_VALUES + (extra or [])
    if action < 0.55:
        parent[last] = copy.deepcopy(rng.choice(choices))
    elif action < 0.7:
        del parent[last]
    elif action < 0.8 and isinstance(parent, dict):
        parent[rng.choice(["text", "coding", "system", "code", "display", "id", "status", "summary"])] = (
            copy.deepcopy(rng.choice(choices)))
    elif isinstance(parent[last], list):
        parent[last].append(copy.deepcopy(rng.choice(choices)))
    else:
        parent[last] = [parent[last]]


# -- the lab fact -----------------------------------------------------------------------------------------

def test_lab_result_is_the_object_its_constructor_builds() -> None:
    lab = {"resourceType": "Observation", "id": "l1", "status": "final",
           "effectiveDateTime": "2026-06-01T08:31:00Z",
           "valueQuantity": {"value": 155.1, "unit": "U/L"},
           "referenceRange": [{"low": {"value": 44.0, "unit": "U/L"}, "high": {"value": 147.0, "unit": "U/L"}}]}
    found = obs.lab_result(KB, lab, "alp", 130.0)
    expected = LabResult("alp", datetime(2026, 6, 1, 8, 31, tzinfo=UTC), 155.1, "U/L", "high", "reference-range",
                         147.0, "Observation/l1", "")
    assert type(found) is LabResult
    assert found == expected and repr(found) == repr(expected) and hash(found) == hash(expected)
    assert list(vars(found)) == list(vars(expected))
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.value = 1.0  # type: ignore[misc]


RANGES: list[Any] = [
    [{"low": {"value": 44.0, "unit": "U/L"}, "high": {"value": 147.0, "unit": "U/L"}}],
    [{"high": {"value": 147.0, "unit": "U/L"}}], [{"low": {"value": 160.0, "unit": "U/L"}}],
    [{"low": {"value": 44.0, "unit": "U/L"}, "high": {"value": 147.0, "unit": "IU/L"}}],
    [{"low": {"value": 44.0, "unit": "U/L"}, "high": {"value": 150, "unit": "U/L"}}],
    [{"low": {"value": 44.0, "unit": "U/L"}, "high": {"value": float("nan"), "unit": "U/L"}}],
    [{"low": {"value": 44.0, "unit": "U/L"}, "high": None}], [{"low": None, "high": None}], [{}],
    [{"text": "44-147"}, {"high": {"value": 100.0, "unit": "U/L"}}], [], None, "44-147", [None],
    [{"high": {"value": 100.0}}], [{"high": {"value": 100.0, "code": "U/L"}}], [{"high": "100"}],
]


@pytest.mark.parametrize("ranges", RANGES)
@pytest.mark.parametrize("value", [30.0, 100.0, 155.1])
def test_a_lab_reads_its_range_as_range_flag(ranges: Any, value: float) -> None:
    lab = {"resourceType": "Observation", "id": "l1", "valueQuantity": {"value": value, "unit": "U/L"}}
    if ranges is not None:
        lab["referenceRange"] = ranges
    found = obs.lab_result(KB, lab, "egfr", 130.0)
    flag, high = obs._range_flag(lab, value, "U/L")
    assert (found.flag, found.reference_high) == ((flag, high) if flag is not None else (None, high))
    assert found.basis == ("reference-range" if flag is not None else "none")


# -- the Observations' code profiles, kept for the imaging extractor ------------------------------------

def _record(hook: str = "order-select") -> dict[str, list[dict[str, Any]]]:
    from bench.record import typical_request

    request = typical_request(hook, NOW.date())
    resources: dict[str, list[dict[str, Any]]] = {}
    for value in request["prefetch"].values():
        entries = [e["resource"] for e in value.get("entry", [])] if value.get("resourceType") == "Bundle" else [value]
        for resource in entries:
            resources.setdefault(resource["resourceType"], []).append(resource)
    resources["_drafts"] = [e["resource"] for e in request["context"].get("draftOrders", {}).get("entry", [])]
    return json.loads(json.dumps(resources))


def _observations(seed: int) -> tuple[Any, ...]:
    rng = random.Random(seed)
    observations = _record()["Observation"]
    for observation in rng.sample(observations, 12):
        for _ in range(rng.randint(1, 3)):
            _mutate(observation, rng, ["refuted", "entered-in-error", "preliminary", {"coding": [{"code": "refuted"}]}])
    return tuple(observations)


@pytest.mark.parametrize("seed", range(6))
def test_the_lab_extractor_keeps_the_code_profiles_observation_codes_reads(seed: int) -> None:
    observations = _observations(seed)
    kept: dict[int, ConceptProfile] = {}
    facts = obs.extract_observations(KB, observations, 130.0, kept)
    assert facts == obs.extract_observations(KB, observations, 130.0)
    every = observation_codes(observations)
    assert kept and set(kept) <= set(every)
    assert all(kept[key] == every[key] for key in kept)  # the same profile (odd codes are read afresh)
    skipped = [o for o in observations if id(o) not in kept]  # read outside `codes` by the imaging extractor
    assert all(o.get("status") in obs.UNUSABLE or o.get("verificationStatus") is not None for o in skipped)
    record = Record.build("p", observations)
    imaging = img.extract_imaging(KB, record.of, record.resolve, kept)
    assert imaging == img.extract_imaging(KB, record.of, record.resolve, every)
    assert imaging == img.extract_imaging(KB, record.of, record.resolve)


# -- the stage of a condition ------------------------------------------------------------------------------

STAGE_SUMMARIES: list[Any] = [
    None, {}, [], "Stage IIA", 5, {"text": "Stage IIA"}, {"text": "stage 4"}, {"text": "Stage 2A"}, {"text": "IIIB"},
    {"coding": [{"system": SNOMED, "code": "1222806003", "display": "American Joint Committee on Cancer stage IIA"}],
     "text": "American Joint Committee on Cancer stage IIA"},
    {"coding": [{"display": "Stage IV"}]}, {"coding": [{"display": "stage iii"}], "text": "Breast cancer"},
    {"coding": {"display": "Stage I"}}, [{"text": "Stage I"}, {"text": "Stage II"}], {"text": ["Stage IV"]},
    {"text": {"div": "Stage IV"}}, {"coding": [{"code": 4, "display": 4}]}, {"text": "no stage given"},
    {"text": "Stage IIA", "coding": [{"display": "stage iib"}]},
]


@pytest.mark.parametrize("summary", STAGE_SUMMARIES)
def test_a_summary_stage_is_parsed_from_its_concept_text(summary: Any) -> None:
    assert cond.summary_stage(summary) == cond.parse_stage(concept_text(summary))
    assert cond.summary_stage(copy.deepcopy(summary)) == cond.parse_stage(concept_text(summary))  # remembered


def _reference_stage_of(condition: dict[str, Any]) -> str | None:
    """`_stage_of` as it read before: each summary's `concept_text` parsed on every call."""
    stages = condition.get("stage")
    if not isinstance(stages, list):
        return None
    for stage in stages:
        if isinstance(stage, dict):
            found = cond.parse_stage(concept_text(stage.get("summary")))
            if found:
                return found
    return None


@pytest.mark.parametrize("seed", range(6))
def test_the_stage_of_mutated_conditions(seed: int) -> None:
    rng = random.Random(seed)
    base = {"stage": [{"summary": copy.deepcopy(summary)} for summary in STAGE_SUMMARIES[5:10]]}
    for _ in range(200):
        condition = copy.deepcopy(base)
        for _ in range(rng.randint(1, 4)):
            _mutate(condition, rng, [{"text": "Stage IIIC"}, {"coding": [{"display": "stage 0"}]}])
        assert cond._stage_of(condition) == _reference_stage_of(condition), json.dumps(condition, default=repr)


# -- triple negative from receptors ------------------------------------------------------------------------

def _reference_triple_negative(receptors: tuple[Receptor, ...]) -> tuple[bool, str]:
    """`_triple_negative_from_receptors` without the early answer."""
    from cdshooks.clinical.dates import known_date

    dated = sorted((r for r in receptors if r.status is not None and r.when is not None),
                   key=lambda r: known_date(r.when))
    latest = {r.kind: r for r in dated}
    if set(latest) == {"er", "pr", "her2"} and all(r.status == "negative" for r in latest.values()):
        newest = max(r.when for r in latest.values() if r.when)
        return True, f"ER, PR and HER2 negative ({newest.date().isoformat()})"
    return False, ""


@pytest.mark.parametrize("seed", range(4))
def test_triple_negative_answers_as_without_the_early_answer(seed: int) -> None:
    rng = random.Random(seed)
    statuses = ["negative", "negative", "positive", "equivocal", None]
    found_true = False
    for _ in range(400):
        receptors = tuple(Receptor(rng.choice(["er", "pr", "her2"]), rng.choice(
            [None, NOW - timedelta(days=rng.randint(0, 900))]), rng.choice(statuses), f"Observation/{i}")
            for i in range(rng.randint(0, 7)))
        expected = _reference_triple_negative(receptors)
        assert bf._triple_negative_from_receptors(receptors) == expected
        found_true = found_true or expected[0]
    assert found_true  # the comparison met triple negative patients too


# -- pathology reports: the conclusion before the category ------------------------------------------------

def _reference_bone_pathology(reports: tuple[Any, ...]) -> list[Condition]:
    """`extract_bone_pathology` with the category checked first (as it read before)."""
    category = KB.valueset("VS_PATHOLOGY_REPORT_CATEGORY")
    bone_mets = KB.valueset("VS_BONE_METS")
    out = []
    for report in reports:
        if not isinstance(report, dict) or not verified(report) or status(report) not in img.FINAL:
            continue
        if not any(category.matches_codings(c) for c in concepts(report.get("category"))):
            continue
        if not any(bone_mets.matches(c) for c in concepts(report.get("conclusionCode"))):
            continue
        out.append(Condition(label_of(report.get("code"), "Pathology report"), img._effective(report), ref(report),
                             text="pathology: bone metastasis"))
    return out


PATHOLOGY = {"resourceType": "DiagnosticReport", "id": "path-1", "status": "final",
             "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "SP"}]}],
             "code": {"text": "Bone biopsy pathology"}, "effectiveDateTime": "2026-04-01",
             "conclusionCode": [{"coding": [{"system": SNOMED, "code": "94222008"}], "text": "Bone metastasis"}]}


@pytest.mark.parametrize("seed", range(6))
def test_bone_pathology_answers_as_with_the_category_first(seed: int) -> None:
    rng = random.Random(seed)
    reports = _record()["DiagnosticReport"]
    found_any = False
    for _ in range(60):
        mixed = copy.deepcopy([*rng.sample(reports, 3), PATHOLOGY, PATHOLOGY])
        for report in mixed:
            for _ in range(rng.randint(0, 2)):
                _mutate(report, rng, [PATHOLOGY["category"], PATHOLOGY["conclusionCode"], "SP", "amended"])
        expected = _reference_bone_pathology(tuple(mixed))
        assert img.extract_bone_pathology(KB, tuple(mixed)) == expected
        found_any = found_any or bool(expected)
    assert found_any


# -- a plain concept of several codings, found by its text --------------------------------------------------

def _several(text: Any = "NM Whole body Bone Views", first: Any = "78306", second: Any = "39818-0") -> dict[str, Any]:
    return {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": first, "display": "NM Whole body"},
                       {"system": LOINC, "code": second, "display": "NM Whole body"}], "text": text}


def _read(concept: Any) -> tuple[Any, str]:
    return tuple(codings(concept)), concept_text(concept)


def test_a_concept_of_several_codings_is_remembered_by_its_text() -> None:
    codes._PROFILES.clear()
    first = profile(_several())
    assert profile(_several()) is first  # found by its key; remembered in the front
    assert codes._BY_TEXT["NM Whole body Bone Views"][1] is first
    assert profile(_several()) is first  # found in the front
    codes._PROFILES.clear()
    first = profile(_several())
    remembered = _several()
    assert profile(remembered) is first and codes._BY_TEXT["NM Whole body Bone Views"][0] == remembered
    remembered["coding"][1]["code"] = "24628-0"  # changed after it was remembered: the copy is not
    assert (profile(remembered).codings, profile(remembered).text) == _read(remembered)
    assert profile(remembered) is not first and profile(_several()) is first
    remembered["coding"].pop()
    assert (profile(remembered).codings, profile(remembered).text) == _read(remembered)


SEVERAL_ODD: list[Any] = [
    _several(), _several(first="71260"), _several(second=None), _several(text=None), _several(first=5),
    {**_several(), "id": "c"}, {"coding": [*_several()["coding"], {"system": LOINC, "code": "x", "extra": 1}],
                               "text": "NM Whole body Bone Views"},
    {"coding": list(reversed(_several()["coding"])), "text": "NM Whole body Bone Views"},
    {"coding": [], "text": "NM Whole body Bone Views"}, {"text": "NM Whole body Bone Views"},
    {"coding": _several()["coding"] * 5, "text": "NM Whole body Bone Views"},
]


@pytest.mark.parametrize("seed", range(6))
def test_profiles_read_as_codings_and_concept_text_for_mutated_concepts(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(300):
        concept = copy.deepcopy(rng.choice(SEVERAL_ODD))
        for _ in range(rng.randint(0, 2)):
            _mutate(concept, rng, ["NM Whole body Bone Views", "78306", LOINC])
        for _ in range(3):  # read afresh, found by its key, found in the front
            read = profile(copy.deepcopy(concept))
            assert (read.codings, read.text) == _read(concept), json.dumps(concept, default=repr)


# -- the whole reading ----------------------------------------------------------------------------------

def _general_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """The readings these fast paths replace, for the whole extraction."""
    monkeypatch.setattr(cond, "summary_stage", lambda summary: cond.parse_stage(concept_text(summary)))
    monkeypatch.setattr(codes, "_remember_plain", lambda *_: None)
    monkeypatch.setattr(bf, "_TRIPLE", frozenset())
    codes._PROFILES.clear()


@pytest.mark.parametrize("hook", ["order-select", "patient-view"])
@pytest.mark.parametrize("seed", range(4))
def test_build_facts_matches_the_general_readings(monkeypatch: pytest.MonkeyPatch, hook: str, seed: int) -> None:
    rng = random.Random(seed)
    resources = _record(hook)
    drafts = resources.pop("_drafts")
    flat = [r for rs in resources.values() for r in rs]
    for resource in rng.sample(flat, 30):
        for _ in range(rng.randint(1, 2)):
            _mutate(resource, rng, ["negative", {"text": "Stage IV"}])
    records = [Record.build("p", json.loads(json.dumps(flat)), json.loads(json.dumps(drafts))) for _ in range(3)]
    fast = [bf.build_facts(record, NOW, KB) for record in records]  # afresh, then remembered
    with monkeypatch.context() as patched:
        _general_paths(patched)
        general = [bf.build_facts(record, NOW, KB) for record in records]
    assert fast == general
    assert [f.labs for f in fast] == [g.labs for g in general]


# -- body site text ------------------------------------------------------------------------------------------

def _reference_site_text(resource: dict[str, Any]) -> str | None:
    """`site_text` as it read before: every site's text joined."""
    sites = resource.get("bodySite")
    if isinstance(sites, dict):
        sites = [sites]
    if not isinstance(sites, list):
        return None
    texts = [profile(s).text for s in sites if isinstance(s, dict)]
    joined = "; ".join(t for t in texts if t)
    return joined[:120] or None


SITES: list[Any] = [
    None, {}, [], "Lumbar spine", 5, [None], ["x"], {"text": "Lumbar spine structure"}, [{"text": "Left breast"}],
    {"coding": [{"system": SNOMED, "code": "122496007", "display": "Lumbar spine structure"}],
     "text": "Lumbar spine structure"}, [{"coding": [{"display": "Left breast structure"}]}],
    [{"text": "Left breast"}, {"text": "Right breast"}], [{"text": ""}, {"text": "Rib"}], {"text": "x" * 300},
    [{"text": "y" * 300}], {"text": "  "}, [{"text": ["L3"]}], {"coding": {"display": "T12"}}, [[{"text": "L4"}]],
]


@pytest.mark.parametrize("sites", SITES)
def test_site_text_reads_as_the_joined_texts(sites: Any) -> None:
    resource = {} if sites is None else {"bodySite": sites}
    assert site_text(resource) == _reference_site_text(resource)


@pytest.mark.parametrize("seed", range(4))
def test_site_text_of_mutated_sites(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(300):
        resource = {"bodySite": copy.deepcopy(rng.choice(SITES))}
        for _ in range(rng.randint(0, 3)):
            _mutate(resource, rng, [{"text": "Sacrum"}, [{"text": "C5"}]])
        assert site_text(resource) == _reference_site_text(resource), json.dumps(resource, default=repr)
