"""Small, tolerant helpers for reading plain FHIR JSON (dicts): codings, text, dates, references, quantities.

Generic FHIR only — no clinical knowledge lives here. Every helper accepts odd or missing shapes and returns
an empty / ``None`` result instead of raising: EHR data are messy, and odd data must mean fewer cards, not
errors.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

Coding = tuple[str | None, str | None, str | None]
"""(system, code, display) of one FHIR Coding; each part is a stripped non-empty string or None."""

_DATETIME_RE = re.compile(
    r"^(?P<year>\d{4})"
    r"(?:-(?P<month>\d{2})"
    r"(?:-(?P<day>\d{2})"
    r"(?:[T ](?P<hour>\d{2}):(?P<minute>\d{2})"
    r"(?::(?P<second>\d{2})(?:\.(?P<fraction>\d+))?)?"
    r"(?P<tz>Z|[+-]\d{2}:?\d{2})?"
    r")?)?)?$"
)


def _clean(value: Any) -> str | None:
    """A stripped non-empty string, or None for anything else."""
    if isinstance(value, str):
        stripped = value.strip()
        return stripped or None
    return None


MAX_LIST_NESTING = 4  # lists inside lists read for concepts and paths (FHIR has none): deeper odd data is skipped,
# never recursed into (prefetch resources may nest as deep as the JSON parser allows, cdshooks.http.body)


def _flattened(value: Any, depth: int = 0) -> Iterator[Any]:
    """The value itself, or the items of a list (lists inside it flattened, up to MAX_LIST_NESTING levels)."""
    if not isinstance(value, list):
        yield value
    elif depth < MAX_LIST_NESTING:
        for item in value:
            yield from _flattened(item, depth + 1)


def _coding_dicts(concept: Any) -> Iterator[dict[str, Any]]:
    """The Coding dicts of a CodeableConcept, a bare Coding, or a list of either."""
    for item in _flattened(concept):
        if not isinstance(item, dict):
            continue
        coding = item.get("coding")
        if isinstance(coding, list):
            yield from (c for c in coding if isinstance(c, dict))
        elif isinstance(coding, dict):
            yield coding
        elif "code" in item or "system" in item:
            yield item


@dataclass(frozen=True)
class ConceptProfile:
    """A concept read once (its codings and its text), for matching against many value sets: `codings()` and
    `concept_text()` accept it in place of the concept. `memo` holds what matchers computed from it (value-set
    results, keyed by the matcher); it is not part of the profile's value."""

    codings: tuple[Coding, ...]
    text: str
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False, hash=False)


PROFILE_CACHE_SIZE = 20_000  # distinct concepts remembered per process (bounded: a remote party sends them)


class _ProfileMemory(dict[tuple[str | None, ...], ConceptProfile]):
    """The remembered profiles by `concept_key`. Emptying it also empties its front index `_BY_TEXT` (which may only
    hold what it holds), whoever empties it: the bench's cold row forgets profiles this way."""

    __slots__ = ()

    def clear(self) -> None:
        super().clear()
        _BY_TEXT.clear()


_PROFILES = _ProfileMemory()
_NO_CONCEPT = ConceptProfile((), "")


def concept_key(concept: Any) -> tuple[str | None, ...] | None:
    """What `codings()` and `concept_text()` read of a CodeableConcept, as a hashable key: its text and each
    coding's (system, code, display). None for any other shape or a non-string value (read without caching)."""
    if type(concept) is not dict:
        return None
    coding = concept.get("coding")
    if type(coding) is list and len(coding) == 1 and type(item := coding[0]) is dict:  # the usual shape
        text, system, code, display = concept.get("text"), item.get("system"), item.get("code"), item.get("display")
        if ((text is None or type(text) is str) and (system is None or type(system) is str)
                and (code is None or type(code) is str) and (display is None or type(display) is str)):
            return text, system, code, display
        return None
    text = concept.get("text")
    if text is not None and type(text) is not str:
        return None
    if coding is None:
        return None if ("code" in concept or "system" in concept) else (text,)
    if type(coding) is not list:
        return None
    parts: list[str | None] = [text]
    for item in coding:
        if type(item) is not dict:
            return None
        system, code, display = item.get("system"), item.get("code"), item.get("display")
        if ((system is not None and type(system) is not str) or (code is not None and type(code) is not str)
                or (display is not None and type(display) is not str)):
            return None
        parts += (system, code, display)
    return tuple(parts)


