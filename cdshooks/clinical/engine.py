"""Entry point of the clinical layer: (hook, record, now, knowledge) -> findings and ratings.

Which rules run for which hook is declared next to each rule (cdshooks.clinical.topics); this module runs them,
marks the renal contrast risk, and on order hooks rates the drafts (and what a better order would be rated).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from cdshooks.clinical.build_facts import build_facts
from cdshooks.clinical.facts import PatientFacts
from cdshooks.clinical.findings import Evaluation, Finding
from cdshooks.clinical.knowledge import Knowledge
from cdshooks.clinical.rules import appropriateness
from cdshooks.clinical.rules.scenario import Params, renal_impairment
from cdshooks.clinical.topics import ORDER_HOOKS, RuleSpec, registry
from cdshooks.fhir.record import Record

log = logging.getLogger(__name__)

# prefetch keys without which "no suspicion" cannot be told from "no data": no rating then (Argonaut rule)
RATING_NEEDS = frozenset({"patient", "conditions", "labs", "symptomObservations", "medicationRequests",
                          "medicationAdministrations"})


def evaluate(hook: str, record: Record, now: datetime, knowledge: Knowledge) -> Evaluation:
    """Facts, then every rule of the hook. Odd data must never become a 5xx: a rule that raises is logged (as
    our bug) and skipped, and facts that cannot be built mean no guidance, not an error."""
    patient = f"Patient/{record.patient_id}" if record.patient_id else None
    try:
        facts = build_facts(record, now, knowledge)
    except Exception as exc:
        log.error("facts could not be built; answering without guidance",
                  extra={"event": "rule-error", "error": type(exc).__name__, "reason": "build_facts"})
        return Evaluation(patient=patient)
    params = knowledge.parameters
    findings = _with_contrast_risk(_run(registry().rules_for(hook), facts, knowledge), facts, params)
    if hook not in ORDER_HOOKS:
        return Evaluation(tuple(findings), patient=patient)
    complete = not (RATING_NEEDS & set(record.missing))
    try:
        ratings = tuple(appropriateness.ratings(facts, params, knowledge.acr, complete))
        classes = (appropriateness.class_ratings(facts, params, knowledge.acr, complete,
                                                 knowledge.procedure_classes)
                   if any(f.suggestions for f in findings) else {})
    except Exception as exc:
        log.error("ratings failed", extra={"event": "rule-error", "error": type(exc).__name__, "reason": "ratings"})
        ratings, classes = (), {}
    return Evaluation(tuple(findings), ratings, patient=patient, class_ratings=classes)


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


def _run(rules: tuple[RuleSpec, ...], facts: PatientFacts, knowledge: Knowledge) -> list[Finding]:
    findings: list[Finding] = []
    params, acr = knowledge.parameters, knowledge.acr
    for spec in rules:
        try:
            found = spec.function(facts, params, acr=acr) if spec.uses_acr else spec.function(facts, params)
            for finding in found:
                if finding.topic not in spec.topic_codes:
                    raise ValueError(f"emitted undeclared topic {finding.topic!r}")
            findings.extend(found)
        except Exception as exc:
            log.error("rule failed; skipped", extra={"event": "rule-error", "error": type(exc).__name__,
                                                     "reason": spec.name})
    return findings
