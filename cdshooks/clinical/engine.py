"""Entry point of the clinical layer: (hook, record, now, knowledge) -> findings and ratings.

Each rule family is a pure function of the patient's facts (which carry `now`) and the parameters; this
module only decides which families run for which hook.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from cdshooks.clinical.build_facts import build_facts
from cdshooks.clinical.facts import PatientFacts
from cdshooks.clinical.findings import Evaluation, Finding
from cdshooks.clinical.knowledge import Knowledge
from cdshooks.clinical.rules import (
    appropriateness,
    bone_health,
    bone_scan_timing,
    contrast,
    discordance,
    disease_course,
    flare,
    markers,
    negative_scan,
    site,
)
from cdshooks.clinical.rules.scenario import Params
from cdshooks.fhir.record import Record

Rule = Callable[[PatientFacts, Params], list[Finding]]

ORDER_RULES: tuple[Rule, ...] = (
    site.cns_symptoms_at_order,
    contrast.renal_impairment_contrast,
    site.visceral_suspicion_bone_scan_alone,
    bone_scan_timing.lytic_limitation,
    bone_scan_timing.post_chemo_timing,
    bone_scan_timing.flare_window,
    appropriateness.no_suspicion_survey,
    appropriateness.aggressive_subtype,
    appropriateness.radiograph_survey,
    bone_health.bma_prerequisites,
)

RESULT_RULES: tuple[Rule, ...] = (
    discordance.discordant_ct_positive_bone_scan_negative,
    discordance.false_negative_after_chemo,
    flare.bone_scan_flare,
    site.cns_symptoms_in_chart,
    negative_scan.persistent_pain_after_negative_scan,
    negative_scan.visceral_suspicion_after_negative_scan,
    negative_scan.indeterminate_focus,
    negative_scan.osteopenia_ct_sensitivity,
    markers.elevated_alp,
    markers.receptor_retest,
    bone_health.bone_mets_without_bma,
    disease_course.classic_positive_bone_scan,
    disease_course.recurrence_after_treated_mets,
    bone_health.orthopedic_evaluation,
)

# prefetch keys without which "no suspicion" cannot be told from "no data": no rating then (Argonaut rule)
RATING_NEEDS = frozenset({"patient", "conditions", "labs", "symptomObservations", "medicationRequests",
                          "medicationAdministrations"})


def evaluate(hook: str, record: Record, now: datetime, knowledge: Knowledge) -> Evaluation:
    facts = build_facts(record, now, knowledge)
    params = knowledge.parameters
    if hook in {"order-select", "order-sign"}:
        acr = knowledge.acr
        findings = [*appropriateness.usually_not_appropriate(facts, params, acr),
                    *appropriateness.usually_appropriate(facts, params, acr)]
        for rule in ORDER_RULES:
            findings.extend(rule(facts, params))
        complete = not (RATING_NEEDS & set(record.missing))
        return Evaluation(tuple(findings), tuple(appropriateness.ratings(facts, params, acr, complete)))
    findings = []
    for rule in RESULT_RULES:
        findings.extend(rule(facts, params))
    return Evaluation(tuple(findings))
