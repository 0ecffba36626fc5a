"""Helpers every extractor shares: status checks, dates, references, labels. Never raise on odd data."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Set
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from cdshooks.fhir.codes import ConceptProfile, parse_fhir_datetime, profile, remembered_datetime

if TYPE_CHECKING:
    from cdshooks.clinical.knowledge import Knowledge, Medication

T = TypeVar("T")

Resource = dict[str, Any]

EXCLUDED_VERIFICATION = {"refuted", "entered-in-error"}
ACTIVE_CLINICAL = {"active", "recurrence", "relapse"}
UNUSABLE_STATUS = {"entered-in-error", "cancelled", "preliminary", "registered", "unknown"}


def status(resource: Resource) -> str | None:
    """The resource's `status` code, or None when absent or not a string (odd data must not raise)."""
    value = resource.get("status")
    return value if isinstance(value, str) else None


def ref(resource: Resource) -> str:
    return f"{resource.get('resourceType', '?')}/{resource.get('id', '?')}"


def cached(concept: Any, key: Hashable, compute: Callable[[ConceptProfile], T]) -> T:
    """`compute(profile)` once per distinct concept and `key` (a key names the question and the Knowledge asked:
    equal concepts share one profile, see `cdshooks.fhir.codes.profile`)."""
    read = profile(concept)
    try:
        found: T = read.memo[key]
    except KeyError:
        found = read.memo[key] = compute(read)
    return found


ObservationCodes = dict[int, ConceptProfile]
"""The profile of every Observation's `code`, by the Observation's `id()`: read once per call and handed to every
extractor that asks (labs, imaging findings). Keyed by identity, so built per call from the record that holds the
Observations (alive for the whole call) and never kept."""


def observation_codes(observations: tuple[Resource, ...]) -> ObservationCodes:
    """`profile(observation["code"])` for every Observation of the call (see `ObservationCodes`)."""
    return {id(o): profile(o.get("code")) for o in observations if isinstance(o, dict)}


def code_of(observation: Resource, codes: ObservationCodes | None) -> ConceptProfile:
    """The Observation's code profile: from `codes` when it was read for this call, else read now."""
    found = codes.get(id(observation)) if codes is not None else None
    return found if found is not None else profile(observation.get("code"))


def medication_of(kb: Knowledge, concept: Any) -> Medication | None:
    """`kb.medication(concept)`, once per distinct concept."""
    return cached(concept, (kb, "medication"), kb.medication)


def procedure_class_of(kb: Knowledge, concept: Any) -> str | None:
    """`kb.procedure_class(concept)`, once per distinct concept."""
    return cached(concept, (kb, "procedure_class"), kb.procedure_class)


def status_codes(concept: Any) -> frozenset[str]:
    """The codes of a status concept (verificationStatus, clinicalStatus), as `codings()` reads them."""
    if concept is None:
        return _NO_CODES
    return cached(concept, "status-codes", _codes)


def _only_code(concept: Any) -> str | None:
    """The code of a one-coding CodeableConcept whose code is a string, stripped ("" when blank), as `codings()`
    reads it: the usual status concept answered without a concept profile. None for any other shape (then
    `status_codes` reads it)."""
    if type(concept) is dict:
        coding = concept.get("coding")
        if type(coding) is list and len(coding) == 1 and type(item := coding[0]) is dict:
            code = item.get("code")
            if type(code) is str:
                return code.strip()
    return None


def has_status(concept: Any, wanted: Set[str]) -> bool:
    """`bool(status_codes(concept) & wanted)`: whether the concept carries one of the `wanted` codes."""
    code = _only_code(concept)
    if code is not None:
        return code in wanted  # "" (a blank code, dropped by `codings()`) is never wanted
    return concept is not None and bool(status_codes(concept) & wanted)


def _codes(read: ConceptProfile) -> frozenset[str]:
    return frozenset(code for _, code, _ in read.codings if code)


_NO_CODES: frozenset[str] = frozenset()


def verified(resource: Resource) -> bool:
    """False for refuted or entered-in-error records (Condition.verificationStatus, or a status field)."""
    verification = resource.get("verificationStatus")
    if verification is not None and has_status(verification, EXCLUDED_VERIFICATION):
        return False
    return resource.get("status") != "entered-in-error"


def clinically_active(resource: Resource) -> bool:
    """Active, recurrence or relapse; an absent clinicalStatus counts as active unless abated."""
    concept = resource.get("clinicalStatus")
    code = _only_code(concept)
    if code:
        return code in ACTIVE_CLINICAL
    codes = status_codes(concept) if code is None else _NO_CODES
    if codes:
        return bool(codes & ACTIVE_CLINICAL)
    return not any(resource.get(k) for k in ("abatementDateTime", "abatementPeriod", "abatementString",
                                             "abatementAge", "abatementRange"))


def first_date(resource: Resource, *paths: str) -> datetime | None:
    """The first parseable date among dotted paths (e.g. "effectivePeriod.start"). Each path is split once per
    process (`_PATHS`: the paths are literals of this code, a bounded set), and a path whose first key is absent,
    the usual case, costs one lookup: every extractor dates every resource of every call here."""
    if not isinstance(resource, dict):
        return None
    for path in paths:
        try:
            head, rest = _PATHS[path]
        except KeyError:
            head, *parts = path.split(".")
            head, rest = _PATHS[path] = (head, tuple(parts))
        value: Any = resource.get(head)
        if value is None:
            continue
        for part in rest:
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str):
            # a date read before is one lookup (`remembered_datetime`); anything else is read (or is no date)
            moment = remembered_datetime(value) or parse_fhir_datetime(value)
            if moment is not None:
                return moment
    return None


_PATHS: dict[str, tuple[str, tuple[str, ...]]] = {}


def label_of(concept: Any, fallback: str) -> str:
    """A short human label: the concept text, else the first coding display."""
    if isinstance(concept, dict) and isinstance(concept.get("text"), str) and concept["text"].strip():
        return concept["text"].strip()[:80]
    for _, _, display in profile(concept).codings:
        if display:
            return display[:80]
    return fallback


def site_text(resource: Resource) -> str | None:
    """The body sites' texts (`profile(...).text`, i.e. `concept_text`), joined by "; " and cut at 120 characters;
    None when there is none."""
    sites = resource.get("bodySite")
    if sites is None:
        return None
    # the usual shapes, one CodeableConcept (an Observation's bodySite) or a list of one (a Condition's): its text
    # alone, as the join of one text reads it
    if type(sites) is dict:
        return profile(sites).text[:120] or None
    if type(sites) is list and len(sites) == 1 and type(site := sites[0]) is dict:
        return profile(site).text[:120] or None
    if isinstance(sites, dict):
        sites = [sites]
    if not isinstance(sites, list):
        return None
    texts = [profile(s).text for s in sites if isinstance(s, dict)]
    joined = "; ".join(t for t in texts if t)
    return joined[:120] or None


def as_list(value: Any) -> list[Any]:
    """A FHIR repeating element as a list: a list as is, a lone object wrapped, anything else empty."""
    return value if isinstance(value, list) else [value] if isinstance(value, dict) else []


def as_dict(value: Any) -> dict[str, Any]:
    """A FHIR complex element as a dict; anything else (odd data) as an empty one."""
    return value if isinstance(value, dict) else {}


def concepts(value: Any) -> list[Any]:
    """A CodeableConcept or a list of them, as a list."""
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    return [value] if isinstance(value, dict) else []
