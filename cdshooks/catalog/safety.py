"""The safety net applied to every card of every topic, where findings become cards.

Contrast and kidneys (clinical-rules.md §7.2, R07; ACR–NKF 2020 consensus): when the record shows severe renal
impairment (the engine marks the finding with `contrast_risk`), no suggestion may create a study with
iodinated contrast. `ContrastPolicy.apply` is the ONE function that decides it for all cards: a suggestion whose
order carries iodinated contrast (by its class or by the codes of the order it creates) is replaced by the
class's `non_contrast_alternative` (knowledge/procedures.yaml), or dropped when there is none or another
suggestion of the card already offers it. The card then says why, in the words of `cards/_safety.yaml`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from cdshooks import yaml_reader
from cdshooks.catalog.loader import CatalogError, SuggestionSpec, catalog_dir
from cdshooks.clinical.knowledge import Knowledge

SAFETY_FILE = "_safety.yaml"

Fill = Callable[[str, Mapping[str, Any]], str]


@dataclass(frozen=True)
class ContrastTexts:
    labels: Mapping[str, str]  # action -> label template with {procedure}
    swapped: str
    dropped: str
    note: str
    mentioned: str  # the note for a card whose wording names a contrast CT


# wording that names a CT with iodinated contrast (MRI "w/o+w contrast" is gadolinium and not matched)
# (a dated study label, "CT C/A/P with contrast 2026-04-30", is a study done, not advice, and is not matched)
CONTRAST_CT_TEXT = re.compile(
    r"(?i)\b(?:CT\b[^.\n;]{0,60}?\bwith (?:IV |intravenous |iodinated )?contrast(?! \d{4}-\d{2}-\d{2})"
    r"|contrast(?:-enhanced)? (?:body |chest |abdomen |neck |head )?CT|contrast CT)")
# wording that advises one: a recommending word before it in the same clause
ADVISES_CONTRAST_CT = re.compile(
    r"(?i)\b(?:add|order|prefer|consider|obtain|request|recommend\w*|suggest\w*|next step)\b[^.;:\n]{0,50}?"
    r"(?:contrast(?:-enhanced)? (?:body |chest |abdomen |neck |head )?CT|\bCT\b[^.;:\n]{0,40}?\bwith "
    r"(?:IV |intravenous |iodinated )?contrast(?! \d{4}-\d{2}-\d{2}))")
# the topic whose whole point is this warning does not need the note repeated
RENAL_TOPIC = "renal-impairment-contrast"


def renal_variant(variants: Sequence[str] | Mapping[str, Any], variant: str | None) -> str | None:
    """The variant a card is shown in when the kidneys are at risk: `<variant>-renal`, else `renal` for the base
    texts; None when the card has no such variant."""
    wanted = f"{variant}-renal" if variant else "renal"
    return wanted if wanted in variants else None


def names_contrast_ct(text: str) -> bool:
    return CONTRAST_CT_TEXT.search(text) is not None


def advises_contrast_ct(text: str) -> bool:
    return ADVISES_CONTRAST_CT.search(text) is not None


def load_contrast_texts(directory: Path | None = None) -> ContrastTexts:
    path = (directory or catalog_dir()) / SAFETY_FILE
    try:
        data = yaml_reader.safe_load(path.read_text(encoding="utf-8"))
        section = data["contrast"]
        labels = {str(k): str(v) for k, v in section["labels"].items()}
        texts = ContrastTexts(labels, str(section["swapped"]), str(section["dropped"]), str(section["note"]).strip(),
                              str(section["mentioned"]).strip())
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
        raise CatalogError(f"{SAFETY_FILE}: contrast texts missing or malformed ({exc!r})") from None
    if set(texts.labels) != {"replace", "add"}:
        raise CatalogError(f"{SAFETY_FILE}: contrast.labels needs exactly 'replace' and 'add'")
    return texts


@dataclass(frozen=True)
class ContrastOutcome:
    suggestions: tuple[SuggestionSpec, ...]
    note: str | None  # the sentence for the card's detail (None: nothing was changed)


class ContrastPolicy:
    """Knows, from the knowledge, which procedure classes (as suggested orders) carry iodinated contrast."""

    def __init__(self, kb: Knowledge, orders: Callable[[str], list[tuple[list[dict[str, str]], str]]],
                 texts: ContrastTexts | None = None) -> None:
        self._kb = kb
        self._orders = orders
        self._texts = texts or load_contrast_texts()

    def uses_contrast(self, procedure: str) -> bool:
        """The suggested order (a class, optionally `CLASS:region`) is a study with iodinated contrast."""
        base = procedure.partition(":")[0]
        if self._kb.procedure_field(base, "iodinated_contrast") is True:
            return True
        try:
            created = self._orders(procedure)
        except KeyError:
            return False
        for codings, text in created:
            match = self._kb.classify_procedure({"coding": codings, "text": text})
            if match is not None and match.iodinated_contrast is True:
                return True
        return False

    def alternative(self, procedure: str) -> str | None:
        alt = self._kb.procedure_field(procedure.partition(":")[0], "non_contrast_alternative")
        return str(alt) if alt else None

    def mentioned_note(self, renal_evidence: str, fill: Fill) -> str:
        return fill(self._texts.mentioned, {"renal_evidence": renal_evidence})

    def name(self, procedure: str) -> str:
        return str(self._kb.procedure_field(procedure.partition(":")[0], "display") or procedure)

    def apply(self, suggestions: Sequence[SuggestionSpec], values: Mapping[str, Any], renal_evidence: str | None,
              fill: Fill) -> ContrastOutcome:
        """The suggestions a card may show given the renal evidence (None: no risk, nothing changes)."""
        if not renal_evidence:
            return ContrastOutcome(tuple(suggestions), None)
        filled = [fill(s.procedure, values) for s in suggestions]
        offered = {p for p in filled if not self.uses_contrast(p)}
        kept: list[SuggestionSpec] = []
        changes: list[str] = []
        for spec, procedure in zip(suggestions, filled, strict=True):
            if not self.uses_contrast(procedure):
                kept.append(spec)
                continue
            alt = self.alternative(procedure)
            if alt is None or alt in offered:
                changes.append(fill(self._texts.dropped, {"replaced": self.name(procedure)})
                               if alt is None else fill(self._texts.swapped, {"offered": self.name(alt),
                                                                              "replaced": self.name(procedure)}))
                continue
            offered.add(alt)
            label = fill(self._texts.labels[spec.action], {"procedure": self.name(alt)})
            kept.append(replace(spec, label=label, procedure=alt))
            changes.append(fill(self._texts.swapped, {"offered": self.name(alt), "replaced": self.name(procedure)}))
        if not changes:
            return ContrastOutcome(tuple(kept), None)
        note = fill(self._texts.note, {"renal_evidence": renal_evidence, "changes": "; ".join(changes)})
        return ContrastOutcome(tuple(kept), note)
