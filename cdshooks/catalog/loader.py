"""The card catalog: one YAML file per topic in the top-level `cards/` folder (shipped in the package).

An entry holds everything a clinician reads — indicator, summary and detail templates, source, links,
suggestions, override reasons — the evidence it rests on, and its delivery `mode` (`live`, the default, or
`silent`: evaluated and recorded, never sent; cdshooks.governance.delivery). Templates use `{name}`
placeholders filled from a finding's typed values (cdshooks.clinical.topics). Loading validates every entry
against a schema (unknown keys refused), so a broken catalog stops start-up with a message naming the file and
the key, never a hook call. A site may replace whole card files with same-named files in
`<CDSHOOKS_KNOWLEDGE_DIR>/cards/`.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from cdshooks import yaml_reader

TOPIC_SYSTEM = "https://bonemets-cds.org/fhir/CodeSystem/card-topic"
OVERRIDE_SYSTEM = "https://bonemets-cds.org/fhir/CodeSystem/override-reason"
INDICATORS = ("info", "warning", "critical")
ACTION_KINDS = ("replace", "add")
# the top-level categories of the CDS Hooks 3.0 ballot's override-reason vocabulary (AHRQ CDSiC 2025 taxonomy)
NON_ADHERENCE_SYSTEM = "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes"
OverrideCategory = Literal["cds-not-applicable", "cds-suboptimal-context", "recipient-disagrees-evidence",
                           "recipient-concerns-outcomes", "does-not-align-preferences", "not-convenient-feasible"]

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class CatalogError(ValueError):
    """A catalog file is malformed; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SuggestionSpec(_Strict):
    id: Text
    label: Text
    action: Literal["replace", "add"]
    procedure: Text  # procedure class of the order to create (a `{placeholder}` allowed)
    recommended: bool = False
    occurrence: Text | None = None  # when the order should happen, e.g. "{follow_up_date}"


class LinkSpec(_Strict):
    label: Text
    url: Text


class OverrideSpec(_Strict):
    code: Text
    display: Text
    category: OverrideCategory  # the 3.0 ballot's non-adherence category the reason belongs to


class Variant(_Strict):
    summary: Text | None = None
    detail: Text | None = None

    @model_validator(mode="after")
    def _some_text(self) -> Variant:
        if not (self.summary or self.detail):
            raise ValueError("needs a summary and/or a detail")
        return self


class SourceSpec(_Strict):
    label: Text
    url: Text | None = None


class CardFile(_Strict):
    topic: Text
    title: Text
    indicator: Literal["info", "warning", "critical"]
    summary: Text
    detail: Text
    source: SourceSpec
    links: tuple[LinkSpec, ...] = ()
    suggestions: tuple[SuggestionSpec, ...] = ()
    selection_behavior: Literal["at-most-one", "any"] = "at-most-one"
    override_reasons: tuple[OverrideSpec, ...] = ()
    evidence: tuple[Text, ...] = Field(min_length=1)
    variants: dict[str, Variant] = Field(default_factory=dict)
    example_values: dict[str, Any]
    mode: Literal["live", "silent"] = "live"  # silent: evaluated and recorded as "would have shown", never sent


@dataclass(frozen=True)
class CardSpec:
    topic: str
    title: str
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
    mode: str = "live"

    def templates(self) -> list[str]:
        out = [self.summary, self.detail]
        for variant in self.variants.values():
            out.extend(t for t in (variant.summary, variant.detail) if t)
        for suggestion in self.suggestions.values():
            out.extend(t for t in (suggestion.label, suggestion.procedure, suggestion.occurrence) if t)
        return out

    def placeholders(self) -> set[str]:
        return placeholders(*self.templates())

    def texts(self, variant: str | None) -> tuple[str, str]:
        """(summary, detail) templates for a variant (the base texts where the variant has none)."""
        chosen = self.variants.get(variant or "")
        if chosen is None:
            return self.summary, self.detail
        return chosen.summary or self.summary, chosen.detail or self.detail