def profile(concept: Any) -> ConceptProfile:
    """The concept's profile. Records repeat the same concepts (every lab of one test, every "confirmed"
    verification status), so a CodeableConcept is read once per process: equal concepts share one profile
    (and so what was matched on it)."""
    if type(concept) is dict:  # the usual shape first
        try:
            front = _BY_TEXT.get(concept.get("text"))
        except TypeError:  # an unhashable text: odd data
            front = None
        if front is not None and front[0] == concept:  # equal to a concept met before (see `_BY_TEXT`)
            return front[1]
        coding = concept.get("coding")  # one coding, looked up before its parts are checked: a hit is equal to
        if type(coding) is list and len(coding) == 1 and type(item := coding[0]) is dict:  # a checked key
            try:
                found = _PROFILES.get((concept.get("text"), item.get("system"), item.get("code"), item.get("display")))
            except TypeError:  # an unhashable part: odd data, read below without the cache
                found = None
            if found is not None:
                if front is None:
                    _remember_plain(concept, found)
                return found
    elif type(concept) is ConceptProfile:
        return concept
    elif concept is None:  # an absent element
        return _NO_CONCEPT
    key = concept_key(concept)
    if key is None:
        return ConceptProfile(tuple(codings(concept)), concept_text(concept))
    found = _PROFILES.get(key)
    if found is None:
        found = ConceptProfile(tuple(codings(concept)), concept_text(concept))
        if len(_PROFILES) >= PROFILE_CACHE_SIZE:
            _PROFILES.clear()
        _PROFILES[key] = found
    elif type(concept) is dict and concept.get("text") not in _BY_TEXT:  # met before: remember it in the front
        _remember_plain(concept, found)  # (several codings, or none: read with `concept_key`'s loop until now)
    return found


# A plain concept met before, by its text: a copy of it and its profile. A concept equal to the copy (dict equality,
# compared in C) has the same text and the same codings' systems, codes and displays in the same order, so the same
# `concept_key` and the same profile; finding it costs one lookup and no hashing of a fresh key tuple (a record's
# strings are new every call, their hashes not cached). Most concepts have one coding; an imaging order's code often
# has two (CPT and LOINC). The first plain concept of a text keeps the entry (two concepts sharing a text do not take
# turns evicting each other). Filled only from `_PROFILES` hits and emptied with it, so bounded by it; copies hold
# only text and the codings' systems, codes and displays (strings or None: `concept_key` accepted them).
_BY_TEXT: dict[str | None, tuple[dict[str, Any], ConceptProfile]] = {}
_PLAIN_CONCEPT = frozenset(("coding", "text"))
_PLAIN_CODING = frozenset(("system", "code", "display"))
MAX_PLAIN_CODINGS = 8  # codings of a concept remembered in `_BY_TEXT` (a copy stays small)


def _remember_plain(concept: dict[str, Any], found: ConceptProfile) -> None:
    """Remember a concept `_PROFILES` knows (`found`: its `concept_key` was read) in `_BY_TEXT`, when it holds
    nothing but its text and a list of codings that hold nothing but their system, code and display."""
    coding = concept.get("coding")
    if (concept.keys() <= _PLAIN_CONCEPT and type(coding) is list and len(coding) <= MAX_PLAIN_CODINGS
            and all(type(item) is dict and item.keys() <= _PLAIN_CODING for item in coding)):
        _BY_TEXT[concept.get("text")] = {**concept, "coding": [dict(item) for item in coding]}, found


def codings(concept: Any) -> list[Coding]:
    """(system, code, display) for every coding of a CodeableConcept (or a Coding, or a list of either).

    Codings with neither a code nor a display are dropped; numbers given as codes are turned into strings.
    """
    if isinstance(concept, ConceptProfile):
        return list(concept.codings)
    result: list[Coding] = []
    for coding in _coding_dicts(concept):
        raw_code = coding.get("code")
        if isinstance(raw_code, int | float) and not isinstance(raw_code, bool):
            raw_code = str(raw_code)
        system, code, display = _clean(coding.get("system")), _clean(raw_code), _clean(coding.get("display"))
        if code is None and display is None:
            continue
        result.append((system, code, display))
    return result


def _texts(concept: Any) -> Iterator[str]:
    for item in _flattened(concept):
        if isinstance(item, dict):
            text = _clean(item.get("text"))
            if text:
                yield text
        for _, _, display in codings(item):
            if display:
                yield display


def concept_text(concept: Any) -> str:
    """CodeableConcept.text followed by the coding displays, de-duplicated, joined by " | " ("" when none)."""
    if isinstance(concept, ConceptProfile):
        return concept.text
    seen: list[str] = []
    for text in _texts(concept):
        if text.casefold() not in (s.casefold() for s in seen):
            seen.append(text)
    return " | ".join(seen)


