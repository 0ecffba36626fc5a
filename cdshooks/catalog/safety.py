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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from cdshooks.catalog.loader import SuggestionSpec, catalog_dir, read_yaml, schema_error
from cdshooks.clinical.knowledge import Knowledge

SAFETY_FILE = "_safety.yaml"

Fill = Callable[[str, Mapping[str, Any]], str]


class _Labels(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    replace: str
    add: str


class ContrastTexts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
    labels: _Labels  # action -> label template with {procedure}
    swapped: str
    dropped: str
    note: str
    mentioned: str  # the note for a card whose wording names a contrast CT


class _SafetyFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    contrast: ContrastTexts


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


def renal_variant_names(variants: Sequence[str]) -> set[str]:
    """Every renal wording a card may hold for these variants (and the base texts)."""
    return {"renal", *(f"{v}-renal" for v in variants)}


def names_contrast_ct(text: str) -> bool:
    return CONTRAST_CT_TEXT.search(text) is not None


def advises_contrast_ct(text: str) -> bool:
    return ADVISES_CONTRAST_CT.search(text) is not None


def load_contrast_texts(directory: Path | None = None, override_dir: str | Path | None = None) -> ContrastTexts:
    """`_safety.yaml` (a site's `<override>/cards/_safety.yaml` replaces it whole), schema-checked."""
    override = Path(override_dir) / "cards" / SAFETY_FILE if override_dir else None
    path = override if override is not None and override.is_file() else (directory or catalog_dir()) / SAFETY_FILE
    try:
        return _SafetyFile.model_validate(read_yaml(path)).contrast
    except ValidationError as exc:
        raise schema_error(SAFETY_FILE, exc) from None


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
            label = fill(getattr(self._texts.labels, spec.action), {"procedure": self.name(alt)})
            kept.append(spec.model_copy(update={"label": label, "procedure": alt}))
            changes.append(fill(self._texts.swapped, {"offered": self.name(alt), "replaced": self.name(procedure)}))
        if not changes:
            return ContrastOutcome(tuple(kept), None)
        note = fill(self._texts.note, {"renal_evidence": renal_evidence, "changes": "; ".join(changes)})
        return ContrastOutcome(tuple(kept), note)
