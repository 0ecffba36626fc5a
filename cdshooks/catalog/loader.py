"""The card catalog: one YAML file per topic in the top-level `cards/` folder (shipped in the package).

An entry holds everything a clinician reads — indicator, summary and detail templates, source, links,
suggestions, override reasons — and the evidence it rests on. Templates use `{name}` placeholders filled
from a finding's values. Loading validates every entry, so a broken catalog stops start-up with a message
naming the file, never a hook call.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from cdshooks import yaml_reader

TOPIC_SYSTEM = "https://bonemets-cds.org/fhir/CodeSystem/card-topic"
OVERRIDE_SYSTEM = "https://bonemets-cds.org/fhir/CodeSystem/override-reason"
INDICATORS = ("info", "warning", "critical")
HOOKS = ("order-select", "order-sign", "patient-view")
ACTION_KINDS = ("replace", "add")


class CatalogError(ValueError):
    """A catalog file is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class SuggestionSpec:
    id: str
    label: str
    action: str  # replace | add
    procedure: str  # procedure class of the order to create
    recommended: bool = False


@dataclass(frozen=True)
class LinkSpec:
    label: str
    url: str


@dataclass(frozen=True)
class OverrideSpec:
    code: str
    display: str


@dataclass(frozen=True)
class Variant:
    summary: str | None
    detail: str | None


@dataclass(frozen=True)
class CardSpec:
    topic: str
    title: str
    hooks: tuple[str, ...]
    indicator: str
    summary: str
    detail: str
    source_label: str
    source_url: str | None
    links: tuple[LinkSpec, ...]
    suggestions: Mapping[str, SuggestionSpec]
    selection_behavior: str
    override_reasons: tuple[OverrideSpec, ...]
    evidence: tuple[str, ...]
    variants: Mapping[str, Variant]
    example_values: Mapping[str, Any]
    path: str

    def templates(self) -> list[str]:
        out = [self.summary, self.detail]
        for variant in self.variants.values():
            out.extend(t for t in (variant.summary, variant.detail) if t)
        for suggestion in self.suggestions.values():
            out.extend((suggestion.label, suggestion.procedure))
        return out

    def placeholders(self) -> set[str]:
        names: set[str] = set()
        for template in self.templates():
            names |= {f for _, f, _, _ in string.Formatter().parse(template) if f}
        return names

    def texts(self, variant: str | None) -> tuple[str, str]:
        """(summary, detail) templates for a variant (the base texts where the variant has none)."""
        chosen = self.variants.get(variant or "")
        if chosen is None:
            return self.summary, self.detail
        return chosen.summary or self.summary, chosen.detail or self.detail


def _require(data: Mapping[str, Any], key: str, where: str, kind: type = str) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or (isinstance(value, str) and not value.strip()):
        raise CatalogError(f"{where}: '{key}' is required ({kind.__name__})")
    return value


