"""Gathering the knowledge book: topics with their rules, parameters and value sets; the reference chapters.

`collect_topics()` is the one adapter between the book and where topics are declared. Today it reads the card
catalog (each card has `topic` and `hooks`; its YAML header comment names the rules it implements and describes
the trigger). When topics move to a registry, only that function changes.

Which parameters and value sets belong to a topic is read from the data, not hard-coded: a parameter's
provenance and a value set's description/source cite rule ids ("(R13)"), and a card cites its rules, so a topic
gets the entries that cite one of its rules, plus any entry its card file names (`P_FLARE_MIN_DAYS`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Any

from cdshooks.catalog.loader import CardSpec, card_files, load_catalog
from cdshooks.clinical.topics import registry
from cdshooks.knowledge_book.rules_doc import RulesDoc, RuleSection, base_rule, load_rules_doc, rule_ids
from cdshooks.knowledge_book.sources import (
    KnowledgeFiles,
    cards_directory,
    catalog_texts,
    content_hash,
    header_comment,
    load_knowledge_files,
    rules_doc_path,
)

PACKAGE = "cdshooks-bonemets"
_PARAM_NAME = re.compile(r"\bP_[A-Z0-9_]+\b")
_VALUESET_NAME = re.compile(r"\bVS_[A-Z0-9_]+\b")
_RULE_PREFIX = re.compile(r"^Rules?\b[^:(]*(\([^)]*\))?\s*:\s*")

SYSTEM_LABELS: Mapping[str, str] = {
    "http://snomed.info/sct": "SNOMED CT",
    "http://loinc.org": "LOINC",
    "http://hl7.org/fhir/sid/icd-10-cm": "ICD-10-CM",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm",
    "http://www.ama-assn.org/go/cpt": "CPT",
    "http://dicom.nema.org/resources/ontology/DCM": "DICOM",
    "http://www.ada.org/cdt": "CDT",
    "http://www.whocc.no/atc": "ATC",
    "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets": "HCPCS",
    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation": "HL7 interpretation",
    "http://terminology.hl7.org/CodeSystem/v2-0074": "HL7 v2 0074",
    "http://terminology.hl7.org/CodeSystem/observation-category": "HL7 obs. category",
}


# --------------------------------------------------------------------------------------------- topics


@dataclass(frozen=True)
class TopicSource:
    """What the book needs to know about one card topic, wherever topics are declared."""

    code: str
    rules: tuple[str, ...]  # rule ids the topic implements, main rule first ("R13", "R20")
    hooks: tuple[str, ...]
    trigger: str  # when it fires, in plain words (Markdown)
    card: CardSpec
    card_text: str  # the card file's whole text: the parameters and value sets it names


def collect_topics(cards: Path | None = None, override_dir: str | Path | None = None) -> list[TopicSource]:
    """ADAPTER: every card topic in catalog order. The card catalog as the service loads it (a site's
    `<override>/cards/` files replace shipped ones), the hooks from the topic registry (the rules that emit the
    topic), and each card file's header comment for its rules and trigger."""
    cards = cards_directory(cards)
    files = card_files(cards, override_dir)
    hooks_of = registry().hooks_of
    topics: list[TopicSource] = []
    for code, spec in load_catalog(cards, override_dir).items():
        path = files[spec.path]
        comment = header_comment(path)
        topics.append(TopicSource(code, _topic_rules(comment), hooks_of(code), _plain_trigger(comment), spec,
                                  path.read_text(encoding="utf-8")))
    return topics


def _topic_rules(comment: str) -> tuple[str, ...]:
    """Rule ids named before the first parenthesis of the header ("Rules R13, R20 (clinical-rules.md ..."), else
    every rule id the header mentions."""
    first = comment.split("\n", 1)[0]
    return rule_ids(first.split("(", 1)[0]) or rule_ids(comment)


def _plain_trigger(comment: str) -> str:
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", comment) if p.strip()]
    if not paragraphs:
        return ""
    first = _RULE_PREFIX.sub("", paragraphs[0], count=1)
    paragraphs[0] = first[:1].upper() + first[1:]
    return "\n\n".join(paragraphs)


# --------------------------------------------------------------------------------------------- the book


@dataclass(frozen=True)
class Parameter:
    name: str
    value: int | float
    unit: str
    status: str
    provenance: str
    rules: tuple[str, ...]


@dataclass(frozen=True)
class Code:
    system: str
    label: str  # short name of the system
    code: str
    display: str
    status: str
    kind: str
    note: str


@dataclass(frozen=True)
class ValueSetView:
    name: str
    description: str
    source: str
    rules: tuple[str, ...]
    codes: tuple[Code, ...]
    prefixes: tuple[Code, ...]  # `code` holds the prefix
    text_patterns: tuple[tuple[str, str], ...]  # (regex, kind)
    exclude_patterns: tuple[str, ...]
    default_excludes: bool

    @property
    def anchor(self) -> str:
        slug = self.name.lower().replace("_", "-")
        return slug if slug.startswith("vs-") else f"vs-{slug}"


@dataclass(frozen=True)
class Topic:
    source: TopicSource
    parameters: tuple[Parameter, ...]
    valuesets: tuple[ValueSetView, ...]
    rule_sections: tuple[RuleSection, ...]
    builds_on: tuple[str, ...] = ()  # rules whose conditions this topic's rules include

    @property
    def code(self) -> str:
        return self.source.code

    @property
    def card(self) -> CardSpec:
        return self.source.card

    @property
    def anchor(self) -> str:
        return f"topic-{self.code}"