def _parse_offset(tz: str | None) -> timezone:
    if tz is None or tz == "Z":
        return UTC
    sign = -1 if tz[0] == "-" else 1
    digits = tz[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 14 or minutes > 59:
        raise ValueError(f"bad offset {tz}")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _from_match(match: re.Match[str]) -> datetime:
    parts = match.groupdict()
    fraction = (parts["fraction"] or "0")[:6].ljust(6, "0")
    value = datetime(
        int(parts["year"]),
        int(parts["month"] or 1),
        int(parts["day"] or 1),
        int(parts["hour"] or 0),
        int(parts["minute"] or 0),
        int(parts["second"] or 0),
        int(fraction),
        tzinfo=_parse_offset(parts["tz"]),
    )
    return value.astimezone(UTC)


DATE_CACHE_SIZE = 50_000  # date strings remembered with their instant, per process (bounded)
_DATES: dict[str, datetime | None] = {}


def parse_fhir_datetime(value: Any) -> datetime | None:
    """A FHIR date / dateTime / instant as a timezone-aware UTC datetime, or None.

    Partial dates give their first instant ("2024" -> 2024-01-01T00:00Z, "2024-03" -> 2024-03-01T00:00Z);
    a date alone is midnight UTC; a time without an offset is read as UTC. Python ``date`` / ``datetime``
    values are accepted too (naive datetimes are taken as UTC). Anything unparseable gives None; never raises.
    """
    if type(value) is str:  # the usual case; every hook call about a patient repeats the same dates
        try:
            return _DATES[value]
        except KeyError:
            pass
        found = _parse_text(value)
        if len(_DATES) >= DATE_CACHE_SIZE:
            _DATES.clear()
        _DATES[value] = found
        return found
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return _parse_text(value)


remembered_datetime = _DATES.get
"""The instant `parse_fhir_datetime` read from a date string before (None when it has not, or the string is no
date): one dict lookup for the extractors that read a date of every resource of every call, which fall back to
`parse_fhir_datetime` on None."""


def _parse_text(value: Any) -> datetime | None:
    text = _clean(value)
    if text is None:
        return None
    match = _DATETIME_RE.match(text)
    if match is None:
        return None
    try:
        return _from_match(match)
    except (ValueError, OverflowError):
        return None


def get_path(obj: Any, path: str, _lists: int = 0) -> Any:
    """The first non-None value at a dotted path ("dosageInstruction.timing.repeat.boundsPeriod.start").

    Lists met on the way are searched element by element, so repeating elements need no index (lists inside lists
    up to MAX_LIST_NESTING levels).
    """
    if not path:
        return obj
    head, _, rest = path.partition(".")
    if isinstance(obj, list):
        if _lists >= MAX_LIST_NESTING:
            return None
        for item in obj:
            found = get_path(item, path, _lists + 1)
            if found is not None:
                return found
        return None
    if not isinstance(obj, dict):
        return None
    return get_path(obj.get(head), rest) if head in obj else None


def _as_datetime(value: Any, *, end: bool) -> datetime | None:
    """A dateTime string, or a Period's start (end when ``end``) as a UTC datetime."""
    if isinstance(value, dict):
        return parse_fhir_datetime(value.get("end" if end else "start"))
    return parse_fhir_datetime(value)


def first_datetime(resource: Any, *paths: str) -> datetime | None:
    """The first of ``paths`` (dotted) holding a parseable date/dateTime/instant or a Period (its start)."""
    for path in paths:
        found = _as_datetime(get_path(resource, path), end=False)
        if found is not None:
            return found
    return None


def period_start(resource: Any, *paths: str) -> datetime | None:
    """Start of the first Period / dateTime at ``paths`` (dotted); with no paths the value is the Period."""
    if not paths:
        return _as_datetime(resource, end=False)
    return first_datetime(resource, *paths)


def period_end(resource: Any, *paths: str) -> datetime | None:
    """End of the first Period found at ``paths`` (a bare dateTime counts as its own end)."""
    if not paths:
        return _as_datetime(resource, end=True)
    for path in paths:
        found = _as_datetime(get_path(resource, path), end=True)
        if found is not None:
            return found
    return None


_CHOICE_SUFFIXES = ("DateTime", "Instant", "Date", "Period")


def choice_datetime(resource: Any, prefix: str, *, end: bool = False) -> datetime | None:
    """The instant of a FHIR choice element such as ``effective[x]``, ``onset[x]``, ``occurrence[x]``.

    Tries ``<prefix>DateTime``, ``<prefix>Instant``, ``<prefix>Date`` and ``<prefix>Period`` (its start, or
    its end when ``end``).
    """
    if not isinstance(resource, dict):
        return None
    for suffix in _CHOICE_SUFFIXES:
        found = _as_datetime(resource.get(prefix + suffix), end=end)
        if found is not None:
            return found
    return None


def reference_id(ref_obj: Any) -> str | None:
    """The "Type/id" of a Reference dict or reference string; absolute URLs and ``_history`` are reduced.

    Contained ("#x") and ``urn:`` references are returned unchanged; anything else unusable gives None.
    """
    raw = _clean(ref_obj.get("reference")) if isinstance(ref_obj, dict) else _clean(ref_obj)
    if raw is None:
        return None
    if raw.startswith(("#", "urn:")):
        return raw
    segments = [s for s in raw.split("?")[0].split("/") if s]
    if "_history" in segments:
        segments = segments[: segments.index("_history")]
    if len(segments) < 2:
        return None
    return f"{segments[-2]}/{segments[-1]}"


def quantity_value(q: Any) -> float | None:
    """Quantity.value as a finite float (numeric strings accepted), or None."""
    raw = q.get("value") if isinstance(q, dict) else q
    if type(raw) is float:  # the usual JSON number: float() would return it as is
        return raw if math.isfinite(raw) else None
    if isinstance(raw, bool) or raw is None:
        return None
    try:
        number = float(raw)
    except (TypeError, ValueError, OverflowError):  # OverflowError: a JSON integer beyond any float (10**400)
        return None
    return number if math.isfinite(number) else None
