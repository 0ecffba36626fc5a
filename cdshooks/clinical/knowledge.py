"""Clinical knowledge loaded from reviewable data: value sets, procedures, ACR table, parameters, medications.

The knowledge itself lives in ``cdshooks/knowledge/*.yaml`` — every code with its verification status and
source, every window with its provenance — so that a clinician can review it without reading Python. This
module only loads, validates and indexes it, and answers the questions the rules ask:

* ``knowledge.valueset("VS_BONE_METS").matches(condition["code"])``
* ``knowledge.procedure_class(service_request["code"])``  ->  ``"BONE_SCAN_WB"``
* ``knowledge.acr("BONE_SCAN_WB")``  ->  category, RRL, Argonaut pama-rating code
* ``knowledge.medication(med_request["medicationCodeableConcept"])``  ->  ingredient + class
* ``knowledge.param("P_FLARE_MIN_DAYS")``

Lookups are indexed once at load (system|code -> value sets / procedure class / ingredient), so matching a
concept costs O(number of its codings); text fallbacks are regexes compiled once.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from cdshooks.fhir.codes import codings, concept_text

KNOWLEDGE_DIR = Path(__file__).resolve().parent.parent / "knowledge"

VALUESETS_FILE = "valuesets.yaml"
PROCEDURES_FILE = "procedures.yaml"
ACR_FILE = "acr_table.yaml"
PARAMETERS_FILE = "parameters.yaml"
MEDICATIONS_FILE = "medications.yaml"

# The section of each file whose entries an override file replaces one by one (null deletes an entry).
ENTRY_SECTIONS: Mapping[str, str] = MappingProxyType(
    {
        VALUESETS_FILE: "valuesets",
        PROCEDURES_FILE: "procedures",
        ACR_FILE: "rows",
        PARAMETERS_FILE: "parameters",
        MEDICATIONS_FILE: "medications",
    }
)

CPT = "http://www.ama-assn.org/go/cpt"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"

PROCEDURE_SYSTEM_ORDER: tuple[str, ...] = (CPT, LOINC, SNOMED)
_SYSTEM_LABELS: Mapping[str, str] = MappingProxyType({CPT: "cpt", LOINC: "loinc", SNOMED: "snomed"})
CODE_STATUSES = frozenset({"V-IG", "V-REF", "C", "UNVERIFIED"})
PARAMETER_STATUSES = frozenset({"DESIGN DEFAULT", "SOURCED", "UNVERIFIED", "LOCAL OVERRIDE"})
DRUG_CLASSES = frozenset({"chemotherapy", "her2", "endocrine", "cdk46", "bone-modifying"})
ACR_CATEGORIES = frozenset({"usually-appropriate", "may-be-appropriate", "usually-not-appropriate"})
MODALITIES = frozenset({"NM", "CT", "PT", "MR", "XR"})

_FRAGMENT_RE = re.compile(r"\{\{(\w+)\}\}")
_NEGATION_RE = re.compile(
    r"\b(no|not|denies|denied|denying|negative for|without|r/o|rule out|ruled out|absence of|absent|free of|"
    r"never had|no evidence of|no history of)\b",
    re.IGNORECASE,
)
_CLAUSE_BREAK_RE = re.compile(r"[.;:,\n|]|\bbut\b|\bhowever\b", re.IGNORECASE)
_NEGATION_WINDOW = 40


class KnowledgeError(ValueError):
    """The knowledge files are missing, malformed or inconsistent; the message names the file and entry."""


# --------------------------------------------------------------------------------------------- terminology


@dataclass(frozen=True)
class Terminology:
    """Normalises (system, code) pairs so that equal codes compare equal however an EHR spells them.

    Systems: aliases (HL7 OIDs, WHO ICD-10) map to the canonical URIs; a trailing "/" is ignored.
    Codes: trimmed and case-folded; ICD-10-CM codes also lose their dot ("C50.911" == "C50911").
    """

    aliases: Mapping[str, str] = field(default_factory=dict)

    def system(self, system: str | None) -> str | None:
        if not isinstance(system, str) or not system.strip():
            return None
        cleaned = system.strip().rstrip("/")
        return self.aliases.get(cleaned.casefold(), cleaned)

    def code(self, system: str | None, code: str | None) -> str | None:
        if not isinstance(code, str) or not code.strip():
            return None
        cleaned = code.strip().casefold()
        return cleaned.replace(".", "") if system == ICD10CM else cleaned

    def key(self, system: str | None, code: str | None) -> tuple[str, str] | None:
        canonical = self.system(system)
        normalized = self.code(canonical, code)
        if canonical is None or normalized is None:
            return None
        return canonical, normalized


def _negated(text: str, start: int) -> bool:
    """True when a negation word precedes position ``start`` within the same clause."""
    window = text[max(0, start - _NEGATION_WINDOW) : start]
    breaks = list(_CLAUSE_BREAK_RE.finditer(window))
    if breaks:
        window = window[breaks[-1].end() :]
    return _NEGATION_RE.search(window) is not None


# --------------------------------------------------------------------------------------------- value sets


@dataclass(frozen=True)
class CodeEntry:
    """One code of a value set, as listed in valuesets.yaml."""

    system: str
    code: str
    display: str
    status: str
    kind: str | None = None


@dataclass(frozen=True)
class PrefixEntry:
    """A code prefix (e.g. ICD-10-CM "C50.") standing for every code that starts with it."""

    system: str
    prefix: str
    status: str
    kind: str | None = None


@dataclass(frozen=True)
class TextPattern:
    """A case-insensitive regex for the name fallback, with the sub-kind it signals (if any)."""

    regex: re.Pattern[str]
    kind: str | None = None


@dataclass(frozen=True)
class ValueSet:
    """A named set of codes (exact or by prefix) with a text fallback; see valuesets.yaml."""

    name: str
    description: str = ""
    source: str = ""
    codes: tuple[CodeEntry, ...] = ()
    prefixes: tuple[PrefixEntry, ...] = ()
    text_patterns: tuple[TextPattern, ...] = ()
    exclude_patterns: tuple[re.Pattern[str], ...] = ()
    terminology: Terminology = field(default_factory=Terminology, repr=False, compare=False)
    _index: Mapping[tuple[str, str], str | None] = field(default_factory=dict, repr=False, compare=False)
    _prefix_index: Mapping[str, tuple[tuple[str, str | None], ...]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def _coding_hit(self, system: str | None, code: str | None) -> tuple[bool, str | None]:
        key = self.terminology.key(system, code)
        if key is None:
            return False, None
        if key in self._index:
            return True, self._index[key]
        for prefix, kind in self._prefix_index.get(key[0], ()):
            if key[1].startswith(prefix):
                return True, kind
        return False, None

    def matches_coding(self, system: str | None, code: str | None) -> bool:
        """Exact code, or a code under one of the prefixes (ICD-10 compared without dots)."""
        return self._coding_hit(system, code)[0]

    def matches_text(self, text: str | None) -> bool:
        """Any text pattern found in ``text`` and not negated in its clause ("no weight loss" is no match)."""
        return bool(self._text_hits(text))

    def matches(self, concept: Any) -> bool:
        """A CodeableConcept (or Coding, or list of them): any coding matches, else the text fallback on
        ``text`` and coding displays."""
        if any(self.matches_coding(system, code) for system, code, _ in codings(concept)):
            return True
        return self.matches_text(concept_text(concept))

    def kinds(self, concept: Any) -> frozenset[str]:
        """Sub-kinds (e.g. "headache", "alt", "stage-4") of the matching codes, else of the matching text."""
        coded: set[str] = set()
        any_hit = False
        for system, code, _ in codings(concept):
            hit, kind = self._coding_hit(system, code)
            any_hit = any_hit or hit
            if hit and kind:
                coded.add(kind)
        if any_hit:
            return frozenset(coded)
        return frozenset(p.kind for p in self._text_hits(concept_text(concept)) if p.kind)

    def _text_hits(self, text: str | None) -> list[TextPattern]:
        if not text or any(p.search(text) for p in self.exclude_patterns):
            return []
        hits = []
        for pattern in self.text_patterns:
            if any(not _negated(text, m.start()) for m in pattern.regex.finditer(text)):
                hits.append(pattern)
        return hits


# --------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Medication:
    """What a medication concept is: its ingredient and drug class."""

    ingredient: str
    drug_class: str
    osteoporosis_dose: bool = False


@dataclass(frozen=True)
class AcrEntry:
    """One row of the ACR table (acr_table.yaml) with its Argonaut pama-rating code."""

    procedure_class: str
    category: str
    rrl: str
    rrl_msv: str
    source: str
    pama_rating: str
    acr_wording: str = ""
    notes: str = ""


@dataclass(frozen=True)
class ProcedureMatch:
    """How an imaging concept was classified."""

    procedure_class: str
    modality: str
    region: str | None = None
    iodinated_contrast: bool | None = None
    matched_by: str = "code"


@dataclass(frozen=True)
class _ProcCode:
    procedure_class: str
    region: str | None
    iodinated_contrast: bool | None


@dataclass(frozen=True)
class _ProcPattern:
    priority: int
    order: int
    regex: re.Pattern[str]
    procedure_class: str
    region: str | None


@dataclass(frozen=True)
class _MedInfo:
    drug_class: str
    oncology_patterns: tuple[re.Pattern[str], ...] = ()
    osteoporosis_patterns: tuple[re.Pattern[str], ...] = ()


# --------------------------------------------------------------------------------------------- knowledge


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
            if key in self._med_codes:
                ingredient, dose_flag = self._med_codes[key]
                results.setdefault(ingredient, self._make_medication(ingredient, dose_flag, text))
        if not results:
            for ingredient in self._names_in(text):
                results.setdefault(ingredient, self._make_medication(ingredient, None, text))
        return tuple(results.values())

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
            dose_flag = _osteoporosis_dose(info, text)
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

    def procedure(self, procedure_class: str) -> dict[str, Any]:
        """A copy of the procedures.yaml entry (codes, modality, display, order); KeyError if unknown."""
        try:
            return copy.deepcopy(dict(self._procedures[procedure_class]))
        except KeyError:
            raise KeyError(f"unknown procedure class {procedure_class!r}") from None

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
            if key in self._generic_modalities:
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


def _osteoporosis_dose(info: _MedInfo, text: str) -> bool:
    if not info.osteoporosis_patterns or not text:
        return False
    if any(p.search(text) for p in info.oncology_patterns):
        return False
    return any(p.search(text) for p in info.osteoporosis_patterns)


# --------------------------------------------------------------------------------------------- loading


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        with path.open(encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except OSError as exc:
        raise KnowledgeError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        raise KnowledgeError(f"{path}: invalid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise KnowledgeError(f"{path}: top level must be a mapping, not {type(data).__name__}")
    return data


def _deep_merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _deep_merge(base.get(key), value) if key in base else value
        return merged
    return override


@dataclass
class _Loaded:
    """One knowledge file after merging: its data and which file each entry / section came from."""

    name: str
    data: dict[str, Any]
    shipped: Path
    override: Path | None = None
    overridden: set[str] = field(default_factory=set)

    def origin(self, entry: str | None = None) -> Path:
        if self.override is not None and entry is not None and entry in self.overridden:
            return self.override
        return self.shipped

    def error(self, entry: str | None, message: str) -> KnowledgeError:
        where = f"{self.origin(entry)}"
        label = f" [{entry}]" if entry else ""
        return KnowledgeError(f"{where}{label}: {message}")


def _load_file(name: str, override_dir: Path | None) -> _Loaded:
    shipped = KNOWLEDGE_DIR / name
    loaded = _Loaded(name, _read_yaml(shipped), shipped)
    if override_dir is None:
        return loaded
    override_path = override_dir / name
    if not override_path.is_file():
        return loaded
    _apply_override(loaded, override_path, _read_yaml(override_path))
    return loaded


def _apply_override(loaded: _Loaded, path: Path, override: dict[str, Any]) -> None:
    loaded.override = path
    section = ENTRY_SECTIONS[loaded.name]
    for key, value in override.items():
        if key != section:
            loaded.data[key] = _deep_merge(loaded.data.get(key), value) if key in loaded.data else value
            loaded.overridden.add(key)
            continue
        if not isinstance(value, dict):
            raise KnowledgeError(f"{path} [{section}]: must be a mapping of named entries")
        entries = dict(loaded.data.get(section) or {})
        for entry_name, entry in value.items():
            loaded.overridden.add(str(entry_name))
            if entry is None:
                entries.pop(entry_name, None)
            elif section == "parameters" and not isinstance(entry, dict):
                entries[entry_name] = _scalar_parameter(entries.get(entry_name), entry, path)
            else:
                entries[entry_name] = entry
        loaded.data[section] = entries


def _scalar_parameter(base: Any, value: Any, path: Path) -> dict[str, Any]:
    unit = base.get("unit", "") if isinstance(base, dict) else ""
    return {
        "value": value,
        "unit": unit,
        "status": "LOCAL OVERRIDE",
        "provenance": f"site override file {path}",
    }


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


# --------------------------------------------------------------------------------------------- builders


def _build_terminology(loaded: _Loaded) -> Terminology:
    aliases: dict[str, str] = {}
    for item in _require_list(loaded, "system_aliases", loaded.data.get("system_aliases"), "system_aliases"):
        obj = _require_mapping(loaded, "system_aliases", item, "an alias")
        _check_keys(loaded, "system_aliases", obj, {"alias", "system", "status", "source"}, "alias")
        alias = _require_str(loaded, "system_aliases", obj, "alias")
        system = _require_str(loaded, "system_aliases", obj, "system")
        _require_str(loaded, "system_aliases", obj, "source")
        aliases[alias.rstrip("/").casefold()] = system
    return Terminology(MappingProxyType(aliases))


_VALUESET_FIELDS = {
    "description",
    "source",
    "codes",
    "prefixes",
    "text_patterns",
    "exclude_text_patterns",
    "use_default_excludes",
}


def _build_valueset(
    loaded: _Loaded, name: str, raw: Any, terms: Terminology, default_excludes: tuple[re.Pattern[str], ...]
) -> ValueSet:
    obj = _require_mapping(loaded, name, raw, "a value set")
    _check_keys(loaded, name, obj, _VALUESET_FIELDS, "value set")
    description = _require_str(loaded, name, obj, "description")
    source = _require_str(loaded, name, obj, "source")
    codes = tuple(
        _value_code(loaded, name, item) for item in _require_list(loaded, name, obj.get("codes"), "codes")
    )
    prefixes = tuple(
        _value_prefix(loaded, name, item)
        for item in _require_list(loaded, name, obj.get("prefixes"), "prefixes")
    )
    patterns = tuple(
        _value_pattern(loaded, name, item)
        for item in _require_list(loaded, name, obj.get("text_patterns"), "text_patterns")
    )
    if not (codes or prefixes or patterns):
        raise loaded.error(name, "a value set needs codes, prefixes or text_patterns")
    excludes = _pattern_list(loaded, name, obj.get("exclude_text_patterns"))
    if obj.get("use_default_excludes", True) not in (True, False):
        raise loaded.error(name, "use_default_excludes must be true or false")
    if obj.get("use_default_excludes", True):
        excludes = default_excludes + excludes
    index: dict[tuple[str, str], str | None] = {}
    for code in codes:
        key = terms.key(code.system, code.code)
        if key is not None:
            index[key] = code.kind
    prefix_index: dict[str, list[tuple[str, str | None]]] = {}
    for prefix in sorted(prefixes, key=lambda p: -len(p.prefix)):
        canonical = terms.system(prefix.system) or prefix.system
        normalized = terms.code(canonical, prefix.prefix) or ""
        prefix_index.setdefault(canonical, []).append((normalized, prefix.kind))
    return ValueSet(
        name,
        description,
        source,
        codes,
        prefixes,
        patterns,
        excludes,
        terms,
        MappingProxyType(index),
        MappingProxyType({k: tuple(v) for k, v in prefix_index.items()}),
    )


def _value_code(loaded: _Loaded, name: str, item: Any) -> CodeEntry:
    obj = _code_item(loaded, name, item, {"kind"})
    return CodeEntry(
        system=str(obj["system"]).strip(),
        code=str(obj["code"]).strip(),
        display=str(obj.get("display") or ""),
        status=str(obj["status"]),
        kind=_optional_str(loaded, name, obj, "kind"),
    )


def _value_prefix(loaded: _Loaded, name: str, item: Any) -> PrefixEntry:
    obj = _require_mapping(loaded, name, item, "a prefix")
    _check_keys(loaded, name, obj, {"system", "prefix", "status", "kind", "note"}, "prefix")
    system = _require_str(loaded, name, obj, "system")
    prefix = _require_str(loaded, name, obj, "prefix")
    if obj.get("status") not in CODE_STATUSES:
        raise loaded.error(name, f"prefix {prefix!r}: status must be one of {sorted(CODE_STATUSES)}")
    return PrefixEntry(system, prefix, str(obj["status"]), _optional_str(loaded, name, obj, "kind"))


def _value_pattern(loaded: _Loaded, name: str, item: Any) -> TextPattern:
    if isinstance(item, dict):
        _check_keys(loaded, name, item, {"pattern", "kind"}, "text pattern")
        return TextPattern(
            _compile(loaded, name, item.get("pattern")), _optional_str(loaded, name, item, "kind")
        )
    return TextPattern(_compile(loaded, name, item))


def _build_valuesets(
    loaded: _Loaded, terms: Terminology
) -> tuple[dict[str, ValueSet], dict[Any, frozenset[str]]]:
    section = _require_mapping(loaded, "valuesets", loaded.data.get("valuesets"), "'valuesets'")
    default_excludes = _pattern_list(
        loaded, "default_exclude_text_patterns", loaded.data.get("default_exclude_text_patterns")
    )
    valuesets = {
        str(name): _build_valueset(loaded, str(name), raw, terms, default_excludes)
        for name, raw in section.items()
    }
    reverse: dict[tuple[str, str], set[str]] = {}
    for vs in valuesets.values():
        for key in vs._index:
            reverse.setdefault(key, set()).add(vs.name)
    return valuesets, {k: frozenset(v) for k, v in reverse.items()}


_PROCEDURE_FIELDS = {
    "display",
    "short",
    "modality",
    "dicom_modalities",
    "iodinated_contrast",
    "source",
    "codes",
    "text_patterns",
    "combined_from",
    "refines",
    "order",
    "order_by_region",
}


@dataclass
class _ProcedureTables:
    codes: dict[tuple[str, str], _ProcCode] = field(default_factory=dict)
    patterns: list[_ProcPattern] = field(default_factory=list)
    generic: dict[tuple[str, str], str] = field(default_factory=dict)


def _build_procedures(
    loaded: _Loaded, terms: Terminology
) -> tuple[dict[str, Mapping[str, Any]], _ProcedureTables]:
    section = _require_mapping(loaded, "procedures", loaded.data.get("procedures"), "'procedures'")
    fragments = _require_mapping(
        loaded, "text_fragments", loaded.data.get("text_fragments") or {}, "text_fragments"
    )
    for fragment_name, fragment in fragments.items():
        _compile(loaded, "text_fragments", fragment)
        if not isinstance(fragment_name, str):
            raise loaded.error("text_fragments", f"fragment names must be strings (got {fragment_name!r})")
    excluded = _excluded_keys(loaded, terms)
    tables = _ProcedureTables()
    procedures: dict[str, Mapping[str, Any]] = {}
    for order, (raw_name, raw) in enumerate(section.items()):
        name = str(raw_name)
        obj = _require_mapping(loaded, name, raw, "a procedure class")
        _check_procedure(loaded, name, obj)
        for item in _require_list(loaded, name, obj.get("codes"), "codes"):
            _add_procedure_code(loaded, name, item, terms, tables, excluded)
        for item in _require_list(loaded, name, obj.get("text_patterns"), "text_patterns"):
            tables.patterns.append(_procedure_pattern(loaded, name, item, fragments, order))
        procedures[name] = obj
    _check_procedure_links(loaded, procedures)
    _add_generic_codes(loaded, terms, tables)
    tables.patterns.sort(key=lambda p: (p.priority, p.order))
    return procedures, tables


def _check_procedure(loaded: _Loaded, name: str, obj: Mapping[str, Any]) -> None:
    _check_keys(loaded, name, obj, _PROCEDURE_FIELDS, "procedure class")
    _require_str(loaded, name, obj, "display")
    _require_str(loaded, name, obj, "source")
    if obj.get("modality") not in MODALITIES:
        raise loaded.error(
            name, f"modality must be one of {sorted(MODALITIES)} (got {obj.get('modality')!r})"
        )
    if obj.get("iodinated_contrast") not in (True, False, None):
        raise loaded.error(name, "iodinated_contrast must be true, false or null")
    if not obj.get("codes") and not obj.get("text_patterns"):
        raise loaded.error(name, "a procedure class needs codes or text_patterns")
    for order_name, order in _orders(loaded, name, obj):
        order_obj = _require_mapping(loaded, name, order, order_name)
        _check_keys(loaded, name, order_obj, {"text", "codes", "cpt_pair"}, order_name)
        _require_str(loaded, name, order_obj, "text")
        for item in _require_list(loaded, name, order_obj.get("codes"), f"{order_name}.codes"):
            _code_item(loaded, name, item, set(), need_status=False)


def _orders(loaded: _Loaded, name: str, obj: Mapping[str, Any]) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    if "order" in obj:
        found.append(("order", obj["order"]))
    by_region = obj.get("order_by_region")
    if by_region is not None:
        regions = _require_mapping(loaded, name, by_region, "order_by_region")
        found.extend((f"order_by_region.{region}", order) for region, order in regions.items())
    return found


def _add_procedure_code(
    loaded: _Loaded,
    name: str,
    item: Any,
    terms: Terminology,
    tables: _ProcedureTables,
    excluded: set[tuple[str, str]],
) -> None:
    obj = _code_item(loaded, name, item, {"region", "iodinated_contrast"})
    key = terms.key(str(obj["system"]), str(obj["code"]))
    if key is None:
        raise loaded.error(name, f"code {obj['code']!r} cannot be normalised")
    if key in excluded:
        raise loaded.error(name, f"code {obj['code']!r} is listed in excluded_codes and must not be mapped")
    existing = tables.codes.get(key)
    if existing is not None and existing.procedure_class != name:
        raise loaded.error(name, f"code {obj['code']!r} is already mapped to {existing.procedure_class}")
    contrast = obj.get("iodinated_contrast")
    if contrast not in (True, False, None):
        raise loaded.error(name, f"code {obj['code']!r}: iodinated_contrast must be true, false or null")
    tables.codes[key] = _ProcCode(name, _optional_str(loaded, name, obj, "region"), contrast)


def _procedure_pattern(
    loaded: _Loaded, name: str, item: Any, fragments: Mapping[str, str], order: int
) -> _ProcPattern:
    obj = _require_mapping(loaded, name, item, "a text pattern")
    _check_keys(loaded, name, obj, {"pattern", "priority", "region"}, "text pattern")
    priority = obj.get("priority", 100)
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise loaded.error(name, f"priority must be an integer (got {priority!r})")
    regex = _compile(loaded, name, obj.get("pattern"), fragments)
    return _ProcPattern(priority, order, regex, name, _optional_str(loaded, name, obj, "region"))


def _check_procedure_links(loaded: _Loaded, procedures: Mapping[str, Mapping[str, Any]]) -> None:
    for name, obj in procedures.items():
        parts = _require_list(loaded, name, obj.get("combined_from"), "combined_from")
        refines = obj.get("refines")
        for other in [*parts, *([refines] if refines is not None else [])]:
            if other not in procedures or other == name:
                raise loaded.error(name, f"refers to unknown procedure class {other!r}")


def _proc_parts(procedures: Mapping[str, Mapping[str, Any]]) -> dict[str, frozenset[str]]:
    """Every class's transitive parts (MRI_CAP -> MRI_CHEST, MRI_ABDOMEN_PELVIS, MRI_ABDOMEN, MRI_PELVIS)."""
    result: dict[str, frozenset[str]] = {}
    for name, entry in procedures.items():
        seen: set[str] = set()
        pending = list(entry.get("combined_from") or ())
        while pending:
            part = pending.pop()
            if part not in seen:
                seen.add(part)
                pending.extend(procedures[part].get("combined_from") or ())
        result[name] = frozenset(seen)
    return result


