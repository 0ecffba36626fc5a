"""The Jinja environment and filters shared by the Markdown and HTML renderers (templates in `templates/`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from cdshooks.knowledge_book.collect import SYSTEM_LABELS, codes_of

HOOK_WORDS: Mapping[str, str] = {
    "order-select": "while an order is being chosen (order-select)",
    "order-sign": "when an order is about to be signed (order-sign)",
    "patient-view": "when the patient's record is opened (patient-view)",
}
INDICATOR_WORDS: Mapping[str, str] = {"info": "Info", "warning": "Warning", "critical": "Critical"}
ACTION_WORDS: Mapping[str, str] = {"replace": "replaces the draft order", "add": "adds an order"}
CATEGORY_WORDS: Mapping[str, str] = {
    "usually-appropriate": "Usually appropriate",
    "may-be-appropriate": "May be appropriate",
    "usually-not-appropriate": "Usually not appropriate",
}
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def number(value: Any) -> str:
    """10.5 -> "10.5", 30 -> "30", 30.0 -> "30"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def flatten(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """A nested mapping as (dotted key, leaf) rows; a list of scalars stays one leaf (a list of strings)."""
    if isinstance(data, Mapping):
        rows: list[tuple[str, Any]] = []
        for key, value in data.items():
            rows.extend(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return rows
    if isinstance(data, list) and any(isinstance(item, Mapping | list) for item in data):
        rows = []
        for i, item in enumerate(data):
            rows.extend(flatten(item, f"{prefix}[{i}]"))
        return rows
    if isinstance(data, list):
        return [(prefix, [str(item) for item in data])]
    return [(prefix, "" if data is None else " ".join(str(data).split()))]


def procedure_label(book: Any) -> Callable[[str], str]:
    """`BONE_SCAN_WB` (or `MRI_SITE:lumbar`) -> its display name; a template placeholder stays as written."""
    procedures = book.file("procedures.yaml").get("procedures") or {}

    def label(procedure: str) -> str:
        base, _, region = procedure.partition(":")
        entry = procedures.get(base)
        if not isinstance(entry, Mapping):
            return procedure
        name = str(entry.get("display") or base)
        return f"{name} ({region})" if region else name

    return label


def environment(*, html: bool) -> Environment:
    env = Environment(
        loader=PackageLoader("cdshooks.knowledge_book", "templates"),
        autoescape=html,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=StrictUndefined,
    )
    env.filters["number"] = number
    env.filters["flatten"] = flatten
    env.filters["codes"] = codes_of
    env.globals.update(
        HOOK_WORDS=HOOK_WORDS,
        INDICATOR_WORDS=INDICATOR_WORDS,
        ACTION_WORDS=ACTION_WORDS,
        CATEGORY_WORDS=CATEGORY_WORDS,
        SYSTEM_LABELS=SYSTEM_LABELS,
    )
    return env
