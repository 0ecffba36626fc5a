"""The course of bone-metastatic disease: a classic positive bone scan means stage IV (R19); new pain after
treated bone metastases suggests recurrence (R21).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cdshooks.clinical.evidence import Status
from cdshooks.clinical.facts import PatientFacts
from cdshooks.clinical.findings import CardValues, Finding
from cdshooks.clinical.report_reading import Change
from cdshooks.clinical.rules.imaging_evidence import bone_changes, bone_status
from cdshooks.clinical.rules.scenario import SINCE, Params, last_chemotherapy
from cdshooks.clinical.topics import RESULT_HOOKS, Topic, rule
from cdshooks.clinical.wording import Phrase


@dataclass(frozen=True, kw_only=True)
class ClassicValues(CardValues):
    bone_scan: str


@dataclass(frozen=True, kw_only=True)
class RecurrenceValues(CardValues):
    pain: Phrase
    last_chemo: datetime


_TREATED = frozenset({Change.SCLEROTIC_CHANGE, Change.DECREASED})  # a treated lesion's changes
CLASSIC = Topic("classic-bone-scan-stage-iv", ClassicValues)
RECURRENCE = Topic("recurrence-after-treated-mets", RecurrenceValues, suggestions=("add-fdg-petct",))


@rule(RESULT_HOOKS, emits=(CLASSIC,), rank=23)
def classic_positive_bone_scan(facts: PatientFacts, params: Params) -> list[Finding]:
    if facts.breast_cancer is None:
        return []
    scans = [s for s in facts.imaging_before_now() if s.is_bone_scan and s.basis != "study"]  # reported scans
    if not scans:
        return []
    scan = scans[-1]
    # the classic pattern: multiple foci the radiologist reads as metastatic (not merely suspicious)
    if bone_status(scan) is not Status.METASTATIC or not scan.multifocal or scan.when is None:
        return []
    if not facts.within(scan.when, params["P_RESULT_RECENT_DAYS"]):
        return []
    # known before: established by the day before this scan (a diagnosis coded from this scan does not count)
    if facts.bone_mets_established_before(scan.when) is not None:
        return []
    return [CLASSIC.finding(ClassicValues(bone_scan=scan.label), recency=scan.when)]


@rule(RESULT_HOOKS, emits=(RECURRENCE,), rank=24)
def recurrence_after_treated_mets(facts: PatientFacts, params: Params) -> list[Finding]:
    if facts.breast_cancer is None or facts.bone_mets_evidence() is None:
        return []
    treated = [i for i in facts.imaging_before_now()
               if _TREATED & bone_changes(i)]
    if not treated:
        return []
    chemo = last_chemotherapy(facts)
    if chemo is None or chemo.last_dose is None or any(t.ongoing for t in facts.therapies_of("chemotherapy")):
        return []  # R21 is about the time after chemotherapy has ended
    pain = [s for s in facts.recent_symptoms({"bone-pain"}, params["P_SUSPICION_LOOKBACK_DAYS"])
            if s.onset is not None and (s.onset - chemo.last_dose).days >= params["P_RECURRENCE_AFTER_CHEMO_DAYS"]]
    if not pain:
        return []
    onset = min(s.onset for s in pain if s.onset)
    if any(i.when is not None and i.when >= onset for i in facts.imaging):
        return []
    return [RECURRENCE.finding(RecurrenceValues(pain=SINCE(what=pain[0].label, day=onset), last_chemo=chemo.last_dose),
                               suggestions=("add-fdg-petct",), recency=onset)]
