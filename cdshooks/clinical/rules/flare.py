"""The flare phenomenon (R13): more uptake or new foci on a bone scan weeks after an effective new therapy
line is often healing, not progression. Stronger when the patient is improving.

Flare needs bone metastases established before the line started, and no progression on concurrent CT/MRI/PET
(§7.2). Otherwise the same scan gets `progression-not-flare` (R27): a first-ever positive scan during therapy
is new metastatic disease, and cross-sectional progression is not explained by a healing flare.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from cdshooks.clinical.dates import known_date
from cdshooks.clinical.evidence import Status
from cdshooks.clinical.facts import ImagingResult, PatientFacts, Therapy
from cdshooks.clinical.findings import CardValues, Finding
from cdshooks.clinical.report_reading import Change
from cdshooks.clinical.rules.imaging_evidence import (
    POSITIVE,
    bone_changes,
    bone_status,
    cross_sectional_progression,
    visceral_regions,
)
from cdshooks.clinical.rules.mda import mda_label
from cdshooks.clinical.rules.scenario import SYSTEMIC, Params, calendar_days
from cdshooks.clinical.topics import RESULT_HOOKS, Topic, rule
from cdshooks.clinical.wording import Listing, Phrase, Shown, phrase_key

WORSENING = {Change.INCREASED_UPTAKE: phrase_key("change-increased-uptake"),
             Change.NEW_FOCI: phrase_key("change-new-foci"),
             Change.PROGRESSION: phrase_key("change-apparent-progression")}
PAIN_RESOLVED = phrase_key("sign-bone-pain-resolved")
ALP_FALLING = phrase_key("sign-alp-falling", "before", "after", "unit")
TURNING_SCLEROTIC = phrase_key("sign-lytic-turning-sclerotic")
NONE_DOCUMENTED = phrase_key("none-documented")
UNRECORDED_DATE = phrase_key("unrecorded-date")
# a first-ever metastatic reading with no comparison words: the foci are new to the record (R27, seed 002)
FIRST_POSITIVE = phrase_key("change-first-positive")
REGION = {region: phrase_key(f"region-{region}") for region in (
    "bone", "liver", "lung", "pleura", "lymph-node", "brain", "adrenal", "peritoneum", "other-organ")}


@dataclass(frozen=True, kw_only=True)
class _ScanOnTherapy(CardValues):
    bone_scan: str
    change: Shown
    agent: str
    therapy_start: datetime
    weeks_after: int
    mda_label: Phrase


@dataclass(frozen=True, kw_only=True)
class FlareValues(_ScanOnTherapy):
    variant: Literal["likely", "possible", "late"] | None = None
    improvement: Shown
    follow_up_date: datetime


@dataclass(frozen=True, kw_only=True)
class ProgressionValues(_ScanOnTherapy):
    variant: Literal["new-disease"] | None = None
    known_since: datetime | Phrase | None = None  # established metastases: since when
    progression_study: str | None = None
    progression_region: Shown = None


FLARE = Topic("bone-scan-flare", FlareValues, suggestions=("follow-up-bone-scan",))
PROGRESSION = Topic("progression-not-flare", ProgressionValues)


def _improvement(facts: PatientFacts, start: datetime, scan: ImagingResult) -> list[Shown]:
    """Signs of response since therapy start: pain resolved, ALP falling, lytic lesions turning sclerotic."""
    signs: list[Shown] = []
    pain = [s for s in facts.symptoms if s.kind == "bone-pain"]
    if any(s.abated is not None and s.abated >= start for s in pain) or (
            pain and not any(s.active for s in pain) and any((s.onset or start) <= start for s in pain)):
        signs.append(PAIN_RESOLVED())
    alp = sorted((lab for lab in facts.labs_of("alp") if lab.when and lab.value is not None),
                 key=lambda lab: known_date(lab.when))
    before = [lab for lab in alp if known_date(lab.when) <= start]
    after = [lab for lab in alp if known_date(lab.when) > start]
    reference = before[-1] if before else (after[0] if len(after) > 1 else None)
    if reference is not None and after and after[-1] is not reference and after[-1].value < reference.value:  # type: ignore[operator]
        signs.append(ALP_FALLING(before=f"{reference.value:g}", after=f"{after[-1].value:g}",
                                 unit=f" {after[-1].unit}" if after[-1].unit else ""))
    if any(i.is_cross_sectional and Change.SCLEROTIC_CHANGE in bone_changes(i) and i.when and i.when >= start
           for i in facts.imaging):
        signs.append(TURNING_SCLEROTIC())
    return signs


def _worsening(scan: ImagingResult) -> Listing | None:
    changes = [label() for change, label in WORSENING.items() if change in bone_changes(scan)]
    return Listing(tuple(changes), "and") if changes else None


def _line_for(facts: PatientFacts, scan: ImagingResult, low: float, high: float) -> Therapy | None:
    """The most recently started systemic agent whose first use lies `low`..`high` days before the scan.

    The window is counted from the scan, not from today: a scan read a month ago had its own flare window.
    """
    if scan.when is None:
        return None
    lines = sorted((t for t in facts.therapies_of(*SYSTEMIC) if t.start is not None and t.start <= scan.when),
                   key=lambda t: known_date(t.start), reverse=True)
    for line in lines:
        if low <= calendar_days(scan.when, known_date(line.start)) <= high:
            return line
    return None


def _progression_on_cross_sectional(facts: PatientFacts, start: datetime, params: Params
                                    ) -> tuple[ImagingResult, str] | None:
    """CT/MRI/PET after the line started, inside the extended flare window and not after now, that shows
    progression: a visceral metastasis new since the line started (or reported new/growing), or a new or
    growing lytic bone lesion. Newest first."""
    known: set[str] = set()
    for study in facts.imaging_before_now():
        if study.when is not None and study.when <= start:
            known |= visceral_regions(study)
    # coded visceral metastases before the line: their region is not typed, so only "new"/"growing" counts
    coded_visceral = any(c.onset is None or c.onset <= start for c in facts.other_mets)
    horizon = params["P_FLARE_EXTENDED_MAX_DAYS"]
    for study in reversed(facts.imaging_before_now()):
        if study.when is None or study.when <= start or calendar_days(study.when, start) > horizon:
            continue
        region = cross_sectional_progression(study, known, coded_visceral)
        if region is not None:
            return study, region
    return None


@rule(RESULT_HOOKS, emits=(FLARE, PROGRESSION), rank=14)
def bone_scan_flare(facts: PatientFacts, params: Params) -> list[Finding]:
    """R13 flare, or R27 progression-not-flare for the same worsening scan (never both)."""
    if facts.breast_cancer is None:
        return []
    # the latest reported bone scan only (older ones have been read against newer imaging); a study without
    # a report or finding says nothing about uptake
    scans = [s for s in facts.imaging_before_now() if s.is_bone_scan and s.basis != "study"]
    if not scans:
        return []
    scan = scans[-1]
    change = _worsening(scan)
    status = bone_status(scan)
    if status in {Status.BENIGN, Status.NEGATIVE} or (change is None and status not in POSITIVE):
        return []
    if not facts.within(scan.when, params["P_FLARE_EXTENDED_MAX_DAYS"]):
        return []
    line = _line_for(facts, scan, params["P_FLARE_MIN_DAYS"], params["P_FLARE_EXTENDED_MAX_DAYS"])
    if line is None or line.start is None or scan.when is None:
        return []
    days = calendar_days(scan.when, line.start)
    # agents started the same day are one line ("letrozole + palbociclib")
    agents = sorted({t.agent for t in facts.therapies_of(*SYSTEMIC)
                     if t.start is not None and t.start.date() == line.start.date()})
    common = _ScanOnTherapy(bone_scan=scan.label, change=change or FIRST_POSITIVE(), agent=" + ".join(agents),
                            therapy_start=line.start, weeks_after=round(days / 7), mda_label=mda_label(scan))
    base: dict[str, Any] = {k: v for k, v in common.shown().items() if k != "variant"}
    known = facts.bone_mets_established_before(line.start)
    if known is None:
        # a first-ever positive scan during therapy is new metastatic disease (seed 002), not a flare; an
        # increase the radiologist does not call metastatic or suspicious is left to R12 / correlation
        if status not in POSITIVE:
            return []
        return [PROGRESSION.finding(ProgressionValues(**base, variant="new-disease"), recency=scan.when)]
    if change is None:
        return []  # known metastases read again without a worse word: neither flare nor progression on the scan
    progression = _progression_on_cross_sectional(facts, line.start, params)
    if progression is not None:
        study, region = progression
        return [PROGRESSION.finding(
            ProgressionValues(**base, known_since=known.since or UNRECORDED_DATE(), progression_study=study.label,
                              progression_region=REGION[region]() if region in REGION else region),
            recency=max(scan.when, known_date(study.when)))]
    signs = _improvement(facts, line.start, scan)
    variant: Literal["likely", "possible", "late"] = (
        "late" if days > params["P_FLARE_MAX_DAYS"] else ("likely" if signs else "possible"))
    follow_up = scan.when + timedelta(days=params["P_FLARE_REIMAGE_DAYS"])
    return [FLARE.finding(
        FlareValues(**base, variant=variant, improvement=Listing(tuple(signs)) if signs else NONE_DOCUMENTED(),
                    follow_up_date=follow_up),
        suggestions=("follow-up-bone-scan",), recency=scan.when)]
