"""Start-up check of the card catalog against the topic registry and the phrase book.

Every rule/card mismatch stops start-up here, naming the file and the key, instead of dropping a card at run
time: a topic without a card or a card without a topic, values the card does not use or placeholders the rule
does not hand over, variants the values cannot name, suggestions a rule cannot offer (or offers and the card
lacks), and phrase keys missing, unused or worded with names the rule does not give.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, get_args, get_type_hints

from cdshooks.catalog.loader import CardSpec, CatalogError, load_catalog
from cdshooks.catalog.phrases import PHRASES_FILE, PhraseBook, load_phrases
from cdshooks.catalog.safety import ContrastTexts, load_contrast_texts, renal_variant_names
from cdshooks.clinical.topics import Registry, Topic, registry
from cdshooks.clinical.wording import Listing, declared_phrases


@dataclass(frozen=True)
class Cards:
    """The checked catalog: topic cards and the phrase book."""

    catalog: Mapping[str, CardSpec]
    phrases: PhraseBook
    contrast: ContrastTexts  # the catalog-wide contrast safety wording (_safety.yaml)


def load_cards(override_dir: str | Path | None = None) -> Cards:
    """Catalog + phrase book (shipped, with a site's `<dir>/cards/` overrides), checked against the registry;
    CatalogError naming file and key at the first problem."""
    catalog = load_catalog(override_dir=override_dir)
    phrases = load_phrases(override_dir=override_dir)
    check(catalog, phrases, registry())
    return Cards(catalog, phrases, load_contrast_texts(override_dir=override_dir))


@cache
def default_cards() -> Cards:
    return load_cards(None)


def check(catalog: Mapping[str, CardSpec], phrases: PhraseBook, reg: Registry) -> None:
    problems = _topic_problems(catalog, reg) + _phrase_problems(phrases)
    if problems:
        raise CatalogError(problems[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))


def problems(catalog: Mapping[str, CardSpec], phrases: PhraseBook, reg: Registry) -> list[str]:
    """Every mismatch, for tests and `check-config`."""
    return _topic_problems(catalog, reg) + _phrase_problems(phrases)


def _topic_problems(catalog: Mapping[str, CardSpec], reg: Registry) -> list[str]:
    out = [f"{code}.yaml: missing: topic {code!r} has a rule ({_rules_of(reg, code)}) but no card"
           for code in sorted(set(reg.topics) - set(catalog))]
    out += [f"{spec.path}: topic: no rule emits {code!r} (a card without a rule)"
            for code, spec in sorted(catalog.items()) if code not in reg.topics]
    for code, topic in sorted(reg.topics.items()):
        if code in catalog:
            out += _card_problems(catalog[code], topic, reg)
    return out


def _rules_of(reg: Registry, code: str) -> str:
    return ", ".join(r.name for r in reg.rules if any(t.code == code for t in r.emits)) or "none"


def _card_problems(spec: CardSpec, topic: Topic[Any], reg: Registry) -> list[str]:
    out = []
    if not reg.hooks_of(topic.code):
        out.append(f"{spec.path}: topic {topic.code!r} is emitted by no rule")
    fields = topic.field_names() - {"variant"}
    used = spec.placeholders() - {"variant"}
    name = topic.values.__name__
    out += [f"{spec.path}: {{{p}}}: not a value of {name} (the rule hands over {sorted(fields)})"
            for p in sorted(used - fields)]
    out += [f"{spec.path}: {name}.{f}: handed over by the rule but used by no template of the card"
            for f in sorted(fields - used)]
    allowed = topic.variants()
    if allowed is not None:
        wanted = set(allowed) | renal_variant_names(allowed)
        out += [f"{spec.path}: variants.{v}: {name}.variant cannot name it (allowed: {sorted(allowed)})"
                for v in sorted(set(spec.variants) - wanted)]
    declared, offered = set(topic.suggestions), set(spec.suggestions)
    out += [f"{spec.path}: suggestions: {s!r} is offered by the rule but the card has no such suggestion"
            for s in sorted(declared - offered)]
    out += [f"{spec.path}: suggestions.{s}: no rule of the topic offers it" for s in sorted(offered - declared)]
    return out


def _phrase_problems(book: PhraseBook) -> list[str]:
    declared = declared_phrases()
    out = [f"{PHRASES_FILE}: phrases.{k}: missing (a rule uses it)" for k in sorted(set(declared) - set(book.phrases))]
    out += [f"{PHRASES_FILE}: phrases.{k}: no rule uses it" for k in sorted(set(book.phrases) - set(declared))]
    for key in sorted(set(declared) & set(book.phrases)):
        extra = book.arguments(key) - declared[key]
        if extra:
            out.append(f"{PHRASES_FILE}: phrases.{key}: {{{sorted(extra)[0]}}} is not handed over by the rule "
                       f"(it gives {sorted(declared[key]) or 'nothing'})")
    styles = set(get_args(get_type_hints(Listing)["style"]))
    out += [f"{PHRASES_FILE}: joins.{s}: missing" for s in sorted(styles - set(book.joins))]
    return out