def _excluded_keys(loaded: _Loaded, terms: Terminology) -> set[tuple[str, str]]:
    keys: set[tuple[str, str]] = set()
    for item in _require_list(loaded, "excluded_codes", loaded.data.get("excluded_codes"), "excluded_codes"):
        obj = _require_mapping(loaded, "excluded_codes", item, "an excluded code")
        _check_keys(loaded, "excluded_codes", obj, {"system", "code", "display", "reason"}, "excluded code")
        _require_str(loaded, "excluded_codes", obj, "reason")
        key = terms.key(
            _require_str(loaded, "excluded_codes", obj, "system"),
            _require_str(loaded, "excluded_codes", obj, "code"),
        )
        if key:
            keys.add(key)
    return keys


def _add_generic_codes(loaded: _Loaded, terms: Terminology, tables: _ProcedureTables) -> None:
    entry = "generic_modality_codes"
    for item in _require_list(loaded, entry, loaded.data.get(entry), entry):
        obj = _code_item(loaded, entry, item, {"modality"})
        if obj.get("modality") not in MODALITIES:
            raise loaded.error(entry, f"code {obj['code']!r}: modality must be one of {sorted(MODALITIES)}")
        key = terms.key(str(obj["system"]), str(obj["code"]))
        if key in tables.codes:
            raise loaded.error(entry, f"code {obj['code']!r} is also a procedure-class code")
        if key:
            tables.generic[key] = str(obj["modality"])


