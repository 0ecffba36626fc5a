"""Facts from Observations: labs (with an abnormal flag), receptor results, symptoms, coded stage."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from math import isfinite
from typing import Any

from cdshooks.clinical.extract.common import (
    EXCLUDED_VERIFICATION,
    ObservationCodes,
    Resource,
    concepts,
    first_date,
    has_status,
    label_of,
    ref,
    site_text,
)
from cdshooks.clinical.extract.conditions import parse_stage, symptom_kinds
from cdshooks.clinical.facts import LabResult, LabSeries, Receptor, Symptom
from cdshooks.clinical.knowledge import Knowledge
from cdshooks.fhir.codes import (
    ConceptProfile,
    concept_text,
    profile,
    quantity_value,
    remembered_datetime,
)

# order matters where texts overlap: corrected and ionised calcium before total calcium, albumin after them
LAB_SETS = (("VS_LAB_ALP", "alp"), ("VS_LAB_EGFR", "egfr"), ("VS_LAB_CREATININE", "creatinine"),
            ("VS_LAB_CALCIUM_CORRECTED", "calcium-corrected"), ("VS_LAB_CALCIUM_IONISED", "calcium-ionised"),
            ("VS_LAB_CALCIUM", "calcium"), ("VS_LAB_ALBUMIN", "albumin"))
RECEPTOR_SETS = (("VS_ER_TEST", "er"), ("VS_PR_TEST", "pr"), ("VS_HER2_TEST", "her2"))
ALP_UNITS = {"u/l", "iu/l", "[iu]/l", "u/l.", "units/l", "unit/l"}
UNUSABLE = {"entered-in-error", "cancelled", "registered"}


@dataclass
class ObservationFacts:
    labs: LabSeries = field(default_factory=LabSeries)
    receptors: list[Receptor] = field(default_factory=list)
    symptoms: list[Symptom] = field(default_factory=list)
    stage: str | None = None


def lab_kind(kb: Knowledge, code: Any) -> str | None:
    for name, kind in LAB_SETS:
        if kb.valueset(name).matches(code):
            return kind
    if kb.valueset("VS_LAB_LFT").matches(code):
        kinds = kb.valueset("VS_LAB_LFT").kinds(code) & {"alt", "ast", "bilirubin"}
        return sorted(kinds)[0] if kinds else None
    return None


def _interpretation(kb: Knowledge, observation: Resource) -> str | None:
    """The flag ("high", "low", "normal") of the first interpretation concept that has one (the general reading:
    each concept's `VS_INTERPRETATION` kinds, once per concept profile)."""
    value = observation.get("interpretation")
    if value is None:
        return None
    key = (kb, "interpretation-flag")
    for concept in (value if isinstance(value, list) else (value,)):  # the CodeableConcepts (`concepts`), in order
        if not isinstance(concept, dict):
            continue
        read = profile(concept)
        try:
            flag = read.memo[key]
        except KeyError:
            flag = read.memo[key] = _flag(kb, read)
        if flag is not None:
            return flag
    return None


def _flag(kb: Knowledge, concept: ConceptProfile) -> str | None:
    kinds = kb.valueset("VS_INTERPRETATION").kinds(concept)
    return next((kind for kind in ("high", "low", "normal") if kind in kinds), None)


def _range_flag(observation: Resource, value: float, unit: str) -> tuple[str | None, float | None]:
    """(flag, upper limit) from the first reference range with a bound; (None, None) when a bound is stated in
    another unit or no range has a bound."""
    ranges = observation.get("referenceRange")
    if not isinstance(ranges, list):
        return None, None
    unit_lower = unit.lower()
    for item in ranges:
        if not isinstance(item, dict):
            continue
        high_value, high_other = _bound(item.get("high"), unit, unit_lower)
        low_value, low_other = _bound(item.get("low"), unit, unit_lower)
        if high_other or low_other:
            return None, None  # a bound in another unit: no comparison
        if high_value is not None and value > high_value:
            return "high", high_value
        if low_value is not None and value < low_value:
            return "low", high_value
        if high_value is not None or low_value is not None:
            return "normal", high_value
    return None, None


def _value(quantity: dict[str, Any]) -> float | None:
    """`quantity_value(quantity)`, with a finite float value (a lab's usual JSON number) taken at once: a reference
    range and a lab value are read for every lab of every call."""
    raw = quantity.get("value")
    return raw if type(raw) is float and isfinite(raw) else quantity_value(quantity)


def _bound(quantity: Any, unit: str, unit_lower: str) -> tuple[float | None, bool]:
    """(value, stated in another unit) of a reference-range bound: a Quantity dict; anything else is no bound.
    The unit is compared case-insensitively, only when the result has one and the bound is not empty. The usual
    bound repeats the result's unit exactly, which settles it without `lower()`."""
    if not isinstance(quantity, dict):
        return None, False
    number = _value(quantity)
    if not unit or not quantity:
        return number, False
    bound_unit = quantity.get("unit") or quantity.get("code") or ""
    if type(bound_unit) is not str:  # odd data (a number, a list): compared as its text
        bound_unit = str(bound_unit)
    return number, bool(bound_unit) and bound_unit != unit and bound_unit.lower() != unit_lower


_BOUND = re.compile(r"^\s*(>=|<=|=>|=<|>|<|≥|≤)?\s*(\d+(?:[.,]\d+)?)\s*([A-Za-z/.()\[\]{}^0-9_ ]*)$")
_COMPARATORS = {">=": ">=", "=>": ">=", "≥": ">=", "<=": "<=", "=<": "<=", "≤": "<=", ">": ">", "<": "<"}


def _lab_value(observation: Resource) -> tuple[float | None, str, str]:
    """(value, unit, comparator) of a lab result: valueQuantity (with its comparator), else a valueString such as
    ">60" or "> 60 mL/min/1.73m2" as labs report eGFR above the reportable range. A bound reads as its number:
    ">60" is 60 with comparator ">" (above 60, never low)."""
    quantity = observation.get("valueQuantity")
    if isinstance(quantity, dict) and quantity:
        comparator = found if isinstance(found := quantity.get("comparator"), str) else ""
        number = _value(quantity)
        unit = quantity.get("unit") or quantity.get("code") or ""
        return number, (unit if type(unit) is str else str(unit)), comparator
    text = observation.get("valueString")
    match = _BOUND.match(text) if isinstance(text, str) and len(text) < 60 else None
    if match is None:
        return None, "", ""
    return float(match.group(2).replace(",", ".")), match.group(3).strip(), _COMPARATORS.get(match.group(1) or "", "")


def lab_result(kb: Knowledge, observation: Resource, kind: str, alp_uln: float) -> LabResult:
    """The lab fact of an Observation: its date (`lab_when`) and the rest (`lab_fact`)."""
    return lab_fact(kb, observation, kind, lab_when(observation), alp_uln)


def lab_when(observation: Resource) -> datetime | None:
    """A lab's date: the first of effectiveDateTime, effectivePeriod.start, effectiveInstant and issued. Every lab
    of every call is dated, so a remembered effectiveDateTime (the usual place) is taken without the general walk."""
    effective = observation.get("effectiveDateTime")
    when = remembered_datetime(effective) if type(effective) is str else None
    if when is not None:
        return when
    return first_date(observation, "effectiveDateTime", "effectivePeriod.start", "effectiveInstant", "issued")


def lab_fact(kb: Knowledge, observation: Resource, kind: str, when: datetime | None, alp_uln: float) -> LabResult:
    """The lab fact of an Observation dated `when` (`lab_when`): value, interpretation, reference range. Only the
    labs a rule asks for are read here (`LabSeries`)."""
    value, unit, comparator = _lab_value(observation)
    flag, basis, high = _interpretation(kb, observation), "interpretation", None
    if value is not None:
        range_flag, high = _range_flag(observation, value, unit)
        if (comparator[:1], range_flag) in {(">", "low"), ("<", "high")}:
            range_flag = None  # ">60" against a low limit of 90 says neither low nor normal
        if flag is None and range_flag is not None:
            flag, basis = range_flag, "reference-range"
    if flag is None:
        basis = "none"
        if kind == "alp" and value is not None and unit.lower() in ALP_UNITS:
            flag, basis = ("high" if value > alp_uln else "normal"), "fallback-limit"
    return LabResult(kind, when, value, unit, flag, basis, high, ref(observation), comparator=comparator)


def receptor_status(kb: Knowledge, observation: Resource) -> str | None:
    value = observation.get("valueCodeableConcept")
    text = observation.get("valueString") if isinstance(observation.get("valueString"), str) else None
    concept = value if isinstance(value, dict) else ({"text": text} if text else None)
    if concept is not None:
        if kb.valueset("VS_RECEPTOR_NEGATIVE").matches(concept):
            return "negative"
        if kb.valueset("VS_RECEPTOR_POSITIVE").matches(concept):
            return "positive"
        if "equivocal" in concept_text(concept).lower():
            return "equivocal"
    interp = {k for c in concepts(observation.get("interpretation"))
              for k in kb.valueset("VS_INTERPRETATION").kinds(c)}
    if "negative" in interp:
        return "negative"
    if "positive" in interp:
        return "positive"
    return None


def _present(observation: Resource) -> bool:
    """A symptom observation asserts presence unless its value says no."""
    if observation.get("valueBoolean") is False:
        return False
    value = observation.get("valueCodeableConcept")
    text = profile(value).text.lower() if isinstance(value, dict) else ""  # `concept_text`, once per concept
    return not any(word in text for word in ("absent", "negative", "no ", "none", "denies"))


def _classify(kb: Knowledge, code: Any) -> tuple[str, Any] | None:
    """What an Observation code is: ("lab", kind), ("receptor", kind), ("symptom", (kind, subkind)) or None."""
    kind = lab_kind(kb, code)
    if kind is not None:
        return "lab", kind
    receptor = next((k for name, k in RECEPTOR_SETS if kb.valueset(name).matches(code)), None)
    if receptor is not None:
        return "receptor", receptor
    symptom = symptom_kinds(kb, code)
    if symptom is not None:
        return "symptom", symptom
    return None


def extract_observations(kb: Knowledge, observations: tuple[Resource, ...], alp_uln: float,
                         codes: ObservationCodes | None = None) -> ObservationFacts:
    # each lab is dated now and read in full only when a rule asks for it (`LabSeries`)
    out = ObservationFacts(LabSeries(partial(lab_fact, kb, alp_uln=alp_uln)))
    if codes is None:
        codes = {}
    key = (kb, "observation-kind")
    labs = out.labs
    for observation in observations:
        # `verified` and `status(...) in UNUSABLE` (which holds entered-in-error), read once
        verification = observation.get("verificationStatus")
        if verification is not None and has_status(verification, EXCLUDED_VERIFICATION):
            continue
        state = observation.get("status")
        if isinstance(state, str) and state in UNUSABLE:
            continue
        # the code's profile: read once per call (kept in `codes` for the imaging extractor), classified once per
        # distinct code
        code = codes[id(observation)] = profile(observation.get("code"))
        try:
            found = code.memo[key]
        except KeyError:
            found = code.memo[key] = _classify(kb, code)
        if found is None:
            if "stage" in code.text.lower():
                out.stage = out.stage or parse_stage(concept_text(observation.get("valueCodeableConcept")))
            continue
        what, kind = found
        if what == "lab":
            labs.add(kind, lab_when(observation), observation)
        elif what == "receptor":
            when = first_date(observation, "effectiveDateTime", "effectivePeriod.start", "issued")
            out.receptors.append(Receptor(kind, when, receptor_status(kb, observation), ref(observation)))
        else:
            kind, subkind = kind
            effective = first_date(observation, "effectiveDateTime", "effectivePeriod.start")
            when = effective or first_date(observation, "issued")
            label = label_of(observation.get("code"), kind)
            out.symptoms.append(Symptom(kind, label, when, _present(observation), None,
                                        site_text(observation), ref(observation), subkind,
                                        "effective" if effective else ("recorded" if when else "none")))
    return out

