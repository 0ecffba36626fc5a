"""The knowledge model: coding systems and allowed values, KnowledgeError, Terminology, value sets and the
results and index entries that Knowledge answers with."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

from cdshooks.fhir.codes import Coding, profile

CPT = "http://www.ama-assn.org/go/cpt"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"

PROCEDURE_SYSTEM_ORDER: tuple[str, ...] = (CPT, LOINC, SNOMED)
_SYSTEM_LABELS: Mapping[str, str] = MappingProxyType({CPT: "cpt", LOINC: "loinc", SNOMED: "snomed"})
CODE_STATUSES = frozenset({"V-IG", "V-REF", "C", "UNVERIFIED"})
PARAMETER_STATUSES = frozenset({"DESIGN DEFAULT", "SOURCED", "UNVERIFIED", "LOCAL OVERRIDE"})
DRUG_CLASSES = frozenset({"chemotherapy", "her2", "endocrine", "cdk46", "bone-modifying"})
ACR_CATEGORIES = frozenset({"usually-appropriate", "may-be-appropriate", "usually-not-appropriate"})
MODALITIES = frozenset({"NM", "CT", "PT", "MR", "XR"})

_NEGATION_RE = re.compile(
    r"\b(no|not|denies|denied|denying|negative for|without|r/o|rule out|ruled out|absence of|absent|free of|"
    r"never had|no evidence of|no history of)\b",
    re.IGNORECASE,
)
_CLAUSE_BREAK_RE = re.compile(r"[.;:,\n|]|\bbut\b|\bhowever\b", re.IGNORECASE)
_NEGATION_WINDOW = 40


class KnowledgeError(ValueError):
    """The knowledge files are missing, malformed or inconsistent; the message names the file and entry."""


# --------------------------------------------------------------------------------------------- terminology


KEY_CACHE_SIZE = 50_000  # bounded: a remote party controls the codes it sends


@dataclass(frozen=True)
class Terminology:
    """Normalises (system, code) pairs so that equal codes compare equal however an EHR spells them.

    Systems: aliases (HL7 OIDs, WHO ICD-10) map to the canonical URIs; a trailing "/" is ignored.
    Codes: trimmed and case-folded; ICD-10-CM codes also lose their dot ("C50.911" == "C50911").
    """

    aliases: Mapping[str, str] = field(default_factory=dict)
    # (system, code) as sent -> normalised key: records repeat the same codings, normalised once per process
    _keys: dict[tuple[str | None, str | None], tuple[str, str] | None] = field(
        default_factory=dict, repr=False, compare=False, hash=False)

    def system(self, system: str | None) -> str | None:
        if not isinstance(system, str) or not system.strip():
            return None
        cleaned = system.strip().rstrip("/")
        return self.aliases.get(cleaned.casefold(), cleaned)

    def code(self, system: str | None, code: str | None) -> str | None:
        if not isinstance(code, str) or not code.strip():
            return None
        cleaned = code.strip().casefold()
        return cleaned.replace(".", "") if system == ICD10CM else cleaned

    def key(self, system: str | None, code: str | None) -> tuple[str, str] | None:
        try:
            return self._keys[(system, code)]
        except KeyError:
            pass
        except TypeError:  # an unhashable value where a string belongs: normalise without caching
            return self._key(system, code)
        found = self._key(system, code)
        if len(self._keys) >= KEY_CACHE_SIZE:
            self._keys.clear()
        self._keys[(system, code)] = found
        return found

    def _key(self, system: str | None, code: str | None) -> tuple[str, str] | None:
        canonical = self.system(system)
        normalized = self.code(canonical, code)
        if canonical is None or normalized is None:
            return None
        return canonical, normalized


def _negated(text: str, start: int) -> bool:
    """True when a negation word precedes position ``start`` within the same clause."""
    window = text[max(0, start - _NEGATION_WINDOW) : start]
    breaks = list(_CLAUSE_BREAK_RE.finditer(window))
    if breaks:
        window = window[breaks[-1].end() :]
    return _NEGATION_RE.search(window) is not None


# --------------------------------------------------------------------------------------------- value sets


@dataclass(frozen=True)
class CodeEntry:
    """One code of a value set, as listed in valuesets.yaml."""

    system: str
    code: str
    display: str
    status: str
    kind: str | None = None


@dataclass(frozen=True)
class PrefixEntry:
    """A code prefix (e.g. ICD-10-CM "C50.") standing for every code that starts with it."""

    system: str
    prefix: str
    status: str
    kind: str | None = None


@dataclass(frozen=True)
class TextPattern:
    """A case-insensitive regex for the name fallback, with the sub-kind it signals (if any)."""

    regex: re.Pattern[str]
    kind: str | None = None


TEXT_CACHE_SIZE = 4096  # distinct texts remembered per value set
_VALUESET_TOKENS = itertools.count(1)


@dataclass(frozen=True)
class ValueSet:
    """A named set of codes (exact or by prefix) with a text fallback; see valuesets.yaml."""

    name: str
    description: str = ""
    source: str = ""
    codes: tuple[CodeEntry, ...] = ()
    prefixes: tuple[PrefixEntry, ...] = ()
    text_patterns: tuple[TextPattern, ...] = ()
    exclude_patterns: tuple[re.Pattern[str], ...] = ()
    terminology: Terminology = field(default_factory=Terminology, repr=False, compare=False)
    _index: Mapping[tuple[str, str], str | None] = field(default_factory=dict, repr=False, compare=False)
    _prefix_index: Mapping[str, tuple[tuple[str, str | None], ...]] = field(
        default_factory=dict, repr=False, compare=False
    )
    # text -> matching patterns: records repeat the same displays, so the regexes run once per text
    _text_cache: dict[str, tuple[TextPattern, ...]] = field(default_factory=dict, repr=False, compare=False)
    # this value set's key in a concept profile's memo (never reused, unlike id()); `text_kinds` keeps its answer
    # under -token, `matches_codings` under (token, "codings")
    _token: int = field(default_factory=lambda: next(_VALUESET_TOKENS), repr=False, compare=False)

    @cached_property
    def _codings_key(self) -> tuple[int, str]:
        return (self._token, "codings")

    def _coding_hit(self, system: str | None, code: str | None) -> tuple[bool, str | None]:
        key = self.terminology.key(system, code)
        if key is None:
            return False, None
        if key in self._index:
            return True, self._index[key]
        for prefix, kind in self._prefix_index.get(key[0], ()):
            if key[1].startswith(prefix):
                return True, kind
        return False, None

    def matches_coding(self, system: str | None, code: str | None) -> bool:
        """Exact code, or a code under one of the prefixes (ICD-10 compared without dots)."""
        return self._coding_hit(system, code)[0]

    def matches_codings(self, concept: Any) -> bool:
        """Any coding of the concept matches (`matches_coding`; no text fallback), once per concept profile."""
        read = profile(concept)
        found: bool | None = read.memo.get(self._codings_key)
        if found is None:
            found = read.memo[self._codings_key] = any(self._coding_hit(system, code)[0]
                                                       for system, code, _ in read.codings)
        return found

    def matches_text(self, text: str | None) -> bool:
        """Any text pattern found in ``text`` and not negated in its clause ("no weight loss" is no match)."""
        return bool(self._text_hits(text))

    def matches(self, concept: Any) -> bool:
        """A CodeableConcept (or Coding, or list of them): any coding matches, else the text fallback on
        ``text`` and coding displays."""
        read = profile(concept)  # `self._result(concept)[0]` in one frame: asked about every resource of a call
        found: tuple[bool, frozenset[str]] | None = read.memo.get(self._token)
        if found is None:
            found = read.memo[self._token] = self._evaluate(read.codings, read.text)
        return found[0]

    def kinds(self, concept: Any) -> frozenset[str]:
        """Sub-kinds (e.g. "headache", "alt", "stage-4") of the matching codes, else of the matching text."""
        return self._result(concept)[1]

    def text_kinds(self, concept: Any) -> frozenset[str]:
        """Sub-kinds of the concept's text alone (a coded concept's text can qualify its code)."""
        read = profile(concept)
        found: frozenset[str] | None = read.memo.get(-self._token)
        if found is None:
            found = frozenset(p.kind for p in self._text_hits(read.text) if p.kind)
            read.memo[-self._token] = found
        return found

    def _result(self, concept: Any) -> tuple[bool, frozenset[str]]:
        """(matches, kinds) of a concept, computed once per concept profile (equal concepts share one)."""
        read = profile(concept)
        found: tuple[bool, frozenset[str]] | None = read.memo.get(self._token)
        if found is None:
            found = self._evaluate(read.codings, read.text)
            read.memo[self._token] = found
        return found

    def _evaluate(self, codings_: tuple[Coding, ...], text: str) -> tuple[bool, frozenset[str]]:
        coded: set[str] = set()
        any_hit = False
        for system, code, _ in codings_:
            hit, kind = self._coding_hit(system, code)
            any_hit = any_hit or hit
            if hit and kind:
                coded.add(kind)
        if any_hit:
            return True, frozenset(coded)
        hits = self._text_hits(text)
        return bool(hits), frozenset(p.kind for p in hits if p.kind)

    def _text_hits(self, text: str | None) -> tuple[TextPattern, ...]:
        if not text:
            return ()
        cached = self._text_cache.get(text)
        if cached is not None:
            return cached
        hits: tuple[TextPattern, ...] = ()
        if not any(p.search(text) for p in self.exclude_patterns):
            hits = tuple(pattern for pattern in self.text_patterns
                         if any(not _negated(text, m.start()) for m in pattern.regex.finditer(text)))
        if len(self._text_cache) >= TEXT_CACHE_SIZE:
            self._text_cache.clear()
        self._text_cache[text] = hits
        return hits


# --------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Medication:
    """What a medication concept is: its ingredient and drug class."""

    ingredient: str
    drug_class: str
    osteoporosis_dose: bool = False


@dataclass(frozen=True)
class AcrEntry:
    """One row of the ACR table (acr_table.yaml) with its Argonaut pama-rating code."""

    procedure_class: str
    category: str
    rrl: str
    rrl_msv: str
    source: str
    pama_rating: str
    acr_wording: str = ""
    notes: str = ""
    rated_as: str | None = None  # a region of a survey row: the survey class whose rating it takes (rates_parts)


@dataclass(frozen=True)
class ProcedureMatch:
    """How an imaging concept was classified."""

    procedure_class: str
    modality: str
    region: str | None = None
    iodinated_contrast: bool | None = None
    matched_by: str = "code"


@dataclass(frozen=True)
class _ProcCode:
    procedure_class: str
    region: str | None
    iodinated_contrast: bool | None


@dataclass(frozen=True)
class _ProcPattern:
    priority: int
    order: int
    regex: re.Pattern[str]
    procedure_class: str
    region: str | None


@dataclass(frozen=True)
class _MedInfo:
    drug_class: str
    continuous: bool = False  # taken every day (oral) or as a depot: an order is exposure over its whole period
    oncology_patterns: tuple[re.Pattern[str], ...] = ()
    osteoporosis_patterns: tuple[re.Pattern[str], ...] = ()
