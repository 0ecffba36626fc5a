"""Bone health in bone-metastatic disease: a bone-modifying agent for every patient with established bone
metastasis (R15), its prerequisites and renal safety (R15b; ASCO-CCO 2017), and orthopaedic review of lesions
at risk (R24).
"""

from __future__ import annotations

from cdshooks.clinical.evidence import LARGE
from cdshooks.clinical.facts import PatientFacts
from cdshooks.clinical.findings import Finding
from cdshooks.clinical.rules.imaging_evidence import RISK_FEATURES, at_risk_lesion
from cdshooks.clinical.rules.scenario import Params, renal_impairment

# DraftOrder.drug_class of a drafted calcium / vitamin D supplement (cdshooks/clinical/extract/orders.py)
SUPPLEMENT_DRAFT = "calcium-vitamin-d"
# the agent whose renal caution is hypocalcaemia (ASCO-CCO 2017); the bisphosphonates' is renal dosing
DENOSUMAB = "denosumab"


def _renal_variant(agent: str | None) -> str:
    return "renal-denosumab" if agent == DENOSUMAB else "renal-bisphosphonate"


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
    renal = renal_impairment(facts, params)
    if not missing and renal is None:
        return []
    values: dict[str, object] = {"order": drafts[0].label, "missing": " and ".join(missing)}
    if renal is not None:
        # severe renal impairment: hypocalcaemia with denosumab, renal dosing limits of zoledronic acid
        values |= {"variant": _renal_variant(drafts[0].medication) + ("" if missing else "-complete"),
                   "renal_evidence": renal}
    return [Finding(topic="bma-prerequisites", values=values, order_ids=tuple(o.ref for o in drafts))]


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
    values: dict[str, object] = {"bone_mets_basis": evidence.label, "basis_kind": evidence.basis,
                                 "bone_mets_since": evidence.since or "date not recorded"}
    renal = renal_impairment(facts, params)
    if renal is not None:
        values["renal_evidence"] = renal
    if agents:
        values |= {"variant": "osteoporosis-dose-ckd" if renal else "osteoporosis-dose",
                   "current_agent": agents[0].agent}
    elif renal is not None:
        values["variant"] = "ckd"
    return [Finding(topic="bone-mets-no-bma", values=values, recency=evidence.since)]


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
            risks = sorted("large lesion" if f == LARGE else f.replace("-", " ")
                           for f in lesion.features & RISK_FEATURES)
            return [Finding(topic="orthopedic-evaluation",
                            values={"study": study.label, "site": lesion.site or study.site or "site not stated",
                                    "risk": ", ".join(risks)},
                            recency=study.when)]
    return []
