"""Laboratory and pathology markers: an unexplained high ALP (R14b) and receptor re-testing at first
metastasis (R16).
"""

from __future__ import annotations

from cdshooks.clinical.facts import BODY_SURVEYS, PatientFacts
from cdshooks.clinical.findings import Finding
from cdshooks.clinical.rules.scenario import Params


def elevated_alp(facts: PatientFacts, params: Params) -> list[Finding]:
    if facts.breast_cancer is None:
        return []
    alp = facts.latest_lab("alp", params["P_ALP_LOOKBACK_DAYS"])
    if alp is None or alp.flag != "high":
        return []
    recent = params["P_RECENT_STAGING_DAYS"]
    if any(i.procedure_class in BODY_SURVEYS and facts.within(i.when, recent) for i in facts.imaging):
        return []
    return [Finding(topic="elevated-alp-workup", values={"alp": alp.label}, suggestions=("add-bone-scan",),
                    recency=alp.when)]


def receptor_retest(facts: PatientFacts, params: Params) -> list[Finding]:
    if facts.breast_cancer is None:
        return []
    dated = [m.onset for m in (*facts.bone_mets, *facts.other_mets) if m.onset is not None]
    if not dated:
        return []
    first = min(dated)
    if not facts.within(first, params["P_RECEPTOR_RETEST_DAYS"]):
        return []
    if any(r.when is not None and r.when >= first for r in facts.receptors):
        return []
    if any(b >= first for b in facts.biopsies):
        return []
    tested = [r.when for r in facts.receptors if r.when is not None]
    last = max(tested).date().isoformat() if tested else "never on record"
    return [Finding(topic="receptor-retest-biopsy", values={"metastasis_date": first, "last_receptor_date": last},
                    recency=first)]