def placeholders(*templates: str) -> set[str]:
    names: set[str] = set()
    for template in templates:
        names |= {f for _, f, _, _ in string.Formatter().parse(template) if f}
    return names


def schema_error(where: str, exc: ValidationError) -> CatalogError:
    """The first problems of a schema check in plain words: `file: key.path: what is wrong`."""
    problems = []
    for error in exc.errors()[:3]:
        path = ".".join(str(p) for p in error["loc"]) or "(top level)"
        message = "unknown key (not part of the schema)" if error["type"] == "extra_forbidden" else error["msg"]
        problems.append(f"{path}: {message}")
    return CatalogError(f"{where}: " + "; ".join(problems))


def _parse(data: Any, where: str) -> CardSpec:
    if not isinstance(data, dict):
        raise CatalogError(f"{where}: must be a mapping")
    try:
        card = CardFile.model_validate(data)
    except ValidationError as exc:
        raise schema_error(where, exc) from None
    suggestions: dict[str, SuggestionSpec] = {}
    for i, item in enumerate(card.suggestions):
        if item.id in suggestions:
            raise CatalogError(f"{where}: suggestions.{i}.id: duplicate id {item.id!r}")
        suggestions[item.id] = item
    codes = [r.code for r in card.override_reasons]
    if len(set(codes)) != len(codes):
        raise CatalogError(f"{where}: override_reasons: duplicate code")
    return CardSpec(
        topic=card.topic, title=card.title, indicator=card.indicator, summary=card.summary, detail=card.detail,
        source_label=card.source.label, source_url=card.source.url, links=card.links, suggestions=suggestions,
        selection_behavior=card.selection_behavior, override_reasons=card.override_reasons,
        evidence=card.evidence, variants=card.variants, example_values=card.example_values, path=where,
        mode=card.mode)


def catalog_dir() -> Path:
    """`cdshooks/cards` in an installed package; the repository's top-level `cards/` in a checkout."""
    try:
        shipped = Path(str(resources.files("cdshooks") / "cards"))
    except (ModuleNotFoundError, TypeError):  # pragma: no cover
        shipped = Path()
    if shipped.is_dir():
        return shipped
    return Path(__file__).resolve().parent.parent.parent / "cards"


def read_yaml(path: Path) -> Any:
    try:
        return yaml_reader.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path.name}: not valid YAML ({exc})") from None


def card_files(directory: Path | None = None, override_dir: str | Path | None = None) -> dict[str, Path]:
    """Topic file name -> path: the shipped cards, replaced by same-named files of `<override>/cards/`."""
    directory = directory or catalog_dir()
    if not directory.is_dir():
        raise CatalogError(f"card catalog folder not found: {directory}")
    files = {p.name: p for p in sorted(directory.glob("*.yaml"))}
    override = Path(override_dir) / "cards" if override_dir else None
    if override is not None and override.is_dir():
        files.update({p.name: p for p in sorted(override.glob("*.yaml"))})
    return dict(sorted(files.items()))


def load_catalog(directory: Path | None = None, override_dir: str | Path | None = None) -> dict[str, CardSpec]:
    specs: dict[str, CardSpec] = {}
    for name, path in card_files(directory, override_dir).items():
        if name.startswith("_"):  # catalog-wide texts (_safety.yaml, _phrases.yaml), not a topic
            continue
        spec = _parse(read_yaml(path), name)
        if spec.topic in specs:
            raise CatalogError(f"{name}: topic {spec.topic!r} already defined in {specs[spec.topic].path}")
        if path.stem != spec.topic:
            raise CatalogError(f"{name}: file name must be the topic code ({spec.topic}.yaml)")
        missing = spec.placeholders() - set(spec.example_values)
        if missing:
            raise CatalogError(f"{name}: example_values lacks {sorted(missing)}")
        unused = set(spec.example_values) - spec.placeholders() - {"variant"}
        if unused:
            raise CatalogError(f"{name}: example_values.{sorted(unused)[0]}: unknown key (no template uses it)")
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
