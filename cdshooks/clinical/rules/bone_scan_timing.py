"""When a bone scan ordered now is likely to mislead: lytic disease (R08/R23), right after chemotherapy
(R09), inside the flare window of a new therapy line (R13).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cdshooks.clinical.facts import BONE_SCANS, DraftOrder, PatientFacts
from cdshooks.clinical.findings import CardValues, Finding
from cdshooks.clinical.report_reading import Change, LesionCharacter
from cdshooks.clinical.rules.appropriateness import imaging_orders
from cdshooks.clinical.rules.scenario import (
    Params,
    known_bone_mets,
    last_chemotherapy,
    renal_impairment,
    therapy_lines_within,
)
from cdshooks.clinical.topics import ORDER_HOOKS, Topic, rule


@dataclass(frozen=True, kw_only=True)
class LyticValues(CardValues):
    order: str
    lytic_study: str


@dataclass(frozen=True, kw_only=True)
class PostChemoValues(CardValues):
    order: str
    agent: str
    last_dose: datetime
    days_since: int
    window_days: int


@dataclass(frozen=True, kw_only=True)
class FlareWindowValues(CardValues):
    order: str
    agent: str
    therapy_start: datetime
    days_since: int
    earliest_date: datetime


LYTIC = Topic("bone-scan-lytic-limitation", LyticValues, suggestions=("replace-fdg-petct", "replace-ct-cap-iv"))
POST_CHEMO = Topic("post-chemo-bone-scan-timing", PostChemoValues)
FLARE_WINDOW = Topic("flare-window-bone-scan", FlareWindowValues)


def _bone_scan_orders(facts: PatientFacts) -> list[DraftOrder]:
    return [o for o in imaging_orders(facts) if o.procedure_class in BONE_SCANS]


@rule(ORDER_HOOKS, emits=(LYTIC,), rank=15)
def lytic_limitation(facts: PatientFacts, params: Params) -> list[Finding]:
    scans = _bone_scan_orders(facts)
    if facts.breast_cancer is None or not scans:
        return []
    # the latest CT/MRI/PET that describes the lesions decides: lytic lesions that have since turned
    # sclerotic (treated) or a mixed pattern keep a tracer-avid component
    described = [i for i in facts.imaging_before_now() if i.is_cross_sectional
                 and (i.character is not None or Change.SCLEROTIC_CHANGE in i.changes)]
    if not described or described[-1].character is not LesionCharacter.LYTIC:
        return []
    study = described[-1]
    suggestions = ("replace-fdg-petct",) if renal_impairment(facts, params) else ("replace-fdg-petct",
                                                                                  "replace-ct-cap-iv")
    return [LYTIC.finding(LyticValues(order=scans[0].label, lytic_study=study.label), orders=scans,
                          suggestions=suggestions, recency=study.when)]


@rule(ORDER_HOOKS, emits=(POST_CHEMO,), rank=16)
def post_chemo_timing(facts: PatientFacts, params: Params) -> list[Finding]:
    """Off by default (P_ORDER_TIME_POSTCHEMO_TIMING = 0, clinical-rules.md §7.2): no literature defines a
    window for bone scintigraphy after chemotherapy, and during neoadjuvant therapy the ACR rates a bone scan
    usually appropriate. R09 stays a result-time rule."""
    if params.get("P_ORDER_TIME_POSTCHEMO_TIMING", 0) < 1:
        return []
    scans = _bone_scan_orders(facts)
    chemo = last_chemotherapy(facts)
    window = params["P_POSTCHEMO_FN_DAYS"]
    if facts.breast_cancer is None or not scans or chemo is None:
        return []
    days = facts.days_since(chemo.last_dose)
    if days is None or days > window or chemo.last_dose is None:
        return []
    return [POST_CHEMO.finding(PostChemoValues(order=scans[0].label, agent=chemo.agent, last_dose=chemo.last_dose,
                                               days_since=days, window_days=int(window)),
                               orders=scans, recency=chemo.last_dose)]


@rule(ORDER_HOOKS, emits=(FLARE_WINDOW,), rank=17)
def flare_window(facts: PatientFacts, params: Params) -> list[Finding]:
    scans = _bone_scan_orders(facts)
    if facts.breast_cancer is None or not scans or not known_bone_mets(facts):
        return []
    low, high = params["P_FLARE_MIN_DAYS"], params["P_FLARE_MAX_DAYS"]
    # the lines `new_therapy_lines` gives, less those begun more than `high` days ago (never in the window below):
    # a narrower window leaves fewer old doses to search for the gap that began a line
    horizon = params["P_FLARE_EXTENDED_MAX_DAYS"]
    lines = therapy_lines_within(facts, high if high <= horizon else horizon, params["P_NEW_THERAPY_GAP_DAYS"])
    for line in lines:
        age = facts.days_since(line.start)
        if line.start is not None and age is not None and low <= age <= high:
            earliest = line.start + timedelta(days=params["P_FLARE_REIMAGE_DAYS"])
            return [FLARE_WINDOW.finding(
                FlareWindowValues(order=scans[0].label, agent=line.agent, therapy_start=line.start, days_since=age,
                                  earliest_date=earliest), orders=scans, recency=line.start)]
    return []
