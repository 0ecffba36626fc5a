"""Entry point of the clinical layer: (hook, record, now, knowledge) -> findings and ratings.

Each rule family is a pure function of the patient's facts (which carry `now`) and the parameters; this
module only decides which families run for which hook.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from functools import partial

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
    emergencies,
    flare,
    markers,
    negative_scan,
    site,
)
from cdshooks.clinical.rules.scenario import Params, renal_impairment
from cdshooks.fhir.record import Record

log = logging.getLogger(__name__)

Rule = Callable[[PatientFacts, Params], list[Finding]]

ORDER_RULES: tuple[Rule, ...] = (
    emergencies.cord_compression_at_order,
    emergencies.hypercalcaemia_at_order,
    site.cns_symptoms_at_order,
    contrast.renal_impairment_contrast,
    site.visceral_suspicion_bone_scan_alone,
    bone_scan_timing.lytic_limitation,
    bone_scan_timing.post_chemo_timing,  # off unless P_ORDER_TIME_POSTCHEMO_TIMING = 1 (§7.2)
    bone_scan_timing.flare_window,
    appropriateness.no_suspicion_survey,
    appropriateness.aggressive_subtype,
    appropriateness.radiograph_survey,
    bone_health.bma_prerequisites,
)

RESULT_RULES: tuple[Rule, ...] = (
    emergencies.cord_compression_in_chart,
    emergencies.hypercalcaemia_in_chart,
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
    """Facts, then every rule family of the hook. Odd data must never become a 5xx: a rule that raises is
    logged (as our bug) and skipped, and facts that cannot be built mean no guidance, not an error."""
    try:
        facts = build_facts(record, now, knowledge)
    except Exception as exc:
        log.error("facts could not be built; answering without guidance",
                  extra={"event": "rule-error", "error": type(exc).__name__, "reason": "build_facts"})
        return Evaluation()
    params = knowledge.parameters
    if hook in {"order-select", "order-sign"}:
        acr = knowledge.acr
        rules: list[Rule] = [partial(appropriateness.usually_not_appropriate, acr=acr),
                             partial(appropriateness.usually_appropriate, acr=acr), *ORDER_RULES]
        findings = _with_contrast_risk(_run(rules, facts, params), facts, params)
        complete = not (RATING_NEEDS & set(record.missing))
        try:
            ratings = tuple(appropriateness.ratings(facts, params, acr, complete))
        except Exception as exc:
            log.error("ratings failed", extra={"event": "rule-error", "error": type(exc).__name__, "reason": "ratings"})
            ratings = ()
        return Evaluation(tuple(findings), ratings)
    return Evaluation(tuple(_with_contrast_risk(_run(RESULT_RULES, facts, params), facts, params)))


def _with_contrast_risk(findings: list[Finding], facts: PatientFacts, params: Params) -> list[Finding]:
    """Mark every finding of a patient whose kidneys make iodinated contrast high-risk (R07, §7.2): the card
    catalog's safety net (cdshooks.catalog.safety) then keeps contrast studies out of every card."""
    try:
        risk = renal_impairment(facts, params)
    except Exception as exc:  # our bug: fail safe, as if the kidneys were at risk (no contrast suggested)
        log.error("renal check failed", extra={"event": "rule-error", "error": type(exc).__name__,
                                               "reason": "renal_impairment"})
        risk = "renal function could not be checked"
    return [replace(f, contrast_risk=risk) for f in findings] if risk else findings


def _run(rules: list[Rule] | tuple[Rule, ...], facts: PatientFacts, params: Params) -> list[Finding]:
    findings: list[Finding] = []
    for rule in rules:
        try:
            findings.extend(rule(facts, params))
        except Exception as exc:
            name = getattr(rule, "__name__", None) or getattr(getattr(rule, "func", None), "__name__", "rule")
            log.error("rule failed; skipped", extra={"event": "rule-error", "error": type(exc).__name__,
                                                     "reason": name})
    return findings
