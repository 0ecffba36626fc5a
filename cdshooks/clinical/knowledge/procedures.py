"""Building the procedure classes, their code and text indexes and the generic modality codes from
procedures.yaml."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cdshooks.clinical.knowledge.model import MODALITIES, Terminology, _ProcCode, _ProcPattern
from cdshooks.clinical.knowledge.validation import (
    _check_keys,
    _code_item,
    _compile,
    _optional_str,
    _require_list,
    _require_mapping,
    _require_str,
)
from cdshooks.clinical.knowledge.yaml_files import _Loaded

_PROCEDURE_FIELDS = {
    "display",
    "short",
    "modality",
    "dicom_modalities",
    "iodinated_contrast",
    "non_contrast_alternative",
    "source",
    "codes",
    "text_patterns",
    "combined_from",
    "refines",
    "order",
    "order_by_region",
}


@dataclass
class _ProcedureTables:
    codes: dict[tuple[str, str], _ProcCode] = field(default_factory=dict)
    patterns: list[_ProcPattern] = field(default_factory=list)
    generic: dict[tuple[str, str], str] = field(default_factory=dict)


def _build_procedures(
    loaded: _Loaded, terms: Terminology
) -> tuple[dict[str, Mapping[str, Any]], _ProcedureTables]:
    section = _require_mapping(loaded, "procedures", loaded.data.get("procedures"), "'procedures'")
    fragments = _require_mapping(
        loaded, "text_fragments", loaded.data.get("text_fragments") or {}, "text_fragments"
    )
    for fragment_name, fragment in fragments.items():
        _compile(loaded, "text_fragments", fragment)
        if not isinstance(fragment_name, str):
            raise loaded.error("text_fragments", f"fragment names must be strings (got {fragment_name!r})")
    excluded = _excluded_keys(loaded, terms)
    tables = _ProcedureTables()
    procedures: dict[str, Mapping[str, Any]] = {}
    for order, (raw_name, raw) in enumerate(section.items()):
        name = str(raw_name)
        obj = _require_mapping(loaded, name, raw, "a procedure class")
        _check_procedure(loaded, name, obj)
        for item in _require_list(loaded, name, obj.get("codes"), "codes"):
            _add_procedure_code(loaded, name, item, terms, tables, excluded)
        for item in _require_list(loaded, name, obj.get("text_patterns"), "text_patterns"):
            tables.patterns.append(_procedure_pattern(loaded, name, item, fragments, order))
        procedures[name] = obj
    _check_procedure_links(loaded, procedures)
    _add_generic_codes(loaded, terms, tables)
    tables.patterns.sort(key=lambda p: (p.priority, p.order))
    return procedures, tables


def _check_procedure(loaded: _Loaded, name: str, obj: Mapping[str, Any]) -> None:
    _check_keys(loaded, name, obj, _PROCEDURE_FIELDS, "procedure class")
    _require_str(loaded, name, obj, "display")
    _require_str(loaded, name, obj, "source")
    if obj.get("modality") not in MODALITIES:
        raise loaded.error(
            name, f"modality must be one of {sorted(MODALITIES)} (got {obj.get('modality')!r})"
        )
    if obj.get("iodinated_contrast") not in (True, False, None):
        raise loaded.error(name, "iodinated_contrast must be true, false or null")
    if not obj.get("codes") and not obj.get("text_patterns"):
        raise loaded.error(name, "a procedure class needs codes or text_patterns")
    for order_name, order in _orders(loaded, name, obj):
        order_obj = _require_mapping(loaded, name, order, order_name)
        _check_keys(loaded, name, order_obj, {"text", "codes", "cpt_pair"}, order_name)
        _require_str(loaded, name, order_obj, "text")
        for item in _require_list(loaded, name, order_obj.get("codes"), f"{order_name}.codes"):
            _code_item(loaded, name, item, set(), need_status=False)


def _orders(loaded: _Loaded, name: str, obj: Mapping[str, Any]) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    if "order" in obj:
        found.append(("order", obj["order"]))
    by_region = obj.get("order_by_region")
    if by_region is not None:
        regions = _require_mapping(loaded, name, by_region, "order_by_region")
        found.extend((f"order_by_region.{region}", order) for region, order in regions.items())
    return found


def _add_procedure_code(
    loaded: _Loaded,
    name: str,
    item: Any,
    terms: Terminology,
    tables: _ProcedureTables,
    excluded: set[tuple[str, str]],
) -> None:
    obj = _code_item(loaded, name, item, {"region", "iodinated_contrast"})
    key = terms.key(str(obj["system"]), str(obj["code"]))
    if key is None:
        raise loaded.error(name, f"code {obj['code']!r} cannot be normalised")
    if key in excluded:
        raise loaded.error(name, f"code {obj['code']!r} is listed in excluded_codes and must not be mapped")
    existing = tables.codes.get(key)
    if existing is not None and existing.procedure_class != name:
        raise loaded.error(name, f"code {obj['code']!r} is already mapped to {existing.procedure_class}")
    contrast = obj.get("iodinated_contrast")
    if contrast not in (True, False, None):
        raise loaded.error(name, f"code {obj['code']!r}: iodinated_contrast must be true, false or null")
    tables.codes[key] = _ProcCode(name, _optional_str(loaded, name, obj, "region"), contrast)


def _procedure_pattern(
    loaded: _Loaded, name: str, item: Any, fragments: Mapping[str, str], order: int
) -> _ProcPattern:
    obj = _require_mapping(loaded, name, item, "a text pattern")
    _check_keys(loaded, name, obj, {"pattern", "priority", "region"}, "text pattern")
    priority = obj.get("priority", 100)
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise loaded.error(name, f"priority must be an integer (got {priority!r})")
    regex = _compile(loaded, name, obj.get("pattern"), fragments)
    return _ProcPattern(priority, order, regex, name, _optional_str(loaded, name, obj, "region"))


def _check_procedure_links(loaded: _Loaded, procedures: Mapping[str, Mapping[str, Any]]) -> None:
    for name, obj in procedures.items():
        parts = _require_list(loaded, name, obj.get("combined_from"), "combined_from")
        refines = obj.get("refines")
        alternative = obj.get("non_contrast_alternative")
        if alternative is not None and (alternative not in procedures
                                        or procedures[alternative].get("iodinated_contrast") is not False):
            raise loaded.error(name, f"non_contrast_alternative {alternative!r} must be a known class without "
                                     "iodinated contrast")
        for other in [*parts, *([refines] if refines is not None else [])]:
            if other not in procedures or other == name:
                raise loaded.error(name, f"refers to unknown procedure class {other!r}")


def _proc_parts(procedures: Mapping[str, Mapping[str, Any]]) -> dict[str, frozenset[str]]:
    """Every class's transitive parts (MRI_CAP -> MRI_CHEST, MRI_ABDOMEN_PELVIS, MRI_ABDOMEN, MRI_PELVIS)."""
    result: dict[str, frozenset[str]] = {}
    for name, entry in procedures.items():
        seen: set[str] = set()
        pending = list(entry.get("combined_from") or ())
        while pending:
            part = pending.pop()
            if part not in seen:
                seen.add(part)
                pending.extend(procedures[part].get("combined_from") or ())
        result[name] = frozenset(seen)
    return result


