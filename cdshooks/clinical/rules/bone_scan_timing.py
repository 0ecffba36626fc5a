"""When a bone scan ordered now is likely to mislead: lytic disease (R08/R23), right after chemotherapy
(R09), inside the flare window of a new therapy line (R13).
"""

from __future__ import annotations

from datetime import timedelta

from cdshooks.clinical.facts import BONE_SCANS, DraftOrder, PatientFacts
from cdshooks.clinical.findings import Finding
from cdshooks.clinical.report_reading import LesionCharacter
from cdshooks.clinical.rules.appropriateness import imaging_orders
from cdshooks.clinical.rules.scenario import Params, known_bone_mets, last_chemotherapy, new_therapy_lines


def _bone_scan_orders(facts: PatientFacts) -> list[DraftOrder]:
    return [o for o in imaging_orders(facts) if o.procedure_class in BONE_SCANS]


def lytic_limitation(facts: PatientFacts, params: Params) -> list[Finding]:
    scans = _bone_scan_orders(facts)
    if facts.breast_cancer is None or not scans:
        return []
    lytic = [i for i in facts.imaging_before_now()
             if i.is_cross_sectional and i.character is LesionCharacter.LYTIC]
    if not lytic:
        return []
    study = lytic[-1]
    return [Finding(topic="bone-scan-lytic-limitation",
                    values={"order": scans[0].label, "lytic_study": f"{study.label}: lytic lesions"},
                    order_ids=tuple(o.ref for o in scans), suggestions=("replace-fdg-petct", "replace-ct-cap-iv"),
                    recency=study.when)]


def post_chemo_timing(facts: PatientFacts, params: Params) -> list[Finding]:
    scans = _bone_scan_orders(facts)
    chemo = last_chemotherapy(facts)
    window = params["P_POSTCHEMO_FN_DAYS"]
    if facts.breast_cancer is None or not scans or chemo is None or not facts.within(chemo.last_dose, window):
        return []
    days = int(facts.days_since(chemo.last_dose) or 0)
    return [Finding(topic="post-chemo-bone-scan-timing",
                    values={"order": scans[0].label, "agent": chemo.agent, "last_dose": chemo.last_dose,
                            "days_since": days, "window_days": int(window)},
                    order_ids=tuple(o.ref for o in scans), recency=chemo.last_dose)]


def flare_window(facts: PatientFacts, params: Params) -> list[Finding]:
    scans = _bone_scan_orders(facts)
    if facts.breast_cancer is None or not scans or not known_bone_mets(facts):
        return []
    low, high = params["P_FLARE_MIN_DAYS"], params["P_FLARE_MAX_DAYS"]
    for line in new_therapy_lines(facts, params):
        age = facts.days_since(line.start)
        if line.start is not None and age is not None and low <= age <= high:
            earliest = line.start + timedelta(days=params["P_FLARE_REIMAGE_DAYS"])
            return [Finding(topic="flare-window-bone-scan",
                            values={"order": scans[0].label, "agent": line.agent, "therapy_start": line.start,
                                    "days_since": int(age), "earliest_date": earliest},
                            order_ids=tuple(o.ref for o in scans), recency=line.start)]
    return []