def _build_acr(loaded: _Loaded, procedures: Mapping[str, Any]) -> dict[str, AcrEntry]:
    scenario = _require_mapping(loaded, "scenario", loaded.data.get("scenario"), "'scenario'")
    for key in ("topic", "wording", "version", "source"):
        _require_str(loaded, "scenario", scenario, key)
    if not isinstance(scenario.get("variant"), int | str):
        raise loaded.error("scenario", "'variant' is required")
    pama = _require_mapping(loaded, "pama_rating", loaded.data.get("pama_rating"), "'pama_rating'")
    _require_str(loaded, "pama_rating", pama, "system")
    categories = _require_mapping(loaded, "pama_rating", pama.get("categories"), "pama_rating.categories")
    ratings: dict[str, str] = {}
    for category in ACR_CATEGORIES:
        cat = _require_mapping(
            loaded, "pama_rating", categories.get(category), f"pama_rating.categories.{category}"
        )
        ratings[category] = _require_str(loaded, "pama_rating", cat, "code")
        _require_str(loaded, "pama_rating", cat, "provenance")
    no_rating = _require_mapping(loaded, "pama_rating", pama.get("no_rating"), "pama_rating.no_rating")
    _require_str(loaded, "pama_rating", no_rating, "code")
    rows = _require_mapping(loaded, "rows", loaded.data.get("rows"), "'rows'")
    return {str(cls): _acr_row(loaded, str(cls), raw, procedures, ratings) for cls, raw in rows.items()}


