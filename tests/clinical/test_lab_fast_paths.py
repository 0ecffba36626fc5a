"""A lab is read as the general reading reads it (issue 15), odd data included: the usual date is taken without the
general walk, anything else by the general readers. (The value, interpretation and range fast paths of round 4 went
when labs came to be read on demand, a few per call: the comparisons below keep the reading as it was.)"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest

from cdshooks.clinical.extract import observations as obs
from cdshooks.clinical.extract.common import first_date, ref
from cdshooks.clinical.extract.observations import (
    ALP_UNITS,
    _interpretation,
    _lab_value,
    _present,
    _range_flag,
    lab_result,
)
from cdshooks.clinical.facts import LabResult
from cdshooks.clinical.knowledge import Knowledge, default_knowledge
from cdshooks.fhir.codes import concept_text, parse_fhir_datetime, profile

KB = default_knowledge()
V3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
UCUM = "http://unitsofmeasure.org"


def _general_lab(kb: Knowledge, observation: dict[str, Any], kind: str, alp_uln: float) -> LabResult:
    """The lab fact as the general readers give it (the reading before the fast paths, kept as the reference)."""
    value, unit, comparator = _lab_value(observation)
    effective = observation.get("effectiveDateTime")
    when = parse_fhir_datetime(effective) if isinstance(effective, str) else None
    if when is None:
        when = first_date(observation, "effectiveDateTime", "effectivePeriod.start", "effectiveInstant", "issued")
    flag, basis, high = _interpretation(kb, observation), "interpretation", None
    if value is not None:
        range_flag, high = _range_flag(observation, value, unit)
        if (comparator[:1], range_flag) in {(">", "low"), ("<", "high")}:
            range_flag = None
        if flag is None and range_flag is not None:
            flag, basis = range_flag, "reference-range"
    if flag is None:
        basis = "none"
        if kind == "alp" and value is not None and unit.lower() in ALP_UNITS:
            flag, basis = ("high" if value > alp_uln else "normal"), "fallback-limit"
    return LabResult(kind, when, value, unit, flag, basis, high, ref(observation), comparator=comparator)


def _same(found: Any, expected: Any) -> None:
    """Equal and spelled the same (5 == 5.0, but a fact holding 5 prints differently from one holding 5.0)."""
    assert found == expected
    assert repr(found) == repr(expected)


def _concept(code: Any = "H", system: Any = V3, display: Any = "High", text: Any = "High") -> dict[str, Any]:
    coding: dict[str, Any] = {}
    for key, value in (("system", system), ("code", code), ("display", display)):
        if value is not None:
            coding[key] = value
    concept: dict[str, Any] = {"coding": [coding]}
    if text is not None:
        concept["text"] = text
    return concept


def _bound(value: Any, unit: Any = "U/L", code: Any = "U/L") -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": code}


def usual_lab(**changes: Any) -> dict[str, Any]:
    """A lab as the bench record and real EHRs send it."""
    lab: dict[str, Any] = {
        "resourceType": "Observation", "id": "lab-1", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "6768-6", "display": "ALP"}], "text": "ALP"},
        "effectiveDateTime": "2026-06-01T08:31:00Z", "issued": "2026-06-01T11:31:00Z",
        "valueQuantity": {"value": 155.1, "unit": "U/L", "system": UCUM, "code": "U/L"},
        "interpretation": [_concept()],
        "referenceRange": [{"low": _bound(44.0), "high": _bound(147.0), "text": "44.0-147.0 U/L"}],
    }
    lab.update(changes)
    return {k: v for k, v in lab.items() if v is not None}


INTERPRETATIONS: list[Any] = [
    None, [], {}, "H", 5, [None], ["H"], [[_concept()]], _concept(), [_concept()],
    [_concept("L", text="Low")], [_concept("N", text="Normal")], [_concept("HH")], [_concept("LL")],
    [_concept("H", text="Low")], [_concept("L", text="High")], [_concept("N", text="High")],  # text disagrees
    [_concept("A", text="Abnormal")], [_concept("A", text="High")], [_concept("POS", text="Positive")],
    [_concept("A"), _concept("L", text="Low")], [_concept("H"), _concept("L")], [{}, _concept("L")],
    ["x", _concept("L")], [_concept("A", text=None, display=None), _concept("N", text=None)],
    [_concept(" H ")], [_concept("h")], [_concept("")], [_concept("   ", text="Low")], [_concept(None)],
    [_concept(5)], [_concept(True)], [_concept(["H"])], [_concept({"H": 1})], [_concept(5.0)],
    [_concept("H", system=None)], [_concept("H", system=V3 + "/")], [_concept("H", system=" " + V3)],
    [_concept("H", system="http://example.org/flags", text="Low")], [_concept("H", system=5)],
    [_concept("H", system=["x"])], [_concept("H", system="2.16.840.1.113883.5.83")],
    [_concept("H", display=5)], [_concept("H", text=5)], [_concept("H", text=["x"])],
    [_concept("H", text="  low  ")], [_concept("XX", text="High")], [_concept("XX", text="not high")],
    [_concept("XX", text=None, display="Critical low")], [{"text": "High"}], [{"text": "normal range"}],
    [{"coding": [], "text": "Low"}], [{"coding": {"system": V3, "code": "L"}, "text": "High"}],
    [{"coding": [{"system": V3, "code": "H"}, {"system": V3, "code": "L"}]}],
    [{"coding": [{"system": V3, "code": "A"}, {"system": V3, "code": "L"}]}],
    [{"coding": ["H"]}], [{"coding": [None]}], [{"coding": [[{"system": V3, "code": "H"}]]}],
    [{"code": "H", "system": V3}], [{"coding": [{"system": V3, "code": "H", "extension": [{}]}], "id": "i"}],
]


@pytest.mark.parametrize("interpretation", INTERPRETATIONS)
def test_interpretation_fast_path_gives_the_general_flag(interpretation: Any) -> None:
    lab = usual_lab(interpretation=interpretation)
    if interpretation is None:
        lab.pop("interpretation", None)
    _same(lab_result(KB, lab, "alp", 130.0), _general_lab(KB, lab, "alp", 130.0))


ODD_VALUES: list[Any] = [
    None, "", " ", "H", "h", " H ", "L", "N", "A", "U/L", "u/l", "IU/L", "mg/dL", ">", "<", ">=", ">60", "60",
    0, 1, 5, -3, 60, 147, 10 ** 400, 0.0, -0.0, 5.0, 60.0, 147.0, 155.1, float("nan"), float("inf"),
    float("-inf"), True, False, [], {}, [1], {"value": 1.0}, [{"value": 1.0}], V3, "2026-06-01", "2026-13-45",
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a part of the lab (dict keys and list indexes)."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _mutate(lab: dict[str, Any], rng: random.Random) -> None:
    """Replace, drop or add one part of the lab."""
    path = rng.choice(_paths(lab)[1:])
    parent: Any = lab
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    action = rng.random()
    if action < 0.6:
        parent[last] = copy.deepcopy(rng.choice(ODD_VALUES))
    elif action < 0.75:
        del parent[last]
    elif action < 0.85 and isinstance(parent, dict):
        parent[rng.choice(["comparator", "unit", "code", "value", "text", "high", "low", "system"])] = (
            copy.deepcopy(rng.choice(ODD_VALUES)))
    elif isinstance(parent[last], list):
        parent[last].append(copy.deepcopy(rng.choice([_concept("L", text="Low"), _bound(1.0), {}, "x"])))
    else:
        parent[last] = [parent[last]]


LAB_SHAPES: list[dict[str, Any]] = [
    usual_lab(),
    usual_lab(valueQuantity={"value": 45.0, "unit": "mL/min/1.73m2", "code": "mL/min/{1.73_m2}"},
              interpretation=[_concept("N", text="Normal")],
              referenceRange=[{"low": _bound(60.0, "mL/min/1.73m2", "mL/min/{1.73_m2}")}]),
    usual_lab(valueQuantity={"value": 60.0, "comparator": ">", "unit": "mL/min/1.73m2"}, interpretation=None,
              referenceRange=[{"low": _bound(90.0, "mL/min/1.73m2")}]),
    usual_lab(valueQuantity={"value": 0.5, "comparator": "<", "unit": "mg/dL"}, interpretation=None,
              referenceRange=[{"high": _bound(0.3, "mg/dL")}]),
    usual_lab(valueQuantity=None, valueString="> 60 mL/min/1.73m2", interpretation=None),
    usual_lab(interpretation=None, referenceRange=None),
    usual_lab(interpretation=None, referenceRange=None, valueQuantity={"value": 155.1, "code": "U/L"}),
    usual_lab(interpretation=[_concept("A", text="Abnormal")]),
    usual_lab(effectiveDateTime=None, effectivePeriod={"start": "2026-05-01"}),
    usual_lab(effectiveDateTime="yesterday"),
    usual_lab(effectiveDateTime=20260601),
    usual_lab(resourceType=None, id=None),
]


@pytest.mark.parametrize("lab", LAB_SHAPES)
@pytest.mark.parametrize("kind", ["alp", "egfr"])
def test_lab_result_gives_the_general_fact(lab: dict[str, Any], kind: str) -> None:
    _same(lab_result(KB, lab, kind, 130.0), _general_lab(KB, lab, kind, 130.0))


@pytest.mark.parametrize("seed", range(8))
def test_lab_result_gives_the_general_fact_for_mutated_labs(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(300):
        lab = copy.deepcopy(rng.choice(LAB_SHAPES))
        for _ in range(rng.randint(1, 3)):
            _mutate(lab, rng)
        kind = rng.choice(["alp", "egfr"])
        try:
            expected = _general_lab(KB, lab, kind, 130.0)
        except Exception as error:  # the general reading raised: the fast one must raise the same way
            with pytest.raises(type(error)):
                lab_result(KB, lab, kind, 130.0)
            continue
        found = lab_result(KB, lab, kind, 130.0)
        assert found == expected, json.dumps(lab, default=repr)
        assert repr(found) == repr(expected), json.dumps(lab, default=repr)


def test_the_usual_lab_is_dated_without_the_general_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    """The usual date is taken at once (so the comparisons above compare two readings of the date)."""
    expected = [lab_result(KB, lab, "alp", 130.0) for lab in LAB_SHAPES[:2]]

    def refuse(*_: Any) -> Any:
        raise AssertionError("general reading used")

    monkeypatch.setattr(obs, "first_date", refuse)
    assert [lab_result(KB, lab, "alp", 130.0) for lab in LAB_SHAPES[:2]] == expected


@pytest.mark.parametrize("value", [
    None, "absent", {"text": "Absent"}, {"text": " none "}, {"coding": [{"display": "Denies pain"}]},
    {"coding": [{"code": "x", "display": "Moderate"}], "text": "Moderate"}, {"coding": [{"display": "NO PAIN"}]},
    {"coding": [{"display": "Negative"}], "text": "Present"}, {"text": ["no "]}, {"coding": "none"}, {},
])
def test_symptom_presence_reads_the_concept_text(value: Any) -> None:
    observation = {} if value is None else {"valueCodeableConcept": value}
    text = concept_text(value).lower() if isinstance(value, dict) else ""
    assert profile(value).text == concept_text(value)
    expected = not any(word in text for word in ("absent", "negative", "no ", "none", "denies"))
    assert _present(observation) == expected
