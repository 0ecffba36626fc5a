"""Renal impairment and iodinated contrast (R07)."""

from __future__ import annotations

from cdshooks.clinical.facts import CT_CAP_IV, CT_CAP_WO_W, PatientFacts
from cdshooks.clinical.findings import Finding
from cdshooks.clinical.rules.appropriateness import imaging_orders
from cdshooks.clinical.rules.scenario import Params, renal_impairment

CONTRAST_CT = {CT_CAP_IV, CT_CAP_WO_W}


def renal_impairment_contrast(facts: PatientFacts, params: Params) -> list[Finding]:
    if facts.breast_cancer is None:
        return []
    orders = [o for o in imaging_orders(facts) if o.procedure_class in CONTRAST_CT]
    evidence = renal_impairment(facts, params)
    if not orders or evidence is None:
        return []
    return [Finding(topic="renal-impairment-contrast",
                    values={"order": orders[0].label, "renal_evidence": evidence},
                    order_ids=tuple(o.ref for o in orders),
                    suggestions=("replace-bone-scan", "replace-fdg-petct"))]
