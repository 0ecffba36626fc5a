"""Checking a knowledge file against its shape (schema.py), with errors in plain words; compiling regexes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from cdshooks.clinical.knowledge.model import KnowledgeError
from cdshooks.clinical.knowledge.yaml_files import ENTRY_SECTIONS, _Loaded

_FRAGMENT_RE = re.compile(r"\{\{(\w+)\}\}")
_SINGULAR = {"prefixes": "prefix", "system_aliases": "system alias", "dicom_modalities": "DICOM modality",
             "combined_from": "combined_from item", "rates_parts": "rates_parts item", "cpt_pair": "cpt_pair item"}

M = TypeVar("M", bound=BaseModel)


def validate(loaded: _Loaded, shape: type[M]) -> M:
    """The file's data checked against ``shape``; KnowledgeError naming file, entry and key otherwise."""
    try:
        return shape.model_validate(loaded.data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise _knowledge_error(loaded, errors[0], more) from None


def _knowledge_error(loaded: _Loaded, error: Mapping[str, Any], more: str) -> KnowledgeError:
    loc = tuple(error["loc"])
    section = ENTRY_SECTIONS.get(loaded.name)
    if section and len(loc) > 1 and loc[0] == section:
        entry, rest = str(loc[1]), loc[2:]
    elif len(loc) > 1 or (loc and error["type"] not in {"missing", "extra_forbidden"}):
        entry, rest = str(loc[0]), loc[1:]
    else:  # a top-level key unknown or missing, or a problem with the file as a whole
        entry, rest = None, loc
    where = loaded.origin(str(loc[0]) if loc and entry is None else entry)
    label = f" [{entry}]" if entry is not None else ""
    return KnowledgeError(f"{where}{label}: {_plain(error, rest, entry)}{more}")


def _plain(error: Mapping[str, Any], loc: tuple[Any, ...], entry: str | None) -> str:
    """One pydantic error as a sentence: `code 2: 'system' is missing`, `status must be one of [...]`."""
    kind = error["type"]
    path = _path(loc, entry)
    if kind in {"missing", "extra_forbidden"} and path:
        *parents, last = path
        prefix = "".join(f"{p}: " for p in parents)
        return prefix + (f"{last!r} is missing" if kind == "missing" else f"unknown key {last!r}")
    if kind in {"dict_type", "model_type", "model_attributes_type"}:
        message = "must be a mapping"
    elif kind == "list_type":
        message = "must be a list"
    elif kind.startswith("value_error") or kind == "assertion_error":
        message = str(error.get("ctx", {}).get("error", error["msg"]))
    elif kind == "too_short" and error.get("ctx", {}).get("min_length") == 1:
        message = "must not be empty"
    elif kind == "string_too_short":
        message = "must be a non-empty string"
    else:
        message = str(error["msg"]).replace("Input should be", "must be").replace("String should", "must")
    subject = " ".join(path) if path else ""
    got = _shown(error.get("input"))
    sentence = f"{subject} {message}" if subject else message
    return f"{sentence} (got {got})" if got else sentence


def _path(loc: tuple[Any, ...], entry: str | None) -> list[str]:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int) and (parts or entry):
            name = parts.pop() if parts else str(entry)  # an item of a list, or of the top-level list `entry`
            parts.append(f"{_SINGULAR.get(name, name.removesuffix('s').replace('_', ' '))} {item + 1}")
        elif item == "[key]" and parts:
            parts[-1] = f"name {parts[-1]!r}"
        elif isinstance(item, str) and item in {"int", "float", "str", "bool"} and parts:
            continue  # the branch of a union pydantic tried
        elif item == "pattern" and parts and parts[-1][-1:].isdigit():
            continue  # "text pattern 2", not "text pattern 2 pattern"
        else:
            parts.append(str(item))
    return parts


def _shown(value: Any) -> str:
    if isinstance(value, dict | list) or value is None:
        return ""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --------------------------------------------------------------------------------------------- regexes


def _compile(
    loaded: _Loaded, entry: str, pattern: str, fragments: Mapping[str, str] | None = None
) -> re.Pattern[str]:
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
        raise loaded.error(entry, f"pattern {pattern!r} is not a valid regular expression: {exc}") from exc


def _patterns(patterns: list[str]) -> tuple[re.Pattern[str], ...]:
    """Patterns the shape already checked."""
    return tuple(re.compile(p, re.IGNORECASE) for p in patterns)
