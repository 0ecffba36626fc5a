"""Laboratory and pathology markers: an unexplained high ALP (R14b) and receptor re-testing at first
metastasis (R16).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cdshooks.clinical.facts import BODY_SURVEY, PatientFacts
from cdshooks.clinical.findings import CardValues, Finding
from cdshooks.clinical.rules.scenario import Params
from cdshooks.clinical.topics import RESULT_HOOKS, Topic, rule
from cdshooks.clinical.wording import Phrase, phrase_key

NEVER_TESTED = phrase_key("never-on-record")


@dataclass(frozen=True, kw_only=True)
class AlpValues(CardValues):
    alp: str


@dataclass(frozen=True, kw_only=True)
class ReceptorValues(CardValues):
    metastasis_date: datetime
    last_receptor_date: datetime | Phrase


ALP = Topic("elevated-alp-workup", AlpValues, suggestions=("add-bone-scan",))
RECEPTORS = Topic("receptor-retest-biopsy", ReceptorValues)


@rule(RESULT_HOOKS, emits=(ALP,), rank=20)
def elevated_alp(facts: PatientFacts, params: Params) -> list[Finding]:
    if facts.breast_cancer is None:
        return []
    alp = facts.latest_lab("alp", params["P_ALP_LOOKBACK_DAYS"])
    if alp is None or alp.flag != "high":
        return []
    recent = params["P_RECENT_STAGING_DAYS"]
    surveys = facts.classes_in(BODY_SURVEY)
    if any(i.procedure_class in surveys and facts.within(i.when, recent) for i in facts.imaging):
        return []
    return [ALP.finding(AlpValues(alp=alp.label), suggestions=("add-bone-scan",), recency=alp.when)]


@rule(RESULT_HOOKS, emits=(RECEPTORS,), rank=21)
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
    last = max(tested) if tested else NEVER_TESTED()
    return [RECEPTORS.finding(ReceptorValues(metastasis_date=first, last_receptor_date=last), recency=first)]
