"""Building the terminology (system aliases) and the value sets from valuesets.yaml."""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Any

from cdshooks.clinical.knowledge.model import (
    CODE_STATUSES,
    CodeEntry,
    PrefixEntry,
    Terminology,
    TextPattern,
    ValueSet,
)
from cdshooks.clinical.knowledge.validation import (
    _check_keys,
    _code_item,
    _compile,
    _optional_str,
    _pattern_list,
    _require_list,
    _require_mapping,
    _require_str,
)
from cdshooks.clinical.knowledge.yaml_files import _Loaded


def _build_terminology(loaded: _Loaded) -> Terminology:
    aliases: dict[str, str] = {}
    for item in _require_list(loaded, "system_aliases", loaded.data.get("system_aliases"), "system_aliases"):
        obj = _require_mapping(loaded, "system_aliases", item, "an alias")
        _check_keys(loaded, "system_aliases", obj, {"alias", "system", "status", "source"}, "alias")
        alias = _require_str(loaded, "system_aliases", obj, "alias")
        system = _require_str(loaded, "system_aliases", obj, "system")
        _require_str(loaded, "system_aliases", obj, "source")
        aliases[alias.rstrip("/").casefold()] = system
    return Terminology(MappingProxyType(aliases))


_VALUESET_FIELDS = {
    "description",
    "source",
    "codes",
    "prefixes",
    "text_patterns",
    "exclude_text_patterns",
    "use_default_excludes",
}


def _build_valueset(
    loaded: _Loaded, name: str, raw: Any, terms: Terminology, default_excludes: tuple[re.Pattern[str], ...]
) -> ValueSet:
    obj = _require_mapping(loaded, name, raw, "a value set")
    _check_keys(loaded, name, obj, _VALUESET_FIELDS, "value set")
    description = _require_str(loaded, name, obj, "description")
    source = _require_str(loaded, name, obj, "source")
    codes = tuple(
        _value_code(loaded, name, item) for item in _require_list(loaded, name, obj.get("codes"), "codes")
    )
    prefixes = tuple(
        _value_prefix(loaded, name, item)
        for item in _require_list(loaded, name, obj.get("prefixes"), "prefixes")
    )
    patterns = tuple(
        _value_pattern(loaded, name, item)
        for item in _require_list(loaded, name, obj.get("text_patterns"), "text_patterns")
    )
    if not (codes or prefixes or patterns):
        raise loaded.error(name, "a value set needs codes, prefixes or text_patterns")
    excludes = _pattern_list(loaded, name, obj.get("exclude_text_patterns"))
    if obj.get("use_default_excludes", True) not in (True, False):
        raise loaded.error(name, "use_default_excludes must be true or false")
    if obj.get("use_default_excludes", True):
        excludes = default_excludes + excludes
    index: dict[tuple[str, str], str | None] = {}
    for code in codes:
        key = terms.key(code.system, code.code)
        if key is not None:
            index[key] = code.kind
    prefix_index: dict[str, list[tuple[str, str | None]]] = {}
    for prefix in sorted(prefixes, key=lambda p: -len(p.prefix)):
        canonical = terms.system(prefix.system) or prefix.system
        normalized = terms.code(canonical, prefix.prefix) or ""
        prefix_index.setdefault(canonical, []).append((normalized, prefix.kind))
    return ValueSet(
        name,
        description,
        source,
        codes,
        prefixes,
        patterns,
        excludes,
        terms,
        MappingProxyType(index),
        MappingProxyType({k: tuple(v) for k, v in prefix_index.items()}),
    )


def _value_code(loaded: _Loaded, name: str, item: Any) -> CodeEntry:
    obj = _code_item(loaded, name, item, {"kind"})
    return CodeEntry(
        system=str(obj["system"]).strip(),
        code=str(obj["code"]).strip(),
        display=str(obj.get("display") or ""),
        status=str(obj["status"]),
        kind=_optional_str(loaded, name, obj, "kind"),
    )


def _value_prefix(loaded: _Loaded, name: str, item: Any) -> PrefixEntry:
    obj = _require_mapping(loaded, name, item, "a prefix")
    _check_keys(loaded, name, obj, {"system", "prefix", "status", "kind", "note"}, "prefix")
    system = _require_str(loaded, name, obj, "system")
    prefix = _require_str(loaded, name, obj, "prefix")
    if obj.get("status") not in CODE_STATUSES:
        raise loaded.error(name, f"prefix {prefix!r}: status must be one of {sorted(CODE_STATUSES)}")
    return PrefixEntry(system, prefix, str(obj["status"]), _optional_str(loaded, name, obj, "kind"))


def _value_pattern(loaded: _Loaded, name: str, item: Any) -> TextPattern:
    if isinstance(item, dict):
        _check_keys(loaded, name, item, {"pattern", "kind"}, "text pattern")
        return TextPattern(
            _compile(loaded, name, item.get("pattern")), _optional_str(loaded, name, item, "kind")
        )
    return TextPattern(_compile(loaded, name, item))


def _build_valuesets(
    loaded: _Loaded, terms: Terminology
) -> tuple[dict[str, ValueSet], dict[Any, frozenset[str]]]:
    section = _require_mapping(loaded, "valuesets", loaded.data.get("valuesets"), "'valuesets'")
    default_excludes = _pattern_list(
        loaded, "default_exclude_text_patterns", loaded.data.get("default_exclude_text_patterns")
    )
    valuesets = {
        str(name): _build_valueset(loaded, str(name), raw, terms, default_excludes)
        for name, raw in section.items()
    }
    reverse: dict[tuple[str, str], set[str]] = {}
    for vs in valuesets.values():
        for key in vs._index:
            reverse.setdefault(key, set()).add(vs.name)
    return valuesets, {k: frozenset(v) for k, v in reverse.items()}
