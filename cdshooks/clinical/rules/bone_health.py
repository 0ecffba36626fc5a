"""Bone health in bone-metastatic disease: a bone-modifying agent for every patient with established bone
metastasis (R15), its prerequisites and renal safety (R15b; ASCO-CCO 2017), and orthopaedic review of lesions
at risk (R24).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from cdshooks.clinical.evidence import CORTICAL, EPIDURAL, IMPENDING_FRACTURE, LARGE, PATHOLOGIC_FRACTURE
from cdshooks.clinical.facts import PatientFacts
from cdshooks.clinical.findings import CardValues, Finding
from cdshooks.clinical.rules.imaging_evidence import RISK_FEATURES, at_risk_lesion
from cdshooks.clinical.rules.scenario import Params, renal_impairment
from cdshooks.clinical.topics import ORDER_HOOKS, RESULT_HOOKS, Topic, rule
from cdshooks.clinical.wording import Listing, Phrase, Shown, phrase_key

# DraftOrder.drug_class of a drafted calcium / vitamin D supplement (cdshooks/clinical/extract/orders.py)
SUPPLEMENT_DRAFT = "calcium-vitamin-d"
# the agent whose renal caution is hypocalcaemia (ASCO-CCO 2017); the bisphosphonates' is renal dosing
DENOSUMAB = "denosumab"


NO_DENTAL = phrase_key("missing-dental-evaluation")
NO_SUPPLEMENT = phrase_key("missing-calcium-vitamin-d")
DATE_NOT_RECORDED = phrase_key("date-not-recorded")
SITE_NOT_STATED = phrase_key("site-not-stated")
RISK = {CORTICAL: phrase_key("risk-cortical"), EPIDURAL: phrase_key("risk-epidural"),
        IMPENDING_FRACTURE: phrase_key("risk-impending-fracture"), LARGE: phrase_key("risk-large"),
        PATHOLOGIC_FRACTURE: phrase_key("risk-pathologic-fracture")}


@dataclass(frozen=True, kw_only=True)
class PrerequisiteValues(CardValues):
    variant: Literal["renal-denosumab", "renal-bisphosphonate", "renal-denosumab-complete",
                     "renal-bisphosphonate-complete"] | None = None
    order: str
    missing: Listing
    renal_evidence: str | None = None


@dataclass(frozen=True, kw_only=True)
class NoBmaValues(CardValues):
    variant: Literal["osteoporosis-dose", "osteoporosis-dose-ckd", "ckd"] | None = None
    bone_mets_basis: str
    basis_kind: str
    bone_mets_since: datetime | Phrase
    renal_evidence: str | None = None
    current_agent: str | None = None


@dataclass(frozen=True, kw_only=True)
class OrthopedicValues(CardValues):
    study: str
    site: Shown
    risk: Listing


PREREQUISITES = Topic("bma-prerequisites", PrerequisiteValues)
NO_BMA = Topic("bone-mets-no-bma", NoBmaValues)
ORTHOPEDIC = Topic("orthopedic-evaluation", OrthopedicValues)


def _renal_variant(agent: str | None) -> str:
    return "renal-denosumab" if agent == DENOSUMAB else "renal-bisphosphonate"


@rule(ORDER_HOOKS, emits=(PREREQUISITES,), rank=21)
def bma_prerequisites(facts: PatientFacts, params: Params) -> list[Finding]:
    drafts = [o for o in facts.selected_orders() if o.drug_class == "bone-modifying"]
    if not drafts:
        return []
    missing: list[Shown] = []
    if not facts.dental_evaluation:
        missing.append(NO_DENTAL())
    # "prescribe calcium and vitamin D": a supplement drafted in the same session is being prescribed now
    if not (facts.calcium_vitamin_d or any(o.drug_class == SUPPLEMENT_DRAFT for o in facts.orders)):
        missing.append(NO_SUPPLEMENT())
    renal = renal_impairment(facts, params)
    if not missing and renal is None:
        return []
    # severe renal impairment: hypocalcaemia with denosumab, renal dosing limits of zoledronic acid
    variant = None if renal is None else _renal_variant(drafts[0].medication) + ("" if missing else "-complete")
    values = PrerequisiteValues(order=drafts[0].label, missing=Listing(tuple(missing), "and"),
                                variant=variant, renal_evidence=renal)  # type: ignore[arg-type]
    return [PREREQUISITES.finding(values, orders=drafts)]


@rule(RESULT_HOOKS, emits=(NO_BMA,), rank=22)
def bone_mets_without_bma(facts: PatientFacts, params: Params) -> list[Finding]:
    """R15 (§7.2): established bone metastasis (coded, pathology, or a radiologist's metastatic reading that
    stands) and no bone-modifying agent at oncology dose recently."""
    if facts.breast_cancer is None:
        return []
    evidence = facts.bone_mets_evidence()
    if evidence is None:
        return []
    window = params["P_BMA_LOOKBACK_DAYS"]
    agents = [t for t in facts.therapies_of("bone-modifying") if t.ongoing or facts.within(t.last_dose or t.start,
                                                                                           window)]
    if any(not t.osteoporosis_dose for t in agents):
        return []
    renal = renal_impairment(facts, params)
    variant: Literal["osteoporosis-dose", "osteoporosis-dose-ckd", "ckd"] | None = None
    if agents:
        variant = "osteoporosis-dose-ckd" if renal else "osteoporosis-dose"
    elif renal is not None:
        variant = "ckd"
    values = NoBmaValues(variant=variant, bone_mets_basis=evidence.label, basis_kind=evidence.basis,
                         bone_mets_since=evidence.since or DATE_NOT_RECORDED(), renal_evidence=renal,
                         current_agent=agents[0].agent if agents else None)
    return [NO_BMA.finding(values, recency=evidence.since)]


@rule(RESULT_HOOKS, emits=(ORTHOPEDIC,), rank=25)
def orthopedic_evaluation(facts: PatientFacts, params: Params) -> list[Finding]:
    """R24 (§7.2): an established bone lesion at a weight-bearing or vertebral site with a described risk
    (cortical involvement, large, impending or pathological fracture, epidural extension), read from the
    assertions of recent imaging (older results have been acted on, P_RESULT_RECENT_DAYS)."""
    if facts.breast_cancer is None:
        return []
    established = facts.bone_mets_evidence() is not None
    for study in reversed(facts.imaging_before_now()):
        if not facts.within(study.when, params["P_RESULT_RECENT_DAYS"]):
            continue
        lesion = at_risk_lesion(study, established)
        if lesion is not None:
            risks = Listing(tuple(RISK[f]() for f in sorted(lesion.features & RISK_FEATURES)))
            return [ORTHOPEDIC.finding(OrthopedicValues(study=study.label, risk=risks,
                                                        site=lesion.site or study.site or SITE_NOT_STATED()),
                                       recency=study.when)]
    return []
