"""Order-time appropriateness against the ACR scenario (R02, R03, R06, R17, early-stage surveys) and the
rating each imaging draft gets (Argonaut PAMA codes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from cdshooks.clinical.facts import (
    BODY_SURVEY,
    BONE_SCAN_WB,
    BONE_SCANS,
    CT_CAP_IV,
    FDG_PETCT,
    VISCERAL_SURVEY,
    XR_SURVEY,
    DraftOrder,
    PatientFacts,
)
from cdshooks.clinical.findings import CardValues, Finding, Rating
from cdshooks.clinical.rules.scenario import (
    Params,
    cns_symptoms,
    known_or_suspected_bone_mets,
    renal_impairment,
    scenario_applies,
    suspicion,
)
from cdshooks.clinical.topics import ORDER_HOOKS, Topic, rule
from cdshooks.clinical.wording import Listing, Phrase, Shown, phrase_key


class AcrRow(Protocol):  # read-only members, so a frozen dataclass row (AcrEntry) satisfies it
    @property
    def category(self) -> str: ...  # usually-appropriate | may-be-appropriate | usually-not-appropriate
    @property
    def pama_rating(self) -> str: ...  # appropriate | not-appropriate (knowledge/acr_table.yaml)
    @property
    def rrl(self) -> str: ...  # relative radiation level symbol
    @property
    def rrl_msv(self) -> str: ...  # its dose range
    @property
    def acr_wording(self) -> str: ...  # the procedure as the ACR variant names it
    @property
    def rated_as(self) -> str | None: ...  # a region of a survey: the survey class whose rating it takes


# procedure class -> its row of the ACR table (None: the table does not rate it)
AcrLookup = Callable[[str], AcrRow | None]

ALTERNATIVES = {BONE_SCAN_WB: phrase_key("alternative-bone-scan"), CT_CAP_IV: phrase_key("alternative-contrast-ct"),
                FDG_PETCT: phrase_key("alternative-fdg-petct")}
SUBTYPE = {True: phrase_key("subtype-inflammatory"), False: phrase_key("subtype-triple-negative")}
REPLACE = {BONE_SCAN_WB: "replace-bone-scan", CT_CAP_IV: "replace-ct-cap-iv", FDG_PETCT: "replace-fdg-petct"}
EARLY_STAGES = {"0", "I", "IA", "IB", "IIA"}  # ACR Variant 2 rates surveys usually not appropriate up to IIA


def imaging_orders(facts: PatientFacts) -> list[DraftOrder]:
    """The selected imaging drafts (once per call: most order rules ask)."""
    return list(facts.once(("imaging_orders",), lambda: tuple(
        [o for o in facts.selected_orders() if o.procedure_class is not None])))


def drafted(facts: PatientFacts, classes: frozenset[str] | set[str]) -> bool:
    """Any draft order of the session (selected or not) in these classes."""
    return any(o.procedure_class in classes for o in facts.orders)


def recently_imaged(facts: PatientFacts, classes: frozenset[str] | set[str], days: float) -> bool:
    return any(i.procedure_class in classes and facts.within(i.when, days) for i in facts.imaging)


@dataclass(frozen=True, kw_only=True)
class NotAppropriateValues(CardValues):
    order: str
    survey: str  # the procedure as the ACR variant names it (a region: the survey it is rated as)
    alternatives: Listing
    suspicion: Shown


@dataclass(frozen=True, kw_only=True)
class AppropriateValues(CardValues):
    order: str
    rrl: str
    suspicion: Shown


@dataclass(frozen=True, kw_only=True)
class OrderStageValues(CardValues):
    order: str
    stage: str | None


@dataclass(frozen=True, kw_only=True)
class SubtypeValues(CardValues):
    order: str
    subtype: Phrase


@dataclass(frozen=True, kw_only=True)
class OrderValues(CardValues):
    order: str


NOT_APPROPRIATE = Topic("acr-usually-not-appropriate", NotAppropriateValues, suggestions=tuple(REPLACE.values()))
APPROPRIATE = Topic("acr-usually-appropriate", AppropriateValues)
NO_SUSPICION = Topic("no-suspicion-survey-not-indicated", OrderStageValues)
AGGRESSIVE = Topic("aggressive-subtype-pet-ct", SubtypeValues, suggestions=("replace-fdg-petct",))
RADIOGRAPH = Topic("radiograph-survey-insensitive", OrderValues, suggestions=("replace-bone-scan",))


@rule(ORDER_HOOKS, emits=(NOT_APPROPRIATE,), rank=1, uses_acr=True)
def usually_not_appropriate(facts: PatientFacts, params: Params, acr: AcrLookup) -> list[Finding]:
    """R03: a survey the ACR rates usually not appropriate, with the appropriate ones to switch to."""
    if not scenario_applies(facts, params):
        return []
    wrong = [o for o in imaging_orders(facts)
             if (row := acr(o.procedure_class or "")) is not None and row.category == "usually-not-appropriate"]
    if not wrong:
        return []
    alternatives = [BONE_SCAN_WB, CT_CAP_IV, FDG_PETCT]
    if renal_impairment(facts, params) is not None:
        alternatives.remove(CT_CAP_IV)  # R07: no contrast CT when contrast is the problem
    first = wrong[0]
    row = acr(first.procedure_class or "")
    part_of = row.rated_as if row is not None else None  # a single region rated as its survey (detail says so)
    return [NOT_APPROPRIATE.finding(
        NotAppropriateValues(order=first.label, variant="SURVEY_PART" if part_of else first.procedure_class,
                             survey=row.acr_wording if row is not None else first.label,
                             alternatives=Listing(tuple(ALTERNATIVES[a]() for a in alternatives), "or"),
                             suspicion=suspicion(facts, params).describe()),
        orders=wrong, suggestions=tuple(REPLACE[a] for a in alternatives))]


@rule(ORDER_HOOKS, emits=(APPROPRIATE,), rank=2, uses_acr=True)
def usually_appropriate(facts: PatientFacts, params: Params, acr: AcrLookup) -> list[Finding]:
    """R02: the survey is one the ACR rates usually appropriate. A quiet confirmation: the pipeline sends it
    only when appropriate-order cards are switched on."""
    if not scenario_applies(facts, params):
        return []
    kidneys_at_risk = renal_impairment(facts, params) is not None
    for order in imaging_orders(facts):
        if kidneys_at_risk and order.iodinated_contrast:
            continue  # never confirm a contrast study the kidneys cannot take (R07: the renal card speaks)
        row = acr(order.procedure_class or "")
        if row is not None and row.category == "usually-appropriate":
            return [APPROPRIATE.finding(
                AppropriateValues(order=order.label, rrl=f"{row.rrl} {row.rrl_msv} mSv",
                                  suspicion=suspicion(facts, params).describe()), orders=(order,))]
    return []


@rule(ORDER_HOOKS, emits=(NO_SUSPICION,), rank=18)
def no_suspicion_survey(facts: PatientFacts, params: Params) -> list[Finding]:
    """Early-stage disease, no symptom or lab suspicion: a systemic survey is usually not indicated."""
    if facts.breast_cancer is None or facts.stage not in EARLY_STAGES or known_or_suspected_bone_mets(facts):
        return []
    if suspicion(facts, params).any or cns_symptoms(facts, params) or facts.other_mets:
        return []
    surveys = [o for o in imaging_orders(facts) if o.procedure_class in facts.classes_in(BODY_SURVEY)]
    if not surveys:
        return []
    return [NO_SUSPICION.finding(OrderStageValues(order=surveys[0].label, stage=facts.stage), orders=surveys)]


@rule(ORDER_HOOKS, emits=(AGGRESSIVE,), rank=19)
def aggressive_subtype(facts: PatientFacts, params: Params) -> list[Finding]:
    """R06: inflammatory or triple-negative disease with a suspected-metastasis survey other than PET/CT.

    The gate is R06's own "R01 true (or breast cancer with suspicion of metastases)": these subtypes are
    usually staged before systemic therapy starts, so therapy is not required.
    """
    if not (facts.inflammatory or facts.triple_negative) or facts.breast_cancer is None:
        return []
    if not suspicion(facts, params).any:
        return []
    if drafted(facts, {FDG_PETCT}):
        return []
    orders = [o for o in imaging_orders(facts) if o.procedure_class in {BONE_SCAN_WB, CT_CAP_IV}]
    if not orders:
        return []
    return [AGGRESSIVE.finding(SubtypeValues(order=orders[0].label, subtype=SUBTYPE[facts.inflammatory]()),
                               orders=orders, suggestions=("replace-fdg-petct",))]


@rule(ORDER_HOOKS, emits=(RADIOGRAPH,), rank=20)
def radiograph_survey(facts: PatientFacts, params: Params) -> list[Finding]:
    """R17: a radiographic skeletal survey as the search for bone metastases."""
    if facts.breast_cancer is None or not suspicion(facts, params).any:
        return []
    orders = [o for o in imaging_orders(facts) if o.procedure_class == XR_SURVEY]
    if not orders:
        return []
    window = params["P_RECENT_STAGING_DAYS"]
    answered_by = BONE_SCANS | facts.classes_in(VISCERAL_SURVEY)
    if drafted(facts, answered_by) or recently_imaged(facts, answered_by, window):
        return []
    return [RADIOGRAPH.finding(OrderValues(order=orders[0].label), orders=orders,
                               suggestions=("replace-bone-scan",))]


def ratings(facts: PatientFacts, params: Params, acr: AcrLookup, complete: bool) -> list[Rating]:
    """The rating of each selected imaging ServiceRequest.

    No rating when the record is incomplete (the Argonaut rule: never rate without the information to
    decide) or the order could not be classified.
    """
    if not complete:
        return []
    # new, specific CNS symptoms put the patient outside the ACR scenario (R01, seed 002): no rating then; the
    # narrowed `cns_symptoms` (clinical-rules.md §7.2) keeps generic weakness, chronic headache and history
    # entries without an onset from switching the rating off
    applies = scenario_applies(facts, params)
    out = []
    for order in imaging_orders(facts):
        if not order.ref.startswith("ServiceRequest/"):
            continue
        row = acr(order.procedure_class or "")
        rating = row.pama_rating if applies and row is not None else "no-criteria-apply"
        out.append(Rating(order.ref, rating, order.procedure_class, order.resource))
    return out


def class_ratings(facts: PatientFacts, params: Params, acr: AcrLookup, complete: bool,
                  classes: tuple[str, ...]) -> Mapping[str, str]:
    """The rating an order of each procedure class would get now (a draft changed to a better order carries
    it); empty when the record is incomplete (no rating without the information to decide)."""
    if not complete:
        return {}
    applies = scenario_applies(facts, params)
    out = {}
    for procedure_class in classes:
        row = acr(procedure_class)
        out[procedure_class] = row.pama_rating if applies and row is not None else "no-criteria-apply"
    return out
