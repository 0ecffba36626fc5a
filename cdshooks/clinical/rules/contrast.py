"""Renal impairment and iodinated contrast (R07; clinical-rules.md §7.2): any contrast-enhanced CT order, of any
region, coded by CPT, LOINC or SNOMED or named in text (and a PET/CT coded with IV contrast)."""

from __future__ import annotations

from dataclasses import dataclass

from cdshooks.clinical.facts import CT_CAP_IV, CT_CAP_WO_W, DraftOrder, PatientFacts
from cdshooks.clinical.findings import CardValues, Finding
from cdshooks.clinical.rules.appropriateness import imaging_orders
from cdshooks.clinical.rules.scenario import Params, renal_impairment
from cdshooks.clinical.topics import ORDER_HOOKS, Topic, rule

SURVEY_CT = {CT_CAP_IV, CT_CAP_WO_W}  # a body survey: offer the surveys without iodinated contrast


@dataclass(frozen=True, kw_only=True)
class ContrastValues(CardValues):
    order: str
    renal_evidence: str
    order_class: str  # the suggestion `replace-without-contrast` orders this class without contrast


RENAL = Topic("renal-impairment-contrast", ContrastValues,
              suggestions=("replace-bone-scan", "replace-fdg-petct", "replace-without-contrast"))


def contrast_orders(facts: PatientFacts) -> list[DraftOrder]:
    return [o for o in imaging_orders(facts) if o.iodinated_contrast is True]


@rule(ORDER_HOOKS, emits=(RENAL,), rank=13)
def renal_impairment_contrast(facts: PatientFacts, params: Params) -> list[Finding]:
    if facts.breast_cancer is None:
        return []
    orders = contrast_orders(facts)
    evidence = renal_impairment(facts, params)
    if not orders or evidence is None:
        return []
    first = next((o for o in orders if o.procedure_class in SURVEY_CT), orders[0])
    # a survey CT: bone scan or FDG-PET/CT; any other region: the same study without contrast (the catalog's
    # safety net turns `{order_class}` into the class's non-contrast alternative, or drops it when none exists)
    suggestions = (("replace-bone-scan", "replace-fdg-petct") if first.procedure_class in SURVEY_CT
                   else ("replace-without-contrast",))
    return [RENAL.finding(ContrastValues(order=first.label, renal_evidence=evidence,
                                         order_class=first.procedure_class or ""),
                          orders=orders, suggestions=suggestions)]
