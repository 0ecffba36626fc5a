"""Building the terminology (system aliases) and the value sets from valuesets.yaml."""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Any

from cdshooks.clinical.knowledge.model import CodeEntry, PrefixEntry, Terminology, TextPattern, ValueSet
from cdshooks.clinical.knowledge.schema import ValueSetsFile, ValueSetShape
from cdshooks.clinical.knowledge.validation import _patterns, validate
from cdshooks.clinical.knowledge.yaml_files import _Loaded


def _build_terminology(shape: ValueSetsFile) -> Terminology:
    aliases = {item.alias.rstrip("/").casefold(): item.system for item in shape.system_aliases}
    return Terminology(MappingProxyType(aliases))


def _build_valueset(
    name: str, shape: ValueSetShape, terms: Terminology, default_excludes: tuple[re.Pattern[str], ...]
) -> ValueSet:
    codes = tuple(CodeEntry(c.system, c.code, c.display, c.status, c.kind) for c in shape.codes)
    prefixes = tuple(PrefixEntry(p.system, p.prefix, p.status, p.kind) for p in shape.prefixes)
    patterns = tuple(TextPattern(re.compile(p.pattern, re.IGNORECASE), p.kind) for p in shape.text_patterns)
    excludes = _patterns(shape.exclude_text_patterns)
    if shape.use_default_excludes:
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
        shape.description,
        shape.source,
        codes,
        prefixes,
        patterns,
        excludes,
        terms,
        MappingProxyType(index),
        MappingProxyType({k: tuple(v) for k, v in prefix_index.items()}),
    )


def _build_valuesets(loaded: _Loaded) -> tuple[Terminology, dict[str, ValueSet], dict[Any, frozenset[str]]]:
    shape = validate(loaded, ValueSetsFile)
    terms = _build_terminology(shape)
    default_excludes = _patterns(shape.default_exclude_text_patterns)
    valuesets = {name: _build_valueset(name, vs, terms, default_excludes) for name, vs in shape.valuesets.items()}
    reverse: dict[tuple[str, str], set[str]] = {}
    for vs in valuesets.values():
        for key in vs._index:
            reverse.setdefault(key, set()).add(vs.name)
    return terms, valuesets, {k: frozenset(v) for k, v in reverse.items()}
