"""Validation helpers shared by the builders: required fields, unknown keys, codes and regexes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cdshooks.clinical.knowledge.model import CODE_STATUSES
from cdshooks.clinical.knowledge.yaml_files import _Loaded

_FRAGMENT_RE = re.compile(r"\{\{(\w+)\}\}")


# --------------------------------------------------------------------------------------------- validation


def _require_str(
    loaded: _Loaded, entry: str, obj: Mapping[str, Any], key: str, *, empty_ok: bool = False
) -> str:
    value = obj.get(key)
    if isinstance(value, int) and not isinstance(value, bool) and key in {"code", "prefix"}:
        value = str(value)
    if not isinstance(value, str) or (not empty_ok and not value.strip()):
        raise loaded.error(entry, f"{key!r} must be a non-empty string (got {value!r})")
    return value.strip()


def _require_mapping(loaded: _Loaded, entry: str | None, value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise loaded.error(entry, f"{what} must be a mapping (got {type(value).__name__})")
    return value


def _require_list(loaded: _Loaded, entry: str, value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise loaded.error(entry, f"{what} must be a list (got {type(value).__name__})")
    return value


def _check_keys(loaded: _Loaded, entry: str, obj: Mapping[str, Any], allowed: set[str], what: str) -> None:
    unknown = set(obj) - allowed
    if unknown:
        raise loaded.error(entry, f"{what}: unknown field(s) {sorted(unknown)}")


def _compile(
    loaded: _Loaded, entry: str, pattern: Any, fragments: Mapping[str, str] | None = None
) -> re.Pattern[str]:
    if not isinstance(pattern, str) or not pattern:
        raise loaded.error(entry, f"text pattern must be a non-empty string (got {pattern!r})")
    expanded = pattern
    if fragments is not None:

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in fragments:
                raise loaded.error(entry, f"unknown text fragment {{{{{name}}}}} in {pattern!r}")
            return fragments[name]

        expanded = _FRAGMENT_RE.sub(substitute, pattern)
    try:
        return re.compile(expanded, re.IGNORECASE)
    except re.error as exc:
        raise loaded.error(entry, f"regex does not compile ({exc}): {pattern!r}") from exc


def _code_item(
    loaded: _Loaded, entry: str, item: Any, extra: set[str], *, need_status: bool = True
) -> Mapping[str, Any]:
    obj = _require_mapping(loaded, entry, item, "a code")
    _check_keys(loaded, entry, obj, {"system", "code", "display", "status", "note", *extra}, "code")
    _require_str(loaded, entry, obj, "system")
    _require_str(loaded, entry, obj, "code")
    _require_str(loaded, entry, obj, "display", empty_ok=True)
    if need_status and obj.get("status") not in CODE_STATUSES:
        raise loaded.error(entry, f"code {obj.get('code')!r}: status must be one of {sorted(CODE_STATUSES)}")
    return obj


def _optional_str(loaded: _Loaded, entry: str, obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise loaded.error(entry, f"{key!r} must be a non-empty string when given (got {value!r})")
    return value.strip()


def _pattern_list(loaded: _Loaded, name: str, raw: Any) -> tuple[re.Pattern[str], ...]:
    return tuple(_compile(loaded, name, item) for item in _require_list(loaded, name, raw, "dose patterns"))
