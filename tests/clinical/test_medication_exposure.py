"""Medication exposure read as it happens (issue 9 item 6).

An active oral agent is exposure every day up to `now`, not a single dose on its order date; a dose change of the
same agent is not a new therapy line; `medicationReference` to a contained or referenced Medication is resolved;
chemotherapy recorded only as a Procedure counts as chemotherapy given that day. IV agents without administrations
keep reading their order date (an order left active says nothing about the infusion days).
"""

from __future__ import annotations

from datetime import datetime

from cdshooks.clinical.build_facts import build_facts
from cdshooks.clinical.facts import PatientFacts, Therapy
from cdshooks.clinical.knowledge import default_knowledge
from cdshooks.clinical.rules.scenario import line_start, new_therapy_lines, systemic_therapies
from cdshooks.fhir.codes import parse_fhir_datetime
from cdshooks.fhir.record import Record
from tools.fixtures.builders import AS_OF, RXNORM, SNOMED, Chart

KB = default_knowledge()
GAP = KB.param("P_NEW_THERAPY_GAP_DAYS")


def facts_of(chart: Chart) -> PatientFacts:
    return build_facts(Record.build(chart.patient_id, chart.resources), AS_OF, KB)


def therapy(facts: PatientFacts, agent: str) -> Therapy:
    return next(t for t in facts.therapies if t.agent == agent)


def at(chart: Chart, offset: float) -> datetime:
    moment = parse_fhir_datetime(chart.day(offset))
    assert moment is not None
    return moment


def test_active_capecitabine_ordered_200_days_ago_is_ongoing_exposure_up_to_now() -> None:
    chart = Chart()
    chart.medication_request(-200, text="capecitabine 500 mg oral tablet")
    cape = therapy(facts_of(chart), "capecitabine")
    assert cape.ongoing and cape.start == at(chart, -200)
    assert cape.last_dose == AS_OF
    scan_day = at(chart, -30)
    assert cape.last_dose_before(scan_day) == scan_day  # on capecitabine when the scan was done
    assert line_start(cape, GAP) == at(chart, -200)  # one line, however long


def test_dose_change_of_the_same_agent_is_not_a_new_line() -> None:
    chart = Chart()
    chart.medication_request(-200, text="capecitabine 1500 mg twice daily", status="stopped", end=-100)
    chart.medication_request(-100, text="capecitabine 1000 mg twice daily (dose reduced)")
    facts = facts_of(chart)
    cape = therapy(facts, "capecitabine")
    assert line_start(cape, GAP) == at(chart, -200)
    assert not new_therapy_lines(facts, KB.parameters)


def test_restart_after_a_long_break_is_a_new_line() -> None:
    chart = Chart()
    chart.medication_request(-400, text="palbociclib 125 mg", status="completed", end=-250)
    chart.medication_request(-60, text="palbociclib 100 mg")
    pal = therapy(facts_of(chart), "palbociclib")
    assert line_start(pal, GAP) == at(chart, -60)


def test_completed_endocrine_statement_is_exposure_over_its_period() -> None:
    chart = Chart()
    chart.medication_statement(-900, text="letrozole 2.5 mg daily", status="completed", end=-400)
    letrozole = therapy(facts_of(chart), "letrozole")
    assert not letrozole.ongoing
    assert letrozole.last_dose == at(chart, -400)
    assert letrozole.last_dose_before(at(chart, -500)) == at(chart, -500)
    assert letrozole.last_dose_before(at(chart, -100)) == at(chart, -400)


def test_active_iv_order_without_administrations_keeps_its_order_date() -> None:
    chart = Chart()
    chart.medication_request(-60, text="docetaxel 75 mg/m2 IV every 3 weeks")
    docetaxel = therapy(facts_of(chart), "docetaxel")
    assert docetaxel.ongoing and docetaxel.last_dose == at(chart, -60)


