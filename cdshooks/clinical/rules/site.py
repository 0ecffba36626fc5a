"""Match the modality to the suspected site: visceral suspicion with a bone scan alone (R04a) and CNS
symptoms that need brain MRI (R05, at order time and in the chart).

R05 counts only new, specific neurological symptoms (clinical-rules.md §7.2; `scenario.cns_symptoms`), and
yields to suspected spinal cord compression (R25, `emergencies.cord_compression`): when limb weakness is the only
CNS symptom and the cord picture is present, the weakness is the cord's, and only the R25 card is shown.
"""

from __future__ import annotations

from cdshooks.clinical.facts import BODY_SURVEYS, BONE_SCAN_WB, MRI_BRAIN, VISCERAL_SURVEYS, PatientFacts, Symptom
from cdshooks.clinical.findings import Finding
from cdshooks.clinical.rules.appropriateness import drafted, imaging_orders, recently_imaged
from cdshooks.clinical.rules.emergencies import cord_compression
from cdshooks.clinical.rules.scenario import Params, cns_symptoms, earliest_per_kind, scenario_applies, suspicion


def visceral_suspicion_bone_scan_alone(facts: PatientFacts, params: Params) -> list[Finding]:
    if not scenario_applies(facts, params):
        return []
    scans = [o for o in imaging_orders(facts) if o.procedure_class == BONE_SCAN_WB]
    found = suspicion(facts, params)
    if not scans or not found.visceral:
        return []
    if drafted(facts, VISCERAL_SURVEYS) or recently_imaged(facts, VISCERAL_SURVEYS, params["P_RECENT_STAGING_DAYS"]):
        return []
    return [Finding(topic="visceral-suspicion-bone-scan-alone",
                    values={"order": scans[0].label, "visceral_evidence": found.visceral_evidence(),
                            "visceral_brief": found.visceral_brief()},
                    order_ids=tuple(o.ref for o in scans),
                    suggestions=("add-ct-cap-iv", "replace-fdg-petct"))]


# the one-line summary names the kind of each symptom (bounded), the detail names each record with its date
SYMPTOM_NAMES = {"seizure": "seizure", "weakness": "focal weakness", "headache": "headache",
                 "visual": "visual deficit", "speech": "speech deficit"}


def _describe(symptoms: list[Symptom]) -> dict[str, str]:
    """`symptoms` with their onset dates (for the detail) and `symptom_names` (for the one-line summary)."""
    first = earliest_per_kind(tuple(symptoms))
    return {"symptoms": "; ".join(f"{s.label} since {s.onset.date().isoformat() if s.onset else 'an unknown date'}"
                                  for s in first),
            "symptom_names": ", ".join(dict.fromkeys(SYMPTOM_NAMES.get(s.kind, s.kind) for s in first))}


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


def cns_symptoms_at_order(facts: PatientFacts, params: Params) -> list[Finding]:
    if facts.breast_cancer is None:
        return []
    symptoms = brain_symptoms(facts, params)
    surveys = [o for o in imaging_orders(facts) if o.procedure_class in BODY_SURVEYS]
    if not symptoms or not surveys or drafted(facts, {MRI_BRAIN}) or _brain_mri_since(facts, symptoms):
        return []
    suggestions = ("add-mri-brain", "add-mri-spine") if _spine_suggestion(symptoms, facts) else ("add-mri-brain",)
    return [Finding(topic="cns-symptoms-mri-brain",
                    values={**_describe(symptoms), "variant": "order", "order": surveys[0].label},
                    order_ids=tuple(o.ref for o in surveys), suggestions=suggestions)]


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
    return [Finding(topic="cns-symptoms-mri-brain", values={**_describe(symptoms), "variant": "chart"},
                    suggestions=suggestions, recency=onset)]
