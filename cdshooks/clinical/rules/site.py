"""Match the modality to the suspected site: visceral suspicion with a bone scan alone (R04a) and CNS
symptoms that need brain MRI (R05, at order time and in the chart).

R05 counts only new, specific neurological symptoms (clinical-rules.md §7.2; `scenario.cns_symptoms`), and
yields to suspected spinal cord compression (R25, `emergencies.cord_compression`): when limb weakness is the only
CNS symptom and the cord picture is present, the weakness is the cord's, and only the R25 card is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cdshooks.clinical.facts import BODY_SURVEY, BONE_SCAN_WB, MRI_BRAIN, VISCERAL_SURVEY, PatientFacts, Symptom
from cdshooks.clinical.findings import CardValues, Finding
from cdshooks.clinical.rules.appropriateness import drafted, imaging_orders, recently_imaged
from cdshooks.clinical.rules.emergencies import cord_compression
from cdshooks.clinical.rules.scenario import (
    SINCE,
    Params,
    cns_symptoms,
    day,
    earliest_per_kind,
    scenario_applies,
    suspicion,
)
from cdshooks.clinical.topics import ORDER_HOOKS, RESULT_HOOKS, Topic, rule
from cdshooks.clinical.wording import Listing, phrase_key


@dataclass(frozen=True, kw_only=True)
class VisceralOrderValues(CardValues):
    order: str
    visceral_evidence: Listing


@dataclass(frozen=True, kw_only=True)
class CnsValues(CardValues):
    variant: Literal["chart", "order"]
    symptoms: Listing
    symptom_names: Listing
    order: str | None = None  # order hooks: the survey being drafted


VISCERAL_ALONE = Topic("visceral-suspicion-bone-scan-alone", VisceralOrderValues,
                       suggestions=("add-ct-cap-iv", "replace-fdg-petct"))
CNS = Topic("cns-symptoms-mri-brain", CnsValues, suggestions=("add-mri-brain", "add-mri-spine"))


@rule(ORDER_HOOKS, emits=(VISCERAL_ALONE,), rank=14)
def visceral_suspicion_bone_scan_alone(facts: PatientFacts, params: Params) -> list[Finding]:
    if not scenario_applies(facts, params):
        return []
    scans = [o for o in imaging_orders(facts) if o.procedure_class == BONE_SCAN_WB]
    found = suspicion(facts, params)
    if not scans or not found.visceral:
        return []
    visceral = facts.classes_in(VISCERAL_SURVEY)
    if drafted(facts, visceral) or recently_imaged(facts, visceral, params["P_RECENT_STAGING_DAYS"]):
        return []
    values = VisceralOrderValues(order=scans[0].label, visceral_evidence=found.visceral_evidence())
    return [VISCERAL_ALONE.finding(values,
                                   orders=scans, suggestions=("add-ct-cap-iv", "replace-fdg-petct"))]


# the one-line summary names the kind of each symptom (bounded), the detail names each record with its date
SYMPTOM_NAMES = {kind: phrase_key(f"symptom-{kind}")
                 for kind in ("seizure", "weakness", "headache", "visual", "speech")}


def _describe(symptoms: list[Symptom], variant: Literal["chart", "order"], order: str | None = None) -> CnsValues:
    """`symptoms` with their onset dates (for the detail) and `symptom_names` (for the one-line summary)."""
    first = earliest_per_kind(tuple(symptoms))
    names = dict.fromkeys(SYMPTOM_NAMES[s.kind]() if s.kind in SYMPTOM_NAMES else s.kind for s in first)
    return CnsValues(variant=variant, order=order, symptom_names=Listing(tuple(names)),
                     symptoms=Listing(tuple(SINCE(what=s.label, day=day(s.onset)) for s in first), "semicolon"))


def _spine_suggestion(symptoms: list[Symptom], facts: PatientFacts) -> bool:
    """MRI spine as well when weakness comes with back or spine pain (seed 004: epidural extension)."""
    if not any(s.kind == "weakness" for s in symptoms):
        return False
    for symptom in facts.symptoms:
        text = f"{symptom.site or ''} {symptom.label}".lower()
        if symptom.active and (symptom.spinal_pain or (symptom.kind == "bone-pain"
                                                       and any(w in text for w in ("spine", "back", "vertebr")))):
            return True
    return False


def _brain_mri_since(facts: PatientFacts, symptoms: list[Symptom]) -> bool:
    """A brain MRI done on or after the onset of the earliest of these symptoms (it answered the question)."""
    onset = min((s.onset for s in symptoms if s.onset), default=None)
    return any(i.procedure_class == MRI_BRAIN and i.when is not None and (onset is None or i.when >= onset)
               for i in facts.imaging)


def brain_symptoms(facts: PatientFacts, params: Params) -> list[Symptom]:
    """The R05 symptoms left for the brain: none when weakness is all there is and the spinal cord compression
    picture (R25) explains it; a seizure, headache, visual or speech deficit still needs the brain imaged."""
    symptoms = cns_symptoms(facts, params)
    if symptoms and all(s.kind == "weakness" for s in symptoms) and cord_compression(facts, params) is not None:
        return []
    return symptoms


@rule(ORDER_HOOKS, emits=(CNS,), rank=12)
def cns_symptoms_at_order(facts: PatientFacts, params: Params) -> list[Finding]:
    if facts.breast_cancer is None:
        return []
    symptoms = brain_symptoms(facts, params)
    surveys = [o for o in imaging_orders(facts) if o.procedure_class in facts.classes_in(BODY_SURVEY)]
    if not symptoms or not surveys or drafted(facts, {MRI_BRAIN}) or _brain_mri_since(facts, symptoms):
        return []
    suggestions = ("add-mri-brain", "add-mri-spine") if _spine_suggestion(symptoms, facts) else ("add-mri-brain",)
    return [CNS.finding(_describe(symptoms, "order", surveys[0].label), orders=surveys, suggestions=suggestions)]


@rule(RESULT_HOOKS, emits=(CNS,), rank=15)
def cns_symptoms_in_chart(facts: PatientFacts, params: Params) -> list[Finding]:
    if facts.breast_cancer is None:
        return []
    symptoms = brain_symptoms(facts, params)
    if not symptoms:
        return []
    onset = min((s.onset for s in symptoms if s.onset), default=None)
    if _brain_mri_since(facts, symptoms):
        return []
    suggestions = ("add-mri-brain", "add-mri-spine") if _spine_suggestion(symptoms, facts) else ("add-mri-brain",)
    return [CNS.finding(_describe(symptoms, "chart"), suggestions=suggestions, recency=onset)]