def test_administrations_outrank_an_order_left_active() -> None:
    chart = Chart()
    chart.medication_request(-300, text="tamoxifen 20 mg")
    chart.administration(-250, text="tamoxifen 20 mg")
    tamoxifen = therapy(facts_of(chart), "tamoxifen")
    assert tamoxifen.doses == (parse_fhir_datetime(chart.resources[-1]["effectiveDateTime"]),)


def test_contained_medication_is_resolved() -> None:
    chart = Chart()
    chart.add({"resourceType": "MedicationRequest", "status": "active", "intent": "order",
               "subject": {"reference": "Patient/bc-1"}, "authoredOn": chart.day(-40),
               "contained": [{"resourceType": "Medication", "id": "m1",
                              "code": {"coding": [{"system": RXNORM, "code": "1873916"}]}}],
               "medicationReference": {"reference": "#m1"}})
    ribociclib = therapy(facts_of(chart), "ribociclib")
    assert ribociclib.drug_class == "cdk46" and ribociclib.ongoing


def test_referenced_medication_with_only_ingredients_is_resolved() -> None:
    chart = Chart()
    chart.add({"resourceType": "Medication", "id": "med-local",
               "code": {"coding": [{"system": "urn:local:formulary", "code": "X-99"}]},
               "ingredient": [{"itemCodeableConcept": {"text": "Abemaciclib"}}]})
    chart.add({"resourceType": "MedicationRequest", "status": "active", "intent": "order",
               "subject": {"reference": "Patient/bc-1"}, "authoredOn": chart.day(-40),
               "medicationReference": {"reference": "Medication/med-local"}})
    assert therapy(facts_of(chart), "abemaciclib").drug_class == "cdk46"


def test_unresolvable_reference_falls_back_to_its_display_or_nothing() -> None:
    chart = Chart()
    chart.add({"resourceType": "MedicationRequest", "status": "active", "intent": "order",
               "subject": {"reference": "Patient/bc-1"}, "authoredOn": chart.day(-40),
               "medicationReference": {"reference": "#missing", "display": "Fulvestrant 500 mg IM"}})
    chart.add({"resourceType": "MedicationRequest", "status": "active", "intent": "order",
               "subject": {"reference": "Patient/bc-1"}, "authoredOn": chart.day(-40),
               "medicationReference": {"reference": "Medication/nowhere"}})
    facts = facts_of(chart)
    assert [t.agent for t in facts.therapies] == ["fulvestrant"]


def test_chemotherapy_recorded_only_as_a_procedure_counts() -> None:
    chart = Chart()
    chart.procedure(-50, (SNOMED, "367336001", "Chemotherapy (procedure)"))
    chart.procedure(-29, text="Chemotherapy infusion, cycle 2")
    facts = facts_of(chart)
    chemo = therapy(facts, "chemotherapy")
    assert chemo.drug_class == "chemotherapy" and chemo.administered
    assert chemo.start == at(chart, -50) and chemo.last_dose == at(chart, -29)
    assert systemic_therapies(facts, KB.parameters)


def test_chemotherapy_planning_or_port_procedures_are_not_chemotherapy() -> None:
    chart = Chart()
    chart.procedure(-50, text="Insertion of port for chemotherapy")
    chart.procedure(-40, text="Chemotherapy planning consultation")
    chart.procedure(-30, (SNOMED, "367336001"), status="not-done")
    assert not facts_of(chart).therapies


def test_procedure_on_the_day_of_a_recorded_administration_is_not_a_second_agent() -> None:
    chart = Chart()
    chart.administration(-21, text="paclitaxel 80 mg/m2 IV")
    chart.procedure(-21, (SNOMED, "367336001"))
    assert [t.agent for t in facts_of(chart).therapies] == ["paclitaxel"]


def test_periods_do_not_reach_past_now_or_start_in_the_future() -> None:
    chart = Chart()
    chart.medication_request(10, text="anastrozole 1 mg")  # planned
    anastrozole = therapy(facts_of(chart), "anastrozole")
    assert anastrozole.periods == () and anastrozole.last_dose is None and not anastrozole.ongoing
