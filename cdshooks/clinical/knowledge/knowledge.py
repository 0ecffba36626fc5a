"""The Knowledge class: validated, indexed knowledge and the lookups the rules use."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import Any

from cdshooks.clinical.knowledge.model import (
    _SYSTEM_LABELS,
    PROCEDURE_SYSTEM_ORDER,
    AcrEntry,
    Medication,
    ProcedureMatch,
    Terminology,
    ValueSet,
    _MedInfo,
    _ProcCode,
    _ProcPattern,
)
from cdshooks.clinical.report_reading import ReportGrammar
from cdshooks.fhir.codes import codings, concept_text


@dataclass(frozen=True, eq=False)
class Knowledge:
    """All clinical knowledge, validated and indexed. Build with :func:`load_knowledge`."""

    parameters: Mapping[str, int | float]
    terminology: Terminology
    _valuesets: Mapping[str, ValueSet]
    _vs_index: Mapping[tuple[str, str], frozenset[str]]
    _procedures: Mapping[str, Mapping[str, Any]]
    _proc_codes: Mapping[tuple[str, str], _ProcCode]
    _proc_patterns: tuple[_ProcPattern, ...]
    _proc_parts: Mapping[str, frozenset[str]]
    _generic_modalities: Mapping[tuple[str, str], str]
    _acr: Mapping[str, AcrEntry]
    _acr_data: Mapping[str, Any]
    _med_codes: Mapping[tuple[str, str], tuple[str, bool | None]]
    _med_names: Mapping[str, str]
    _med_regex: re.Pattern[str] | None
    _meds: Mapping[str, _MedInfo]
    _parameter_info: Mapping[str, Mapping[str, Any]]
    report_grammar: ReportGrammar  # report_phrases.yaml compiled for read_report(..., grammar=)

    # -- value sets ---------------------------------------------------------------------------------------

    def valueset(self, name: str) -> ValueSet:
        """The named value set; KeyError naming it when unknown."""
        try:
            return self._valuesets[name]
        except KeyError:
            hint = ""
            if name in {"VS_CHEMO", "VS_HER2", "VS_ENDOCRINE", "VS_CDK46", "VS_BMA"}:
                hint = " (medication classes: use Knowledge.medication())"
            elif name.startswith("VS_PROC_"):
                hint = " (imaging procedures: use Knowledge.procedure_class())"
            raise KeyError(f"unknown value set {name!r}{hint}") from None

    @property
    def valueset_names(self) -> tuple[str, ...]:
        return tuple(self._valuesets)

    def valuesets_for_coding(self, system: str | None, code: str | None) -> frozenset[str]:
        """Names of the value sets listing this exact code (prefix members are not included)."""
        key = self.terminology.key(system, code)
        return self._vs_index.get(key, frozenset()) if key else frozenset()

    # -- medications --------------------------------------------------------------------------------------

    def medication(self, concept: Any) -> Medication | None:
        """The ingredient and class of a medication concept: RxNorm (or other listed) product or ingredient
        code first, else a whole-word name match on text and displays."""
        found = self.medications(concept)
        return found[0] if found else None

    def medications(self, concept: Any) -> tuple[Medication, ...]:
        """All ingredients recognised in a concept (combination products), coded ones first."""
        text = concept_text(concept)
        results: dict[str, Medication] = {}
        for system, code, _ in codings(concept):
            key = self.terminology.key(system, code)
            if key is not None and key in self._med_codes:
                ingredient, dose_flag = self._med_codes[key]
                results.setdefault(ingredient, self._make_medication(ingredient, dose_flag, text))
        if not results:
            for ingredient in self._names_in(text):
                results.setdefault(ingredient, self._make_medication(ingredient, None, text))
        return tuple(results.values())

    def osteoporosis_dose(self, ingredient: str, text: str) -> bool | None:
        """Whether ``text`` (a medication text, or a structured dose rendered as "60 mg") names the osteoporosis
        regimen of ``ingredient`` (True), its oncology regimen (False), or neither (None). The one place this is
        decided: the ``*_dose_patterns`` of medications.yaml."""
        info = self._meds.get(ingredient)
        if info is None or not text:
            return None
        if any(p.search(text) for p in info.oncology_patterns):
            return False
        if any(p.search(text) for p in info.osteoporosis_patterns):
            return True
        return None

    def has_dose_patterns(self, ingredient: str) -> bool:
        """Whether a text can tell the regimen of ``ingredient`` (medications.yaml ``*_dose_patterns``): without
        them ``osteoporosis_dose`` answers None for every text, so a structured dose need not be read."""
        info = self._meds.get(ingredient)
        return bool(info and (info.oncology_patterns or info.osteoporosis_patterns))

    def continuous_exposure(self, ingredient: str) -> bool:
        """True for an agent taken every day or as a depot (medications.yaml `exposure: continuous`): an order or
        statement of it is exposure over its whole period, not one dose on its start date."""
        info = self._meds.get(ingredient)
        return bool(info and info.continuous)

    def ingredients(self, drug_class: str) -> tuple[str, ...]:
        """Ingredient names of a drug class, in file order."""
        return tuple(name for name, info in self._meds.items() if info.drug_class == drug_class)

    def _names_in(self, text: str) -> list[str]:
        if not text or self._med_regex is None:
            return []
        found: list[str] = []
        for match in self._med_regex.finditer(text):
            ingredient = self._med_names.get(_normalize_name(match.group(0)))
            if ingredient and ingredient not in found:
                found.append(ingredient)
        return found

    def _make_medication(self, ingredient: str, dose_flag: bool | None, text: str) -> Medication:
        info = self._meds[ingredient]
        if dose_flag is None:
            dose_flag = bool(self.osteoporosis_dose(ingredient, text))
        return Medication(ingredient=ingredient, drug_class=info.drug_class, osteoporosis_dose=dose_flag)

    # -- procedures ---------------------------------------------------------------------------------------

    def procedure_class(self, concept: Any) -> str | None:
        """The imaging procedure class: CPT, then LOINC, then SNOMED codes, then text; None if unknown."""
        match = self.classify_procedure(concept)
        return match.procedure_class if match else None

    def classify_procedure(self, concept: Any) -> ProcedureMatch | None:
        """Like :meth:`procedure_class`, with region, contrast and how the class was found.

        Codes decide; text only specialises a coded class (NaF PET/CT over a PET/CT CPT code; a C/A/P text
        over one CT half). Codes of two halves (CPT 71260 + 74177) combine into the whole (CT_CAP_IV).
        """
        coded = self._coded_matches(concept)
        text_match = self._text_match(concept_text(concept))
        coded_classes = {m.procedure_class for m in coded}
        candidates: list[ProcedureMatch] = [
            self._match(cls, None, None, "combined")
            for cls in sorted(self.combine_procedure_classes(coded_classes) - coded_classes)
        ]
        candidates.extend(coded)
        if text_match and (not coded or self._subsumes(text_match.procedure_class, coded_classes)):
            candidates.append(text_match)
        all_classes = {c.procedure_class for c in candidates}
        for candidate in candidates:
            others = all_classes - {candidate.procedure_class}
            if not any(self._subsumes(other, {candidate.procedure_class}) for other in others):
                return self._with_text_region(candidate, text_match)
        return None

    def combine_procedure_classes(self, classes: Iterable[str]) -> frozenset[str]:
        """``classes`` plus every class whose parts (``combined_from``) are all present, e.g. CT_CHEST_IV +
        CT_ABD_PELVIS_IV -> also CT_CAP_IV. Use it across the orders of one session."""
        result = set(classes)
        changed = True
        while changed:
            changed = False
            for name, entry in self._procedures.items():
                parts = entry.get("combined_from") or ()
                if name not in result and parts and set(parts) <= result:
                    result.add(name)
                    changed = True
        return frozenset(result)

    @cached_property
    def procedure_groups(self) -> Mapping[str, frozenset[str]]:
        """Group name (procedures.yaml `groups`, e.g. `body-survey`) -> the procedure classes in it."""
        groups: dict[str, set[str]] = {}
        for name, entry in self._procedures.items():
            for group in entry.get("groups") or ():
                groups.setdefault(str(group), set()).add(name)
        return MappingProxyType({group: frozenset(classes) for group, classes in groups.items()})

    def procedure(self, procedure_class: str) -> dict[str, Any]:
        """A copy of the procedures.yaml entry (codes, modality, display, order); KeyError if unknown."""
        try:
            return copy.deepcopy(dict(self._procedures[procedure_class]))
        except KeyError:
            raise KeyError(f"unknown procedure class {procedure_class!r}") from None

    def procedure_field(self, procedure_class: str, name: str) -> Any:
        """One top-level field of a procedure entry (None when absent or the class is unknown), without the
        copy `procedure()` makes: for hot paths that read a display name or a modality."""
        entry = self._procedures.get(procedure_class)
        return entry.get(name) if entry is not None else None

    def procedure_name(self, procedure_class: str) -> str | None:
        """The compact name for one-line summaries (`short`), else `display`."""
        name = self.procedure_field(procedure_class, "short") or self.procedure_field(procedure_class, "display")
        return name if isinstance(name, str) else None

    @property
    def procedure_classes(self) -> tuple[str, ...]:
        return tuple(self._procedures)

    def procedure_modality(self, concept: Any) -> str | None:
        """NM / CT / PT / MR / XR from the procedure class, else from a generic imaging-method code."""
        match = self.classify_procedure(concept)
        if match:
            return match.modality
        for system, code, _ in codings(concept):
            key = self.terminology.key(system, code)
            if key is not None and key in self._generic_modalities:
                return self._generic_modalities[key]
        return None

    def _match(self, cls: str, region: str | None, contrast: bool | None, how: str) -> ProcedureMatch:
        entry = self._procedures[cls]
        if contrast is None:
            contrast = entry.get("iodinated_contrast")
        return ProcedureMatch(cls, entry["modality"], region, contrast, how)

    def _coded_matches(self, concept: Any) -> list[ProcedureMatch]:
        by_system: dict[str, list[ProcedureMatch]] = {}
        for system, code, _ in codings(concept):
            key = self.terminology.key(system, code)
            hit = self._proc_codes.get(key) if key else None
            if key and hit:
                how = _SYSTEM_LABELS.get(key[0], "code")
                match = self._match(hit.procedure_class, hit.region, hit.iodinated_contrast, how)
                by_system.setdefault(key[0], []).append(match)
        ordered = [s for s in PROCEDURE_SYSTEM_ORDER if s in by_system]
        ordered += [s for s in by_system if s not in PROCEDURE_SYSTEM_ORDER]
        return [m for s in ordered for m in by_system[s]]

    def _text_match(self, text: str) -> ProcedureMatch | None:
        if not text:
            return None
        flat = " ".join(text.split())
        for pattern in self._proc_patterns:
            if pattern.regex.search(flat):
                return self._match(pattern.procedure_class, pattern.region, None, "text")
        return None

    def _subsumes(self, cls: str, others: set[str]) -> bool:
        """True when ``cls`` is a whole made of some of ``others`` or a specialisation of one of them."""
        if self._proc_parts.get(cls, frozenset()) & others:
            return True
        return self._procedures[cls].get("refines") in others

    @staticmethod
    def _with_text_region(match: ProcedureMatch, text_match: ProcedureMatch | None) -> ProcedureMatch:
        if match.region is None and text_match and text_match.procedure_class == match.procedure_class:
            return ProcedureMatch(
                match.procedure_class,
                match.modality,
                text_match.region,
                match.iodinated_contrast,
                match.matched_by,
            )
        return match

    # -- ACR ----------------------------------------------------------------------------------------------

    def acr(self, procedure_class: str) -> AcrEntry | None:
        """The ACR row for a procedure class, or None when no rating is known (never invented)."""
        return self._acr.get(procedure_class)

    @property
    def acr_scenario(self) -> Mapping[str, Any]:
        return MappingProxyType(self._acr_data["scenario"])

    @property
    def pama_system(self) -> str:
        return str(self._acr_data["pama_rating"]["system"])

    @property
    def pama_no_rating(self) -> str:
        """The Argonaut pama-rating code for procedures without a known rating ("no-criteria-apply")."""
        return str(self._acr_data["pama_rating"]["no_rating"]["code"])

    # -- parameters ---------------------------------------------------------------------------------------

    def param(self, name: str) -> int | float:
        """A numeric rule parameter (e.g. ``param("P_FLARE_MIN_DAYS")``); KeyError naming it if unknown."""
        try:
            return self.parameters[name]
        except KeyError:
            raise KeyError(f"unknown parameter {name!r}") from None

    def parameter_info(self, name: str) -> Mapping[str, Any]:
        """value, unit, status and provenance of a parameter (for card details and review)."""
        try:
            return MappingProxyType(dict(self._parameter_info[name]))
        except KeyError:
            raise KeyError(f"unknown parameter {name!r}") from None


def _normalize_name(name: str) -> str:
    return " ".join(re.split(r"[\s-]+", name.casefold().strip()))