def _parse(data: Any, where: str) -> CardSpec:
    if not isinstance(data, dict):
        raise CatalogError(f"{where}: must be a mapping")
    topic = _require(data, "topic", where)
    indicator = _require(data, "indicator", where)
    if indicator not in INDICATORS:
        raise CatalogError(f"{where}: indicator must be one of {INDICATORS}")
    hooks = tuple(_require(data, "hooks", where, list))
    if not hooks or any(h not in HOOKS for h in hooks):
        raise CatalogError(f"{where}: hooks must be a non-empty subset of {HOOKS}")
    source = _require(data, "source", where, dict)
    suggestions: dict[str, SuggestionSpec] = {}
    for i, item in enumerate(data.get("suggestions") or []):
        sw = f"{where}: suggestions[{i}]"
        if not isinstance(item, dict):
            raise CatalogError(f"{sw}: must be a mapping")
        action = _require(item, "action", sw)
        if action not in ACTION_KINDS:
            raise CatalogError(f"{sw}: action must be one of {ACTION_KINDS}")
        spec = SuggestionSpec(_require(item, "id", sw), _require(item, "label", sw), action,
                              _require(item, "procedure", sw), bool(item.get("recommended", False)))
        if spec.id in suggestions:
            raise CatalogError(f"{sw}: duplicate id {spec.id!r}")
        suggestions[spec.id] = spec
    behavior = data.get("selection_behavior", "at-most-one")
    if behavior not in {"at-most-one", "any"}:
        raise CatalogError(f"{where}: selection_behavior must be at-most-one or any")
    links = tuple(
        LinkSpec(_require(link, "label", f"{where}: links"), _require(link, "url", f"{where}: links"))
        for link in data.get("links") or []
    )
    overrides = tuple(
        OverrideSpec(_require(r, "code", f"{where}: override_reasons"), _require(r, "display", f"{where}: "
                                                                                   "override_reasons"))
        for r in data.get("override_reasons") or []
    )
    evidence = tuple(str(e) for e in _require(data, "evidence", where, list))
    if not evidence:
        raise CatalogError(f"{where}: evidence must name at least one source")
    variants = {}
    for name, item in (data.get("variants") or {}).items():
        if not isinstance(item, dict) or not (item.get("summary") or item.get("detail")):
            raise CatalogError(f"{where}: variants.{name} needs a summary and/or a detail")
        variants[str(name)] = Variant(_stripped(item.get("summary")), _stripped(item.get("detail")))
    examples = _require(data, "example_values", where, dict)
    return CardSpec(
        topic=topic,
        title=_require(data, "title", where),
        hooks=hooks,
        indicator=indicator,
        summary=_require(data, "summary", where).strip(),
        detail=_require(data, "detail", where).strip(),
        source_label=_require(source, "label", f"{where}: source"),
        source_url=source.get("url"),
        links=links,
        suggestions=suggestions,
        selection_behavior=behavior,
        override_reasons=overrides,
        evidence=evidence,
        variants=variants,
        example_values=examples,
        path=where,
    )


def _stripped(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def catalog_dir() -> Path:
    """`cdshooks/cards` in an installed package; the repository's top-level `cards/` in a checkout."""
    try:
        shipped = Path(str(resources.files("cdshooks") / "cards"))
    except (ModuleNotFoundError, TypeError):  # pragma: no cover
        shipped = Path()
    if shipped.is_dir():
        return shipped
    return Path(__file__).resolve().parent.parent.parent / "cards"


def load_catalog(directory: Path | None = None) -> dict[str, CardSpec]:
    directory = directory or catalog_dir()
    if not directory.is_dir():
        raise CatalogError(f"card catalog folder not found: {directory}")
    specs: dict[str, CardSpec] = {}
    for path in sorted(directory.glob("*.yaml")):
        if path.name.startswith("_"):  # catalog-wide texts (e.g. _safety.yaml), not a topic
            continue
        try:
            data = yaml_reader.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise CatalogError(f"{path.name}: not valid YAML ({exc})") from None
        spec = _parse(data, path.name)
        if spec.topic in specs:
            raise CatalogError(f"{path.name}: topic {spec.topic!r} already defined in {specs[spec.topic].path}")
        if path.stem != spec.topic:
            raise CatalogError(f"{path.name}: file name must be the topic code ({spec.topic}.yaml)")
        missing = spec.placeholders() - set(spec.example_values) - {"variant"}
        if missing:
            raise CatalogError(f"{path.name}: example_values lacks {sorted(missing)}")
        specs[spec.topic] = spec
    return specs


@cache
def default_catalog() -> dict[str, CardSpec]:
    return load_catalog()


WORST_CASE_FILE = Path(__file__).resolve().parent / "worst_case_values.yaml"


@cache
def _worst_case_data() -> dict[str, Any]:
    data = yaml_reader.safe_load(WORST_CASE_FILE.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("defaults"), dict):
        raise CatalogError(f"{WORST_CASE_FILE.name}: needs a 'defaults' mapping")
    return data


def worst_case_values(spec: CardSpec) -> dict[str, Any]:
    """The card's example values overlaid with the longest realistic value of each placeholder
    (`worst_case_values.yaml`: defaults, then the topic's own overrides)."""
    data = _worst_case_data()
    names = spec.placeholders()
    values: dict[str, Any] = dict(spec.example_values)
    values.update({k: v for k, v in data["defaults"].items() if k in names})
    values.update((data.get("topics") or {}).get(spec.topic) or {})
    return values