def _acr_row(
    loaded: _Loaded, cls: str, raw: Any, procedures: Mapping[str, Any], ratings: Mapping[str, str]
) -> AcrEntry:
    obj = _require_mapping(loaded, cls, raw, "an ACR row")
    allowed = {"acr_wording", "category", "rrl", "rrl_msv", "rrl_status", "source", "notes"}
    _check_keys(loaded, cls, obj, allowed, "ACR row")
    if cls not in procedures:
        raise loaded.error(cls, "ACR row for an unknown procedure class")
    category = obj.get("category")
    if category not in ACR_CATEGORIES:
        raise loaded.error(cls, f"category must be one of {sorted(ACR_CATEGORIES)} (got {category!r})")
    return AcrEntry(
        procedure_class=cls,
        category=str(category),
        rrl=_require_str(loaded, cls, obj, "rrl"),
        rrl_msv=_require_str(loaded, cls, obj, "rrl_msv"),
        source=_require_str(loaded, cls, obj, "source"),
        pama_rating=ratings[str(category)],
        acr_wording=str(obj.get("acr_wording") or ""),
        notes=str(obj.get("notes") or "").strip(),
    )


def _build_parameters(loaded: _Loaded) -> tuple[dict[str, int | float], dict[str, Mapping[str, Any]]]:
    section = _require_mapping(loaded, "parameters", loaded.data.get("parameters"), "'parameters'")
    values: dict[str, int | float] = {}
    info: dict[str, Mapping[str, Any]] = {}
    for raw_name, raw in section.items():
        name = str(raw_name)
        obj = _require_mapping(loaded, name, raw, "a parameter")
        _check_keys(loaded, name, obj, {"value", "unit", "status", "provenance"}, "parameter")
        value = obj.get("value")
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise loaded.error(name, f"value must be a number (got {value!r})")
        if obj.get("status") not in PARAMETER_STATUSES:
            raise loaded.error(name, f"status must be one of {sorted(PARAMETER_STATUSES)}")
        _require_str(loaded, name, obj, "provenance")
        _require_str(loaded, name, obj, "unit", empty_ok=True)
        values[name] = value
        info[name] = MappingProxyType(dict(obj))
    return values, info


