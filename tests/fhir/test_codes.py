"""Generic FHIR JSON helpers: codings, text, dates, references, quantities."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from cdshooks.fhir.codes import (
    choice_datetime,
    codings,
    concept_text,
    first_datetime,
    get_path,
    parse_fhir_datetime,
    period_end,
    period_start,
    profile,
    quantity_value,
    reference_id,
)

SCT = "http://snomed.info/sct"


# ---------------------------------------------------------------------------------------------- codings


def test_codings_of_a_codeable_concept() -> None:
    concept = {
        "coding": [
            {"system": SCT, "code": "12584003", "display": "Bone pain (finding)"},
            {"system": " http://loinc.org ", "code": " 6768-6 "},
        ],
        "text": "bone pain",
    }
    assert codings(concept) == [
        (SCT, "12584003", "Bone pain (finding)"),
        ("http://loinc.org", "6768-6", None),
    ]


@pytest.mark.parametrize(
    ("concept", "expected"),
    [
        (None, []),
        ("C50.911", []),
        ({}, []),
        ({"text": "only text"}, []),
        ({"coding": "not a list"}, []),
        ({"coding": [None, 3, "x", {}]}, []),
        ({"coding": [{"system": SCT}]}, []),
        ({"coding": {"system": SCT, "code": "1"}}, [(SCT, "1", None)]),
        ({"system": SCT, "code": "94222008"}, [(SCT, "94222008", None)]),
        ({"coding": [{"code": 3639}]}, [(None, "3639", None)]),
        ({"coding": [{"code": True, "display": "x"}]}, [(None, None, "x")]),
        ({"coding": [{"system": "", "code": "  ", "display": "Bone scan"}]}, [(None, None, "Bone scan")]),
    ],
)
def test_codings_tolerates_odd_shapes(concept: object, expected: list[tuple[str | None, ...]]) -> None:
    assert codings(concept) == expected


def test_codings_flattens_a_list_of_concepts() -> None:
    reason_codes = [
        {"coding": [{"system": SCT, "code": "12584003"}]},
        {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C50.911"}]},
    ]
    assert [code for _, code, _ in codings(reason_codes)] == ["12584003", "C50.911"]


def test_concept_text_joins_text_and_displays_without_duplicates() -> None:
    concept = {
        "text": "Bone scan",
        "coding": [
            {"system": "x", "code": "1", "display": "bone scan"},
            {"system": "y", "code": "2", "display": "NM Whole body Bone Views"},
        ],
    }
    assert concept_text(concept) == "Bone scan | NM Whole body Bone Views"


@pytest.mark.parametrize("concept", [None, {}, {"text": "   "}, [], 42])
def test_concept_text_is_empty_for_nothing(concept: object) -> None:
    assert concept_text(concept) == ""


# ---------------------------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-03", datetime(2024, 3, 1, tzinfo=UTC)),
        ("2024-03-15", datetime(2024, 3, 15, tzinfo=UTC)),
        ("2024-03-15T10:20:30Z", datetime(2024, 3, 15, 10, 20, 30, tzinfo=UTC)),
        ("2024-03-15T10:20:30.123456789Z", datetime(2024, 3, 15, 10, 20, 30, 123456, tzinfo=UTC)),
        ("2024-03-15T10:20:30+02:00", datetime(2024, 3, 15, 8, 20, 30, tzinfo=UTC)),
        ("2024-03-15T23:30:00-05:00", datetime(2024, 3, 16, 4, 30, tzinfo=UTC)),
        ("2024-03-15T10:20:30", datetime(2024, 3, 15, 10, 20, 30, tzinfo=UTC)),
        ("2024-03-15T10:20Z", datetime(2024, 3, 15, 10, 20, tzinfo=UTC)),
        ("  2025-02-20 ", datetime(2025, 2, 20, tzinfo=UTC)),
    ],
)
def test_parse_fhir_datetime(value: str, expected: datetime) -> None:
    parsed = parse_fhir_datetime(value)
    assert parsed == expected
    assert parsed is not None and parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "yesterday",
        "2024-13",
        "2024-02-30",
        "2024-03-15T25:00:00Z",
        "2024-03-15T10:20:30+15:00",
        "24-03-15",
        "2024/03/15",
        "2024-03-15T10:20:30Zjunk",
        20240315,
        ["2024"],
        {"start": "2024"},
    ],
)
def test_parse_fhir_datetime_gives_none_for_garbage(value: object) -> None:
    assert parse_fhir_datetime(value) is None


def test_parse_fhir_datetime_accepts_python_values() -> None:
    naive = datetime(2024, 5, 1, 12, 0)
    aware = datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert parse_fhir_datetime(naive) == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert parse_fhir_datetime(aware) == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert parse_fhir_datetime(date(2024, 5, 1)) == datetime(2024, 5, 1, tzinfo=UTC)


def test_get_path_searches_lists() -> None:
    request = {
        "dosageInstruction": [
            {"text": "no timing"},
            {"timing": {"repeat": {"boundsPeriod": {"start": "2018-04-01"}}}},
        ]
    }
    assert get_path(request, "dosageInstruction.timing.repeat.boundsPeriod.start") == "2018-04-01"
    assert get_path(request, "dosageInstruction.missing") is None
    assert get_path("not a dict", "a.b") is None


def test_first_datetime_and_period_helpers() -> None:
    admin = {"effectivePeriod": {"start": "2025-02-20T09:00:00Z", "end": "2025-02-20T11:00:00Z"}}
    assert first_datetime(admin, "effectiveDateTime", "effectivePeriod") == datetime(
        2025, 2, 20, 9, tzinfo=UTC
    )
    assert period_start(admin, "effectivePeriod") == datetime(2025, 2, 20, 9, tzinfo=UTC)
    assert period_end(admin, "effectivePeriod") == datetime(2025, 2, 20, 11, tzinfo=UTC)
    assert period_start({"start": "2024"}) == datetime(2024, 1, 1, tzinfo=UTC)
    assert period_end({"start": "2024"}) is None
    assert first_datetime({"effectiveDateTime": "garbage"}, "effectiveDateTime") is None


def test_choice_datetime() -> None:
    assert choice_datetime({"onsetDateTime": "2025-01-02"}, "onset") == datetime(2025, 1, 2, tzinfo=UTC)
    assert choice_datetime(
        {"issuedInstant": "x", "effectiveInstant": "2025-01-02T03:04:05Z"}, "effective"
    ) == (datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC))
    period = {"occurrencePeriod": {"start": "2025-01-01", "end": "2025-01-31"}}
    assert choice_datetime(period, "occurrence") == datetime(2025, 1, 1, tzinfo=UTC)
    assert choice_datetime(period, "occurrence", end=True) == datetime(2025, 1, 31, tzinfo=UTC)
    assert choice_datetime({"onsetString": "childhood"}, "onset") is None
    assert choice_datetime(None, "onset") is None


# ---------------------------------------------------------------------------------------------- references


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ({"reference": "Patient/123"}, "Patient/123"),
        ("Patient/123", "Patient/123"),
        ({"reference": "https://fhir.example.org/r4/Patient/123"}, "Patient/123"),
        ({"reference": "Patient/123/_history/4"}, "Patient/123"),
        ({"reference": "#contained-1"}, "#contained-1"),
        ({"reference": "urn:uuid:1234"}, "urn:uuid:1234"),
        ({"reference": "Patient"}, None),
        ({"display": "Jane"}, None),
        ({"reference": 5}, None),
        (None, None),
    ],
)
def test_reference_id(ref: object, expected: str | None) -> None:
    assert reference_id(ref) == expected


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ({"value": 240, "unit": "U/L"}, 240.0),
        ({"value": 2.5}, 2.5),
        ({"value": "31.5"}, 31.5),
        ({"value": "high"}, None),
        ({"value": True}, None),
        ({"value": float("nan")}, None),
        ({"value": float("inf")}, None),
        ({"value": 10**400}, None),  # a JSON integer beyond any float: no number, no error
        ({"unit": "U/L"}, None),
        (None, None),
        (7, 7.0),
    ],
)
def test_quantity_value(quantity: object, expected: float | None) -> None:
    assert quantity_value(quantity) == expected


def test_profile_of_odd_parts_is_read_without_the_cache() -> None:
    """The cache is looked up before a concept's parts are checked: unhashable or non-string parts must still be
    read as `codings` and `concept_text` read them, never raise, and never share a string-coded concept's profile."""
    text_coded = profile({"coding": [{"system": "http://loinc.org", "code": "6768", "display": "ALP"}]})
    number_coded = profile({"coding": [{"system": "http://loinc.org", "code": 6768, "display": "ALP"}]})
    assert number_coded.codings == text_coded.codings == (("http://loinc.org", "6768", "ALP"),)
    assert number_coded is not text_coded  # a number code is read afresh (not cached)
    listed = profile({"coding": [{"system": "http://loinc.org", "code": ["6768"], "display": "ALP"}], "text": "x"})
    assert listed.codings == (("http://loinc.org", None, "ALP"),) and listed.text == "x | ALP"
    unhashable_text = profile({"coding": [{"code": "H"}], "text": {"div": "High"}})
    assert unhashable_text.codings == ((None, "H", None),) and unhashable_text.text == ""
    assert profile({"coding": [{"system": "s", "code": "H", "display": "High"}], "text": "High"}) is profile(
        {"text": "High", "coding": [{"display": "High", "code": "H", "system": "s"}]})


