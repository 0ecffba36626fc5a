"""Building the medication indexes (codes, names, drug classes, dose patterns) from medications.yaml."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from cdshooks.clinical.knowledge.knowledge import _normalize_name
from cdshooks.clinical.knowledge.model import Terminology, _MedInfo
from cdshooks.clinical.knowledge.schema import MedicationsFile, MedicationShape
from cdshooks.clinical.knowledge.validation import _patterns, validate
from cdshooks.clinical.knowledge.yaml_files import _Loaded


@dataclass
class _MedicationTables:
    codes: dict[tuple[str, str], tuple[str, bool | None]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    infos: dict[str, _MedInfo] = field(default_factory=dict)


def _build_medications(loaded: _Loaded, terms: Terminology) -> _MedicationTables:
    shape = validate(loaded, MedicationsFile)
    tables = _MedicationTables()
    for raw_name, medication in shape.medications.items():
        name = raw_name.strip().casefold()
        _add_medication_codes(loaded, name, medication, terms, tables)
        _add_medication_names(loaded, name, medication, tables)
        tables.infos[name] = _MedInfo(
            drug_class=medication.drug_class,
            continuous=medication.exposure == "continuous",
            oncology_patterns=_patterns(medication.oncology_dose_patterns),
            osteoporosis_patterns=_patterns(medication.osteoporosis_dose_patterns),
        )
    return tables


def _add_medication_codes(
    loaded: _Loaded, name: str, medication: MedicationShape, terms: Terminology, tables: _MedicationTables
) -> None:
    codes = [medication.ingredient_code] if medication.ingredient_code is not None else []
    for code in [*codes, *medication.products]:
        key = terms.key(code.system, code.code)
        if key is None:
            raise loaded.error(name, f"code {code.code!r} cannot be normalised")
        if key in tables.codes and tables.codes[key][0] != name:
            raise loaded.error(name, f"code {code.code!r} is already mapped to {tables.codes[key][0]}")
        tables.codes[key] = (name, code.osteoporosis_dose)


def _add_medication_names(loaded: _Loaded, name: str, medication: MedicationShape, tables: _MedicationTables) -> None:
    for alias in medication.names:
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
