"""The flare phenomenon (R13): more uptake or new foci on a bone scan weeks after an effective new therapy
line is often healing, not progression. Stronger when the patient is improving.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cdshooks.clinical.facts import ImagingResult, PatientFacts, Therapy
from cdshooks.clinical.findings import Finding
from cdshooks.clinical.report_reading import BoneMetResult, Change
from cdshooks.clinical.rules.mda import mda_label
from cdshooks.clinical.rules.scenario import SYSTEMIC, Params, calendar_days

WORSENING = {Change.INCREASED_UPTAKE: "increased uptake", Change.NEW_FOCI: "new foci",
             Change.PROGRESSION: "apparent progression"}


def _improvement(facts: PatientFacts, start: datetime, scan: ImagingResult) -> list[str]:
    """Signs of response since therapy start: pain resolved, ALP falling, lytic lesions turning sclerotic."""
    signs = []
    pain = [s for s in facts.symptoms if s.kind == "bone-pain"]
    if any(s.abated is not None and s.abated >= start for s in pain) or (
            pain and not any(s.active for s in pain) and any((s.onset or start) <= start for s in pain)):
        signs.append("bone pain resolved")
    alp = sorted((lab for lab in facts.labs if lab.kind == "alp" and lab.when and lab.value is not None),
                 key=lambda lab: lab.when)  # type: ignore[arg-type, return-value]
    before = [lab for lab in alp if lab.when <= start]  # type: ignore[operator]
    after = [lab for lab in alp if lab.when > start]  # type: ignore[operator]
    reference = before[-1] if before else (after[0] if len(after) > 1 else None)
    if reference is not None and after and after[-1] is not reference and after[-1].value < reference.value:  # type: ignore[operator]
        signs.append(f"ALP falling ({reference.value:g} to {after[-1].value:g} {after[-1].unit})".replace(" )", ")"))
    if any(i.is_cross_sectional and Change.SCLEROTIC_CHANGE in i.changes and i.when and i.when >= start
           for i in facts.imaging):
        signs.append("lytic lesions turning sclerotic on CT/MRI")
    return signs


def _worsening(scan: ImagingResult) -> str | None:
    changes = [label for change, label in WORSENING.items() if change in scan.changes]
    return " and ".join(changes) if changes else None


def _known_disease_before(facts: PatientFacts, scan: ImagingResult) -> bool:
    return bool(facts.bone_mets) or scan.result is BoneMetResult.POSITIVE or any(
        i.result is BoneMetResult.POSITIVE and i.when is not None and scan.when is not None and i.when < scan.when
        for i in facts.imaging)


def _line_for(facts: PatientFacts, scan: ImagingResult, low: float, high: float) -> Therapy | None:
    """The most recently started systemic agent whose first use lies `low`..`high` days before the scan.

    The window is counted from the scan, not from today: a scan read a month ago had its own flare window.
    """
    if scan.when is None:
        return None
    lines = sorted((t for t in facts.therapies_of(*SYSTEMIC) if t.start is not None and t.start <= scan.when),
                   key=lambda t: t.start, reverse=True)  # type: ignore[arg-type, return-value]
    for line in lines:
        if low <= calendar_days(scan.when, line.start) <= high:  # type: ignore[arg-type]
            return line
    return None


def bone_scan_flare(facts: PatientFacts, params: Params) -> list[Finding]:
    if facts.breast_cancer is None:
        return []
    # the latest reported bone scan only (older ones have been read against newer imaging); a study without
    # a report or finding says nothing about uptake
    scans = [s for s in facts.imaging_before_now() if s.is_bone_scan and s.basis != "study"]
    if not scans:
        return []
    scan = scans[-1]
    change = _worsening(scan)
    if change is None or not facts.within(scan.when, params["P_FLARE_EXTENDED_MAX_DAYS"]):
        return []
    if not _known_disease_before(facts, scan):
        return []
    line = _line_for(facts, scan, params["P_FLARE_MIN_DAYS"], params["P_FLARE_EXTENDED_MAX_DAYS"])
    if line is None or line.start is None or scan.when is None:
        return []
    days = calendar_days(scan.when, line.start)
    # agents started the same day are one line ("letrozole + palbociclib")
    agents = sorted({t.agent for t in facts.therapies_of(*SYSTEMIC)
                     if t.start is not None and t.start.date() == line.start.date()})
    signs = _improvement(facts, line.start, scan)
    variant = "late" if days > params["P_FLARE_MAX_DAYS"] else ("likely" if signs else "possible")
    follow_up = scan.when + timedelta(days=params["P_FLARE_REIMAGE_DAYS"])
    return [Finding(
        topic="bone-scan-flare",
        values={"variant": variant, "bone_scan": scan.label, "change": change, "agent": " + ".join(agents),
                "therapy_start": line.start, "weeks_after": round(days / 7),
                "improvement": ", ".join(signs) if signs else "none documented",
                "follow_up_date": follow_up, "follow-up-bone-scan_occurrence": follow_up,
                "mda_label": mda_label(scan)},
        suggestions=("follow-up-bone-scan",),
        recency=scan.when,
    )]
