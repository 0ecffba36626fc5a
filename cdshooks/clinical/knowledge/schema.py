"""The shape of every knowledge file, as pydantic models.

Each file is checked against its model before anything is built from it: every key is known (`extra="forbid"`,
so a misspelt key is refused, not ignored), required keys are present and values have their type (strict: no
"5" for 5, no "yes" for true). The builders then check what a shape cannot say: cross-references, codes mapped
twice, regexes with text fragments. `validation.validate` turns a pydantic error into a KnowledgeError that
names the file, the entry and the key in plain words.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from cdshooks.clinical.knowledge.model import (
    ACR_CATEGORIES,
    CODE_STATUSES,
    DRUG_CLASSES,
    MODALITIES,
    PARAMETER_STATUSES,
)


class Shape(BaseModel):
    """A mapping of a knowledge file: known keys only, strict types."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _one_of(allowed: frozenset[str]) -> AfterValidator:
    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"must be one of {sorted(allowed)}")
        return value

    return AfterValidator(check)


def _regex(pattern: str) -> str:
    try:
        re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"is not a valid regular expression: {exc}") from None
    return pattern


def _code_text(value: Any) -> Any:
    """A code written as a bare YAML number (`code: 12345`) is the string of its digits."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _none_is_empty(value: Any) -> Any:
    """`codes:` with nothing under it is an empty list."""
    return [] if value is None else value


def _number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    return value


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
AnyText = Annotated[str, StringConstraints(strip_whitespace=True)]
Code = Annotated[Text, BeforeValidator(_code_text)]
Regex = Annotated[str, StringConstraints(min_length=1), AfterValidator(_regex)]
Number = Annotated[int | float, BeforeValidator(_number)]
CodeStatus = Annotated[str, _one_of(CODE_STATUSES)]
Modality = Annotated[str, _one_of(MODALITIES)]
NoneIsEmpty = BeforeValidator(_none_is_empty)


def _needs_one_of(what: str, *fields: str) -> Callable[[Any], Any]:
    """An `after` model check: at least one of ``fields`` is non-empty."""

    def check(model: Any) -> Any:
        if not any(getattr(model, name) for name in fields):
            raise ValueError(f"{what} needs {', '.join(fields[:-1])} or {fields[-1]}")
        return model

    return check


# --------------------------------------------------------------------------------------------- shared


class Coding(Shape):
    """A code as listed in the knowledge: system, code, display, verification status."""

    system: Text
    code: Code
    display: str
    status: CodeStatus
    note: str | None = None


class OrderCoding(Shape):
    """A code of an order a card suggests (no verification status)."""

    system: Text
    code: Code
    display: str


# --------------------------------------------------------------------------------------------- valuesets.yaml


class SystemAlias(Shape):
    alias: Text
    system: Text
    status: CodeStatus | None = None
    source: Text


class ValueSetCode(Coding):
    kind: Text | None = None


class ValueSetPrefix(Shape):
    system: Text
    prefix: Code
    status: CodeStatus
    kind: Text | None = None
    note: str | None = None


class KindPattern(Shape):
    pattern: Regex
    kind: Text | None = None


def _pattern_item(value: Any) -> Any:
    return {"pattern": value} if isinstance(value, str) else value


class ValueSetShape(Shape):
    description: Text
    source: Text
    codes: Annotated[list[ValueSetCode], NoneIsEmpty] = []
    prefixes: Annotated[list[ValueSetPrefix], NoneIsEmpty] = []
    text_patterns: Annotated[list[Annotated[KindPattern, BeforeValidator(_pattern_item)]], NoneIsEmpty] = []
    exclude_text_patterns: Annotated[list[Regex], NoneIsEmpty] = []
    use_default_excludes: bool = True

    _check = model_validator(mode="after")(_needs_one_of("a value set", "codes", "prefixes", "text_patterns"))


class ValueSetsFile(Shape):
    system_aliases: Annotated[list[SystemAlias], NoneIsEmpty] = []
    default_exclude_text_patterns: Annotated[list[Regex], NoneIsEmpty] = []
    valuesets: dict[str, ValueSetShape]


# --------------------------------------------------------------------------------------------- procedures.yaml


class ProcedureCode(Coding):
    region: Text | None = None
    iodinated_contrast: bool | None = None


class ProcedurePattern(Shape):
    pattern: Text  # may hold {{FRAGMENT}} names: compiled by the builder once they are expanded
    priority: int = 100
    region: Text | None = None


class OrderShape(Shape):
    text: Text
    codes: Annotated[list[OrderCoding], NoneIsEmpty] = []
    cpt_pair: list[Code] | None = None


# the groups of procedure classes rules ask about (`PatientFacts.classes_in`): a site may regroup classes, not
# invent groups no rule reads
ProcedureGroup = Literal["body-survey", "visceral-survey"]


class ProcedureShape(Shape):
    display: Text
    short: Text | None = None
    modality: Modality
    dicom_modalities: Annotated[list[Text], NoneIsEmpty] = []
    iodinated_contrast: bool | None = None
    non_contrast_alternative: Text | None = None
    source: Text
    codes: Annotated[list[ProcedureCode], NoneIsEmpty] = []
    text_patterns: Annotated[list[ProcedurePattern], NoneIsEmpty] = []
    combined_from: Annotated[list[Text], NoneIsEmpty] = []
    refines: Text | None = None
    groups: Annotated[list[ProcedureGroup], NoneIsEmpty] = []
    order: OrderShape | None = None
    order_by_region: dict[str, OrderShape] | None = None

    _check = model_validator(mode="after")(_needs_one_of("a procedure class", "codes", "text_patterns"))


class GenericModalityCode(Coding):
    modality: Modality


class ExcludedCode(Shape):
    system: Text
    code: Code
    display: str | None = None
    reason: Text


class ProceduresFile(Shape):
    text_fragments: Annotated[dict[str, Regex], NoneIsEmpty] = {}
    procedures: dict[str, ProcedureShape]
    generic_modality_codes: Annotated[list[GenericModalityCode], NoneIsEmpty] = []
    excluded_codes: Annotated[list[ExcludedCode], NoneIsEmpty] = []


# --------------------------------------------------------------------------------------------- medications.yaml


class MedicationCode(Coding):
    osteoporosis_dose: bool | None = None


class DrugClassShape(Shape):
    value_set: Text
    description: Text


class MedicationShape(Shape):
    drug_class: Annotated[str, _one_of(DRUG_CLASSES)] = Field(alias="class")
    source: Text
    ingredient_code: MedicationCode | None = None
    products: Annotated[list[MedicationCode], NoneIsEmpty] = []
    names: Annotated[list[Text], Field(min_length=1)]
    oncology_dose_patterns: Annotated[list[Regex], NoneIsEmpty] = []
    osteoporosis_dose_patterns: Annotated[list[Regex], NoneIsEmpty] = []
    exposure: Annotated[str, _one_of(frozenset({"doses", "continuous"}))] = "doses"


class MedicationsFile(Shape):
    drug_classes: dict[Annotated[str, _one_of(DRUG_CLASSES)], DrugClassShape]
    medications: dict[str, MedicationShape]


# --------------------------------------------------------------------------------------------- acr_table.yaml


class ScenarioShape(Shape):
    id: Text | None = None
    panel: Text | None = None
    topic_id: int | None = None
    topic: Text
    variant: int | Text
    wording: Text
    seed_paraphrase: Text | None = None
    version: Text
    date: Text | datetime.date | None = None
    retrieved_for_project: Text | None = None
    complete: bool | None = None
    source: Text
    auc_uri: Text | None = None


class RrlLevel(Shape):
    symbol: Text
    msv: Text
    status: CodeStatus


class RrlScale(Shape):
    source: Text
    levels: list[RrlLevel]


AcrCategory = Annotated[str, _one_of(ACR_CATEGORIES)]


class AcrRowShape(Shape):
    acr_wording: AnyText = ""
    category: AcrCategory
    rrl: Text
    rrl_msv: Text
    rrl_status: CodeStatus | None = None
    source: Text
    notes: AnyText = ""
    rates_parts: Annotated[list[Text], NoneIsEmpty] = []
    rates_parts_provenance: Text | None = None


class PamaCategory(Shape):
    code: Text
    acr_scores: Text | None = None
    provenance: Text


class NoRating(Shape):
    code: Text
    provenance: Text | None = None


class PamaRating(Shape):
    system: Text
    extension_url: Text | None = None
    categories: dict[AcrCategory, PamaCategory]
    no_rating: NoRating

    @model_validator(mode="after")
    def _every_category(self) -> PamaRating:
        missing = ACR_CATEGORIES - set(self.categories)
        if missing:
            raise ValueError(f"categories: {sorted(missing)} missing")
        return self


class AcrFile(Shape):
    scenario: ScenarioShape
    rrl_scale: RrlScale | None = None
    rows: dict[str, AcrRowShape]
    pama_rating: PamaRating


# --------------------------------------------------------------------------------------------- parameters.yaml


class ParameterShape(Shape):
    value: Number
    unit: AnyText
    status: Annotated[str, _one_of(PARAMETER_STATUSES)]
    provenance: Text


class ParametersFile(Shape):
    parameters: dict[str, ParameterShape]


# --------------------------------------------------------------------------------------------- report_phrases.yaml


def _phrase(pattern: str) -> str:
    """A phrase is joined into an alternation with the others of its layer: it must compile inside a group
    (no global flags mid-pattern) and never match the empty text (the layer would then match everywhere)."""
    try:
        compiled = re.compile(f"(?:{pattern})")
    except re.error as exc:
        raise ValueError(f"is not a valid regular expression: {exc}") from None
    if compiled.fullmatch(""):
        raise ValueError("matches the empty text")
    if compiled.groupindex:
        raise ValueError("must not name a group ((?P<name>...)): the reader names its groups after the lists")
    return pattern


PositiveInt = Annotated[int, Field(gt=0)]


class PhraseList(Shape):
    source: Text
    patterns: Annotated[list[Annotated[str, StringConstraints(min_length=1), AfterValidator(_phrase)]],
                        Field(min_length=1)]
    boundary: bool = True


class ScopeWindows(Shape):
    """Trigger kind -> window in words (the names are checked against the reader's trigger kinds)."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, PositiveInt] = Field(init=False)
    source: Text


class HedgeWindow(Shape):
    source: Text
    words: PositiveInt


class ReportPhrasesFile(Shape):
    """Settings plus one phrase list per name (the names are checked against the lists the reader reads)."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, PhraseList] = Field(init=False)
    version: int = 1
    scope_windows: ScopeWindows
    hedge_window: HedgeWindow