def test_profile_front_index_answers_what_the_full_key_answers() -> None:
    """`_BY_TEXT` finds a plain concept met before by equality with a copy of it: concepts that share a text but
    differ anywhere else keep their own profiles, a concept changed after it was remembered does not change what is
    remembered, and emptying the profiles empties the front too (as the bench's cold row does)."""
    from cdshooks.fhir import codes

    def plain(code: object = "H", text: object = "Shared text", display: object = "High") -> dict[str, object]:
        return {"coding": [{"system": "s", "code": code, "display": display}], "text": text}

    first = profile(plain())
    assert profile(plain()) is first and profile(plain()) is first  # the second call fills the front, the third uses it
    assert codes._BY_TEXT
    other_code = profile(plain(code="L"))
    assert other_code is not first and other_code.codings == (("s", "L", "High"),)
    assert profile(plain(display="Low")).codings == (("s", "H", "Low"),)
    assert profile(plain(code=7)).codings == (("s", "7", "High"),)
    extra = {**plain(), "id": "x"}  # not plain: found by its key, the same profile
    assert profile(extra) is first and profile(extra) is first
    remembered = plain()
    assert profile(remembered) is first
    remembered["coding"][0]["code"] = "L"  # type: ignore[index]
    assert profile(plain()) is first and profile(remembered) is other_code
    codes._PROFILES.clear()
    assert not codes._BY_TEXT
    again = profile(plain())
    assert again is not first and again == first


def _nested(value: object, levels: int) -> object:
    for _ in range(levels):
        value = [value]
    return value


def test_lists_inside_lists_are_read_a_few_levels_deep_and_never_recursed_past() -> None:
    concept = {"coding": [{"system": "http://loinc.org", "code": "6768-6", "display": "ALP"}], "text": "ALP"}
    assert codings(_nested(concept, 3)) == [("http://loinc.org", "6768-6", "ALP")]
    assert concept_text(_nested(concept, 3)) == "ALP"
    assert get_path({"a": _nested({"b": "x"}, 3)}, "a.b") == "x"
    bomb = _nested(concept, 100_000)  # far past the interpreter's recursion limit: skipped, no RecursionError
    assert codings(bomb) == [] and concept_text(bomb) == ""
    assert get_path({"a": _nested({"b": "x"}, 100_000)}, "a.b") is None
