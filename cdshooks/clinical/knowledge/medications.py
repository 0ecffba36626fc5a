"""Building the medication indexes (codes, names, drug classes, dose patterns) from medications.yaml."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cdshooks.clinical.knowledge.knowledge import _normalize_name
from cdshooks.clinical.knowledge.model import DRUG_CLASSES, Terminology, _MedInfo
from cdshooks.clinical.knowledge.validation import (
    _check_keys,
    _code_item,
    _pattern_list,
    _require_list,
    _require_mapping,
    _require_str,
)
from cdshooks.clinical.knowledge.yaml_files import _Loaded


@dataclass
class _MedicationTables:
    codes: dict[tuple[str, str], tuple[str, bool | None]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    infos: dict[str, _MedInfo] = field(default_factory=dict)


_MEDICATION_FIELDS = {
    "class",
    "source",
    "ingredient_code",
    "products",
    "names",
    "oncology_dose_patterns",
    "osteoporosis_dose_patterns",
    "exposure",
}
EXPOSURES = {"doses", "continuous"}


def _build_medications(loaded: _Loaded, terms: Terminology) -> _MedicationTables:
    classes = _require_mapping(loaded, "drug_classes", loaded.data.get("drug_classes"), "'drug_classes'")
    unknown = set(classes) - DRUG_CLASSES
    if unknown:
        raise loaded.error("drug_classes", f"unknown drug class(es) {sorted(unknown)}")
    section = _require_mapping(loaded, "medications", loaded.data.get("medications"), "'medications'")
    tables = _MedicationTables()
    for raw_name, raw in section.items():
        name = str(raw_name).strip().casefold()
        obj = _require_mapping(loaded, name, raw, "a medication")
        _check_keys(loaded, name, obj, _MEDICATION_FIELDS, "medication")
        _require_str(loaded, name, obj, "source")
        if obj.get("class") not in DRUG_CLASSES:
            raise loaded.error(
                name, f"class must be one of {sorted(DRUG_CLASSES)} (got {obj.get('class')!r})"
            )
        _add_medication_codes(loaded, name, obj, terms, tables)
        _add_medication_names(loaded, name, obj, tables)
        exposure = obj.get("exposure", "doses")
        if exposure not in EXPOSURES:
            raise loaded.error(name, f"exposure must be one of {sorted(EXPOSURES)} (got {exposure!r})")
        tables.infos[name] = _MedInfo(
            drug_class=str(obj["class"]),
            continuous=exposure == "continuous",
            oncology_patterns=_pattern_list(loaded, name, obj.get("oncology_dose_patterns")),
            osteoporosis_patterns=_pattern_list(loaded, name, obj.get("osteoporosis_dose_patterns")),
        )
    return tables


def _add_medication_codes(
    loaded: _Loaded, name: str, obj: Mapping[str, Any], terms: Terminology, tables: _MedicationTables
) -> None:
    items = _require_list(loaded, name, obj.get("products"), "products")
    if obj.get("ingredient_code") is not None:
        items = [obj["ingredient_code"], *items]
    for item in items:
        code = _code_item(loaded, name, item, {"osteoporosis_dose"})
        dose = code.get("osteoporosis_dose")
        if dose not in (True, False, None):
            raise loaded.error(name, f"code {code['code']!r}: osteoporosis_dose must be true or false")
        key = terms.key(str(code["system"]), str(code["code"]))
        if key is None:
            raise loaded.error(name, f"code {code['code']!r} cannot be normalised")
        if key in tables.codes and tables.codes[key][0] != name:
            raise loaded.error(name, f"code {code['code']!r} is already mapped to {tables.codes[key][0]}")
        tables.codes[key] = (name, dose)


def _add_medication_names(
    loaded: _Loaded, name: str, obj: Mapping[str, Any], tables: _MedicationTables
) -> None:
    names = _require_list(loaded, name, obj.get("names"), "names")
    if not names:
        raise loaded.error(name, "a medication needs at least one name for the text fallback")
    for alias in names:
        if not isinstance(alias, str) or not alias.strip():
            raise loaded.error(name, f"names must be non-empty strings (got {alias!r})")
        normalized = _normalize_name(alias)
        owner = tables.names.get(normalized)
        if owner is not None and owner != name:
            raise loaded.error(name, f"name {alias!r} is already used by {owner}")
        tables.names[normalized] = name


def _names_regex(names: Iterable[str]) -> re.Pattern[str] | None:
    alternatives = sorted(set(names), key=len, reverse=True)
    if not alternatives:
        return None
    parts = [r"[\s-]+".join(re.escape(token) for token in alias.split(" ")) for alias in alternatives]
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(parts) + r")(?![a-z0-9])", re.IGNORECASE)