@dataclass
class _MedicationTables:
    codes: dict[tuple[str, str], tuple[str, bool | None]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    infos: dict[str, _MedInfo] = field(default_factory=dict)


_MEDICATION_FIELDS = {
    "class",
    "source",
    "ingredient_code",
    "products",
    "names",
    "oncology_dose_patterns",
    "osteoporosis_dose_patterns",
}


def _build_medications(loaded: _Loaded, terms: Terminology) -> _MedicationTables:
    classes = _require_mapping(loaded, "drug_classes", loaded.data.get("drug_classes"), "'drug_classes'")
    unknown = set(classes) - DRUG_CLASSES
    if unknown:
        raise loaded.error("drug_classes", f"unknown drug class(es) {sorted(unknown)}")
    section = _require_mapping(loaded, "medications", loaded.data.get("medications"), "'medications'")
    tables = _MedicationTables()
    for raw_name, raw in section.items():
        name = str(raw_name).strip().casefold()
        obj = _require_mapping(loaded, name, raw, "a medication")
        _check_keys(loaded, name, obj, _MEDICATION_FIELDS, "medication")
        _require_str(loaded, name, obj, "source")
        if obj.get("class") not in DRUG_CLASSES:
            raise loaded.error(
                name, f"class must be one of {sorted(DRUG_CLASSES)} (got {obj.get('class')!r})"
            )
        _add_medication_codes(loaded, name, obj, terms, tables)
        _add_medication_names(loaded, name, obj, tables)
        tables.infos[name] = _MedInfo(
            drug_class=str(obj["class"]),
            oncology_patterns=_pattern_list(loaded, name, obj.get("oncology_dose_patterns")),
            osteoporosis_patterns=_pattern_list(loaded, name, obj.get("osteoporosis_dose_patterns")),
        )
    return tables


def _add_medication_codes(
    loaded: _Loaded, name: str, obj: Mapping[str, Any], terms: Terminology, tables: _MedicationTables
) -> None:
    items = _require_list(loaded, name, obj.get("products"), "products")
    if obj.get("ingredient_code") is not None:
        items = [obj["ingredient_code"], *items]
    for item in items:
        code = _code_item(loaded, name, item, {"osteoporosis_dose"})
        dose = code.get("osteoporosis_dose")
        if dose not in (True, False, None):
            raise loaded.error(name, f"code {code['code']!r}: osteoporosis_dose must be true or false")
        key = terms.key(str(code["system"]), str(code["code"]))
        if key is None:
            raise loaded.error(name, f"code {code['code']!r} cannot be normalised")
        if key in tables.codes and tables.codes[key][0] != name:
            raise loaded.error(name, f"code {code['code']!r} is already mapped to {tables.codes[key][0]}")
        tables.codes[key] = (name, dose)


def _add_medication_names(
    loaded: _Loaded, name: str, obj: Mapping[str, Any], tables: _MedicationTables
) -> None:
    names = _require_list(loaded, name, obj.get("names"), "names")
    if not names:
        raise loaded.error(name, "a medication needs at least one name for the text fallback")
    for alias in names:
        if not isinstance(alias, str) or not alias.strip():
            raise loaded.error(name, f"names must be non-empty strings (got {alias!r})")
        normalized = _normalize_name(alias)
        owner = tables.names.get(normalized)
        if owner is not None and owner != name:
            raise loaded.error(name, f"name {alias!r} is already used by {owner}")
        tables.names[normalized] = name


def _pattern_list(loaded: _Loaded, name: str, raw: Any) -> tuple[re.Pattern[str], ...]:
    return tuple(_compile(loaded, name, item) for item in _require_list(loaded, name, raw, "dose patterns"))


def _names_regex(names: Iterable[str]) -> re.Pattern[str] | None:
    alternatives = sorted(set(names), key=len, reverse=True)
    if not alternatives:
        return None
    parts = [r"[\s-]+".join(re.escape(token) for token in alias.split(" ")) for alias in alternatives]
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(parts) + r")(?![a-z0-9])", re.IGNORECASE)


