"""Bone health in bone-metastatic disease: a bone-modifying agent for every patient (R15), its
prerequisites (R15b), and orthopaedic review of lesions at risk (R24).
"""

from __future__ import annotations

import re

from cdshooks.clinical.facts import PatientFacts
from cdshooks.clinical.findings import Finding
from cdshooks.clinical.report_reading import BoneMetResult
from cdshooks.clinical.rules.scenario import Params, renal_impairment

# DraftOrder.drug_class of a drafted calcium / vitamin D supplement (cdshooks/clinical/extract/orders.py)
SUPPLEMENT_DRAFT = "calcium-vitamin-d"
AT_RISK = re.compile(r"\b(femur|femor\w*|humer\w*|vertebra\w*|spine|spinal|impending fracture|pathologic\w* "
                     r"fracture|epidural|cord compression)\b", re.IGNORECASE)
_CLAUSES = re.compile(r"[^.;:\n]+")
# "no vertebral involvement", "without pathologic fracture of the femur" (cue up to 6 words before the term) ...
_NEGATED_BEFORE = re.compile(r"\b(no|not|without|negative for|free of|absence of|spares|sparing)\b(\W+\w+){0,6}\W*$",
                             re.IGNORECASE)
# ... and "the spine is normal / unremarkable / spared"
_NORMAL_AFTER = re.compile(r"^\W*(is|are|appears?|remains?)\s+(normal|unremarkable|intact|spared|clear|free)\b",
                           re.IGNORECASE)


def at_risk_site(text: str) -> str | None:
    """The first long-bone / vertebral / fracture / epidural term the text affirms (negated mentions skipped)."""
    for clause in _CLAUSES.finditer(text):
        words = clause.group()
        for match in AT_RISK.finditer(words):
            if _NEGATED_BEFORE.search(words[:match.start()]) or _NORMAL_AFTER.match(words[match.end():]):
                continue
            return match.group(0)
    return None


def bma_prerequisites(facts: PatientFacts, params: Params) -> list[Finding]:
    drafts = [o for o in facts.selected_orders() if o.drug_class == "bone-modifying"]
    if not drafts:
        return []
    missing = []
    if not facts.dental_evaluation:
        missing.append("a dental evaluation")
    # "prescribe calcium and vitamin D": a supplement drafted in the same session is being prescribed now
    if not (facts.calcium_vitamin_d or any(o.drug_class == SUPPLEMENT_DRAFT for o in facts.orders)):
        missing.append("calcium and vitamin D supplementation")
    if not missing:
        return []
    return [Finding(topic="bma-prerequisites", values={"order": drafts[0].label, "missing": " and ".join(missing)},
                    order_ids=tuple(o.ref for o in drafts))]


def _bone_mets_basis(facts: PatientFacts) -> tuple[str, object] | None:
    if facts.bone_mets:
        first = min(facts.bone_mets, key=lambda c: c.onset or facts.now)
        when = f", recorded {first.onset.date().isoformat()}" if first.onset else ""
        return f"{first.label}{when}", first.onset
    positive = [i for i in facts.imaging_before_now() if i.result is BoneMetResult.POSITIVE]
    if positive:
        return f"{positive[-1].label} positive", positive[-1].when
    return None


def bone_mets_without_bma(facts: PatientFacts, params: Params) -> list[Finding]:
    if facts.breast_cancer is None:
        return []
    basis = _bone_mets_basis(facts)
    if basis is None:
        return []
    window = params["P_BMA_LOOKBACK_DAYS"]
    agents = [t for t in facts.therapies_of("bone-modifying") if t.ongoing or facts.within(t.last_dose or t.start,
                                                                                           window)]
    if any(not t.osteoporosis_dose for t in agents):
        return []
    when = basis[1]
    values: dict[str, object] = {"bone_mets_basis": basis[0],
                                 "bone_mets_since": f"since {when.date().isoformat()}"  # type: ignore[attr-defined]
                                 if when is not None else "date not recorded"}
    if agents:
        values |= {"variant": "osteoporosis-dose", "current_agent": agents[0].agent}
    elif renal_impairment(facts, params) is not None:
        values["variant"] = "ckd"
    return [Finding(topic="bone-mets-no-bma", values=values, recency=basis[1])]  # type: ignore[arg-type]


def orthopedic_evaluation(facts: PatientFacts, params: Params) -> list[Finding]:
    if facts.breast_cancer is None:
        return []
    for condition in facts.bone_mets:
        term = at_risk_site(f"{condition.site or ''}. {condition.text}")
        if term:
            return [Finding(topic="orthopedic-evaluation", values={"lesion": f"{condition.label}: {term}"},
                            recency=condition.onset)]
    # imaging: recent positive results only (older ones have been acted on, P_RESULT_RECENT_DAYS)
    for study in reversed(facts.imaging_before_now()):
        if study.result is not BoneMetResult.POSITIVE or not facts.within(study.when, params["P_RESULT_RECENT_DAYS"]):
            continue
        term = at_risk_site(f"{study.site or ''}. {study.conclusion}")
        if term:
            return [Finding(topic="orthopedic-evaluation", values={"lesion": f"{study.label}: {term}"},
                            recency=study.when)]
    return []