@dataclass(frozen=True)
class Stamp:
    package_version: str
    content_hash: str
    generated: date
    knowledge_dir: str | None
    overridden: tuple[str, ...]

    @property
    def short_hash(self) -> str:
        return self.content_hash[:12]


@dataclass(frozen=True)
class Book:
    stamp: Stamp
    topics: tuple[Topic, ...]
    rules: RulesDoc
    parameters: tuple[Parameter, ...]
    valuesets: tuple[ValueSetView, ...]
    files: KnowledgeFiles
    catalog_texts: Mapping[str, Mapping[str, Any]]

    @property
    def parameters_by_rule(self) -> tuple[Parameter, ...]:
        """Parameters ordered by the first rule they cite (those citing none last), then file order."""
        return tuple(sorted(self.parameters, key=lambda p: base_rule(p.rules[0]) if p.rules else "~"))

    @property
    def rules_outside_topics(self) -> tuple[RuleSection, ...]:
        """Rule summaries that no topic section shows (a rule without a card of its own, e.g. R23)."""
        shown = {s.id for topic in self.topics for s in topic.rule_sections}
        return tuple(s for s in self.rules.sections.values() if s.id not in shown)

    def file(self, name: str) -> Mapping[str, Any]:
        return self.files.data.get(name) or {}

    @property
    def other_files(self) -> dict[str, Mapping[str, Any]]:
        """Knowledge files without a chapter of their own (shown generically, so a new file is never left out)."""
        known = {"parameters.yaml", "valuesets.yaml", "acr_table.yaml", "procedures.yaml", "medications.yaml",
                 "report_phrases.yaml"}
        return {name: data for name, data in self.files.data.items() if name not in known}


def package_version() -> str:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        from cdshooks import __version__

        return __version__


def build_book(knowledge_dir: str | Path | None = None, cards_dir: Path | None = None,
               today: date | None = None) -> Book:
    """Load everything (KnowledgeError / CatalogError as the service would raise them) and assemble the book.
    ``today`` is the generation date printed in the stamp (injectable for reproducible output)."""
    files = load_knowledge_files(knowledge_dir)
    cards = cards_directory(cards_dir)
    doc_path = rules_doc_path()
    rules = load_rules_doc(doc_path)
    parameters = _parameters(files.data.get("parameters.yaml") or {})
    valuesets = _valuesets(files.data.get("valuesets.yaml") or {})
    topics = tuple(_topic(source, parameters, valuesets, rules)
                   for source in collect_topics(cards, knowledge_dir if cards_dir is None else None))
    stamp = Stamp(package_version(), content_hash(files, cards, doc_path), today or date.today(),
                  str(files.override_dir) if files.override_dir else None, files.overridden)
    return Book(stamp, topics, rules, parameters, valuesets, files, catalog_texts(cards))


def _topic(source: TopicSource, parameters: Sequence[Parameter], valuesets: Sequence[ValueSetView],
           rules: RulesDoc) -> Topic:
    own = [base_rule(r) for r in source.rules]
    # a rule's conditions include those of the rules it builds on (R02 applies only inside the R01 scenario)
    related = list(dict.fromkeys(own + [base_rule(b) for r in own if r in rules.sections
                                        for b in rules.sections[r].builds_on]))
    bases = set(related)
    named_params = set(_PARAM_NAME.findall(source.card_text))
    named_sets = set(_VALUESET_NAME.findall(source.card_text))
    return Topic(
        source,
        tuple(p for p in parameters if p.name in named_params or bases & {base_rule(r) for r in p.rules}),
        tuple(v for v in valuesets if v.name in named_sets or bases & {base_rule(r) for r in v.rules}),
        tuple(rules.sections[b] for b in related if b in rules.sections),
        tuple(r for r in related if r not in own),
    )


def _parameters(data: Mapping[str, Any]) -> tuple[Parameter, ...]:
    out = []
    for name, raw in (data.get("parameters") or {}).items():
        provenance = " ".join(str(raw.get("provenance", "")).split())
        out.append(Parameter(str(name), raw["value"], str(raw.get("unit") or ""), str(raw.get("status", "")),
                             provenance, rule_ids(provenance)))
    return tuple(out)


def codes_of(items: Sequence[Any] | None, key: str = "code") -> tuple[Code, ...]:
    out = []
    for item in items or ():
        if not isinstance(item, Mapping):
            continue
        system = str(item.get("system", ""))
        out.append(Code(system, SYSTEM_LABELS.get(system, system), str(item.get(key, "")),
                        str(item.get("display") or ""), str(item.get("status") or ""), str(item.get("kind") or ""),
                        " ".join(str(item.get("note") or "").split())))
    return tuple(out)


def _valuesets(data: Mapping[str, Any]) -> tuple[ValueSetView, ...]:
    out = []
    for name, raw in (data.get("valuesets") or {}).items():
        description = " ".join(str(raw.get("description", "")).split())
        source = " ".join(str(raw.get("source", "")).split())
        patterns = tuple((p, "") if isinstance(p, str) else (str(p.get("pattern", "")), str(p.get("kind") or ""))
                         for p in raw.get("text_patterns") or ())
        out.append(ValueSetView(
            str(name), description, source, rule_ids(f"{description} {source}"), codes_of(raw.get("codes")),
            codes_of(raw.get("prefixes"), "prefix"), patterns,
            tuple(str(p) for p in raw.get("exclude_text_patterns") or ()),
            raw.get("use_default_excludes", True) is not False,
        ))
    return tuple(out)