# --------------------------------------------------------------------------------------------- entry points


def _resolve_override(override_dir: str | Path | None) -> Path | None:
    if override_dir is None:
        return None
    path = Path(override_dir)
    if not path.is_dir():
        raise KnowledgeError(f"{path}: knowledge override directory does not exist")
    return path


def load_knowledge(override_dir: str | Path | None = None) -> Knowledge:
    """Load, merge (site overrides) and validate the knowledge files; raise KnowledgeError naming the file
    and entry at the first problem.

    A same-named YAML file in ``override_dir`` replaces entries one by one (parameters per key — a bare number
    is accepted; value sets, procedures and medications per name; ACR rows per procedure class; ``null``
    removes an entry) and deep-merges every other section.
    """
    overrides = _resolve_override(override_dir)
    vs_file, proc_file = _load_file(VALUESETS_FILE, overrides), _load_file(PROCEDURES_FILE, overrides)
    acr_file, param_file = _load_file(ACR_FILE, overrides), _load_file(PARAMETERS_FILE, overrides)
    med_file = _load_file(MEDICATIONS_FILE, overrides)

    terms = _build_terminology(vs_file)
    valuesets, vs_index = _build_valuesets(vs_file, terms)
    procedures, proc_tables = _build_procedures(proc_file, terms)
    acr = _build_acr(acr_file, procedures)
    parameters, parameter_info = _build_parameters(param_file)
    meds = _build_medications(med_file, terms)
    return Knowledge(
        parameters=MappingProxyType(parameters),
        terminology=terms,
        _valuesets=MappingProxyType(valuesets),
        _vs_index=MappingProxyType(vs_index),
        _procedures=MappingProxyType(procedures),
        _proc_codes=MappingProxyType(proc_tables.codes),
        _proc_patterns=tuple(proc_tables.patterns),
        _proc_parts=MappingProxyType(_proc_parts(procedures)),
        _generic_modalities=MappingProxyType(proc_tables.generic),
        _acr=MappingProxyType(acr),
        _acr_data=MappingProxyType(acr_file.data),
        _med_codes=MappingProxyType(meds.codes),
        _med_names=MappingProxyType(meds.names),
        _med_regex=_names_regex(meds.names),
        _meds=MappingProxyType(meds.infos),
        _parameter_info=MappingProxyType(parameter_info),
    )


@functools.cache
def default_knowledge() -> Knowledge:
    """The shipped knowledge, loaded once per process."""
    return load_knowledge(None)