def _excluded_keys(loaded: _Loaded, terms: Terminology) -> set[tuple[str, str]]:
    keys: set[tuple[str, str]] = set()
    for item in _require_list(loaded, "excluded_codes", loaded.data.get("excluded_codes"), "excluded_codes"):
        obj = _require_mapping(loaded, "excluded_codes", item, "an excluded code")
        _check_keys(loaded, "excluded_codes", obj, {"system", "code", "display", "reason"}, "excluded code")
        _require_str(loaded, "excluded_codes", obj, "reason")
        key = terms.key(
            _require_str(loaded, "excluded_codes", obj, "system"),
            _require_str(loaded, "excluded_codes", obj, "code"),
        )
        if key:
            keys.add(key)
    return keys


def _add_generic_codes(loaded: _Loaded, terms: Terminology, tables: _ProcedureTables) -> None:
    entry = "generic_modality_codes"
    for item in _require_list(loaded, entry, loaded.data.get(entry), entry):
        obj = _code_item(loaded, entry, item, {"modality"})
        if obj.get("modality") not in MODALITIES:
            raise loaded.error(entry, f"code {obj['code']!r}: modality must be one of {sorted(MODALITIES)}")
        key = terms.key(str(obj["system"]), str(obj["code"]))
        if key in tables.codes:
            raise loaded.error(entry, f"code {obj['code']!r} is also a procedure-class code")
        if key:
            tables.generic[key] = str(obj["modality"])
