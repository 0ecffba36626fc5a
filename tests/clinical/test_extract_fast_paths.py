"""The extractors' fast paths answer exactly what the general reading answers, odd data included."""

from __future__ import annotations

from typing import Any

import pytest

from cdshooks.clinical.extract.common import (
    ACTIVE_CLINICAL,
    EXCLUDED_VERIFICATION,
    clinically_active,
    has_status,
    status_codes,
    verified,
)
from cdshooks.clinical.extract.observations import _range_flag

STATUS_CONCEPTS: list[Any] = [
    None,
    {"coding": [{"code": "refuted"}]},
    {"coding": [{"code": " entered-in-error "}]},
    {"coding": [{"code": "confirmed"}], "text": "Confirmed"},
    {"coding": [{"code": ""}]},
    {"coding": [{"code": "   ", "display": "Active"}]},
    {"coding": [{"code": 5}]},
    {"coding": [{"code": True}]},
    {"coding": [{"code": ["active"]}]},
    {"coding": [{"display": "Active"}]},
    {"coding": [{"code": "active"}, {"code": "refuted"}]},
    {"coding": [{"code": "relapse"}]},
    {"coding": [{"code": "resolved"}]},
    {"coding": {"code": "active"}},
    {"coding": ["active"]},
    {"coding": []},
    {"code": "active"},
    {"text": "Active"},
    [{"coding": [{"code": "active"}]}],
    "active",
    7,
]


@pytest.mark.parametrize("concept", STATUS_CONCEPTS)
def test_status_fast_paths_match_the_concept_codes(concept: Any) -> None:
    for wanted in (EXCLUDED_VERIFICATION, ACTIVE_CLINICAL):
        assert has_status(concept, wanted) == (concept is not None and bool(status_codes(concept) & wanted))
    codes = status_codes(concept)
    for abated in ({}, {"abatementDateTime": "2024-01-01"}):
        expected = bool(codes & ACTIVE_CLINICAL) if codes else not abated
        assert clinically_active({"clinicalStatus": concept, **abated}) == expected
    expected_verified = not (concept is not None and codes & EXCLUDED_VERIFICATION)
    assert verified({"verificationStatus": concept}) == expected_verified


def _quantity(value: Any, unit: Any = None, code: Any = None) -> dict[str, Any]:
    found: dict[str, Any] = {"value": value}
    if unit is not None:
        found["unit"] = unit
    if code is not None:
        found["code"] = code
    return found


@pytest.mark.parametrize(
    ("ranges", "value", "unit", "expected"),
    [
        ([{"low": _quantity(44.0, "U/L"), "high": _quantity(147.0, "U/L")}], 155.1, "U/L", ("high", 147.0)),
        ([{"low": _quantity(44.0, "u/l"), "high": _quantity(147.0, "U/L")}], 30.0, "U/L", ("low", 147.0)),
        ([{"low": _quantity(44.0, "IU/L"), "high": _quantity(147.0, "U/L")}], 50.0, "U/L", (None, None)),
        ([{"high": _quantity(147, code="U/L")}], 50.0, "u/l", ("normal", 147.0)),
        ([{"high": _quantity("147", unit=5)}], 50.0, "U/L", (None, None)),
        ([{"high": _quantity(147.0, unit=5)}], 50.0, "5", ("normal", 147.0)),
        ([{"high": _quantity(147.0, unit="")}], 50.0, "U/L", ("normal", 147.0)),
        ([{"high": {}, "low": _quantity(10.0)}], 5.0, "U/L", ("low", None)),
        ([{"high": _quantity(float("inf"), "U/L")}, {"high": _quantity(20.0, "U/L")}], 50.0, "U/L", ("high", 20.0)),
        ([{"high": "147"}, "odd", {"low": [1]}], 50.0, "", (None, None)),
        ([{"high": _quantity(True, "U/L")}], 50.0, "", (None, None)),
        ("not a list", 50.0, "U/L", (None, None)),
    ],
)
def test_range_flag_reads_odd_bounds(ranges: Any, value: float, unit: str, expected: tuple[Any, Any]) -> None:
    assert _range_flag({"referenceRange": ranges}, value, unit) == expected
