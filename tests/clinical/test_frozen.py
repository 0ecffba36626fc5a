"""quick_init: the cheaper constructor of the facts' frozen dataclasses builds the same objects."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, make_dataclass
from typing import Any

import pytest

from cdshooks.clinical.facts import LabResult, PatientFacts
from cdshooks.clinical.frozen import quick_init


def _fields() -> list[tuple[str, type, Any]]:
    """The same fields for both classes (fresh Field objects each time: a dataclass takes ownership of them)."""
    return [("a", int, field()), ("b", str, field(default="x")), ("c", tuple, field(default_factory=tuple)),
            ("d", list, field(default_factory=list, compare=False))]


_Plain = make_dataclass("_Plain", _fields(), frozen=True)
_Quick = quick_init(make_dataclass("_Quick", _fields(), frozen=True))


def test_same_attributes_defaults_and_factories() -> None:
    for args, kwargs in [((1,), {}), ((1, "y"), {}), ((1,), {"c": (2,)}), ((), {"a": 3, "d": [1]})]:
        plain, quick = _Plain(*args, **kwargs), _Quick(*args, **kwargs)
        assert vars(plain) == vars(quick)
        assert list(vars(plain)) == list(vars(quick))
    assert _Quick(1).d is not _Quick(1).d  # a fresh default per instance, as dataclasses gives


def test_still_frozen_hashable_and_replaceable() -> None:
    lab = LabResult("alp", None, 155.1, "U/L", "high", "interpretation", 147.0, "Observation/1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        lab.value = 1.0  # type: ignore[misc]
    assert lab == LabResult("alp", None, 155.1, "U/L", "high", "interpretation", 147.0, "Observation/1")
    assert hash(lab) == hash(dataclasses.replace(lab))
    assert dataclasses.replace(lab, value=2.0).value == 2.0
    assert repr(lab).startswith("LabResult(kind='alp', when=None, value=155.1")
    with pytest.raises(TypeError):
        LabResult("alp")  # type: ignore[call-arg]


def test_refuses_what_it_cannot_build() -> None:
    @dataclass(frozen=True)
    class KeywordOnly:
        a: int = field(kw_only=True)

    @dataclass
    class Mutable:
        a: int

    for cls in (KeywordOnly, Mutable):
        with pytest.raises(TypeError):
            quick_init(cls)


def test_facts_keep_their_cached_lookups_per_instance() -> None:
    from datetime import UTC, datetime
    now = datetime(2026, 6, 1, tzinfo=UTC)
    lab = LabResult("alp", datetime(2026, 5, 1, tzinfo=UTC), 155.1, "U/L", "high", "interpretation")
    facts = PatientFacts(now=now, labs=(lab,))
    assert facts.latest_lab("alp") is lab and facts.latest_lab("alp", 10) is None
    assert dataclasses.replace(facts, labs=()).latest_lab("alp") is None
