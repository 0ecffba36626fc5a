"""Building the ACR table (acr_table.yaml) and the rule parameters (parameters.yaml)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from cdshooks.clinical.knowledge.model import ACR_CATEGORIES, PARAMETER_STATUSES, AcrEntry
from cdshooks.clinical.knowledge.validation import _check_keys, _require_mapping, _require_str
from cdshooks.clinical.knowledge.yaml_files import _Loaded


def _build_acr(loaded: _Loaded, procedures: Mapping[str, Any]) -> dict[str, AcrEntry]:
    scenario = _require_mapping(loaded, "scenario", loaded.data.get("scenario"), "'scenario'")
    for key in ("topic", "wording", "version", "source"):
        _require_str(loaded, "scenario", scenario, key)
    if not isinstance(scenario.get("variant"), int | str):
        raise loaded.error("scenario", "'variant' is required")
    pama = _require_mapping(loaded, "pama_rating", loaded.data.get("pama_rating"), "'pama_rating'")
    _require_str(loaded, "pama_rating", pama, "system")
    categories = _require_mapping(loaded, "pama_rating", pama.get("categories"), "pama_rating.categories")
    ratings: dict[str, str] = {}
    for category in ACR_CATEGORIES:
        cat = _require_mapping(
            loaded, "pama_rating", categories.get(category), f"pama_rating.categories.{category}"
        )
        ratings[category] = _require_str(loaded, "pama_rating", cat, "code")
        _require_str(loaded, "pama_rating", cat, "provenance")
    no_rating = _require_mapping(loaded, "pama_rating", pama.get("no_rating"), "pama_rating.no_rating")
    _require_str(loaded, "pama_rating", no_rating, "code")
    rows = _require_mapping(loaded, "rows", loaded.data.get("rows"), "'rows'")
    table = {str(cls): _acr_row(loaded, str(cls), raw, procedures, ratings) for cls, raw in rows.items()}
    for cls, raw in rows.items():
        # one region of a listed survey (MRI chest alone) is rated as part of that survey (issue 10)
        for part in raw.get("rates_parts") or ():
            if part not in procedures or part in table:
                raise loaded.error(str(cls), f"rates_parts: {part!r} is unknown or has its own row")
            table[str(part)] = replace(table[str(cls)], procedure_class=str(part), rated_as=str(cls))
    return table


def _acr_row(
    loaded: _Loaded, cls: str, raw: Any, procedures: Mapping[str, Any], ratings: Mapping[str, str]
) -> AcrEntry:
    obj = _require_mapping(loaded, cls, raw, "an ACR row")
    allowed = {"acr_wording", "category", "rrl", "rrl_msv", "rrl_status", "source", "notes", "rates_parts",
               "rates_parts_provenance"}
    _check_keys(loaded, cls, obj, allowed, "ACR row")
    if cls not in procedures:
        raise loaded.error(cls, "ACR row for an unknown procedure class")
    category = obj.get("category")
    if category not in ACR_CATEGORIES:
        raise loaded.error(cls, f"category must be one of {sorted(ACR_CATEGORIES)} (got {category!r})")
    return AcrEntry(
        procedure_class=cls,
        category=str(category),
        rrl=_require_str(loaded, cls, obj, "rrl"),
        rrl_msv=_require_str(loaded, cls, obj, "rrl_msv"),
        source=_require_str(loaded, cls, obj, "source"),
        pama_rating=ratings[str(category)],
        acr_wording=str(obj.get("acr_wording") or ""),
        notes=str(obj.get("notes") or "").strip(),
    )


def _build_parameters(loaded: _Loaded) -> tuple[dict[str, int | float], dict[str, Mapping[str, Any]]]:
    section = _require_mapping(loaded, "parameters", loaded.data.get("parameters"), "'parameters'")
    values: dict[str, int | float] = {}
    info: dict[str, Mapping[str, Any]] = {}
    for raw_name, raw in section.items():
        name = str(raw_name)
        obj = _require_mapping(loaded, name, raw, "a parameter")
        _check_keys(loaded, name, obj, {"value", "unit", "status", "provenance"}, "parameter")
        value = obj.get("value")
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise loaded.error(name, f"value must be a number (got {value!r})")
        if obj.get("status") not in PARAMETER_STATUSES:
            raise loaded.error(name, f"status must be one of {sorted(PARAMETER_STATUSES)}")
        _require_str(loaded, name, obj, "provenance")
        _require_str(loaded, name, obj, "unit", empty_ok=True)
        values[name] = value
        info[name] = MappingProxyType(dict(obj))
    return values, info
