"""Bone scan against CT / PET-CT: discordance (R08) and the false-negative bone scan after chemotherapy (R09)."""

from __future__ import annotations

from cdshooks.clinical.facts import ImagingResult, PatientFacts
from cdshooks.clinical.findings import Finding
from cdshooks.clinical.report_reading import BoneMetResult, LesionCharacter
from cdshooks.clinical.rules.mda import mda_label
from cdshooks.clinical.rules.scenario import Params, calendar_days, days_between


def _pairs(facts: PatientFacts, window: float) -> list[tuple[ImagingResult, ImagingResult]]:
    """(CT or PET/CT positive for bone metastases, bone scan negative) within the pairing window, newest first."""
    studies = facts.imaging_before_now()
    positives = [s for s in studies if s.is_ct_or_pet and s.result is BoneMetResult.POSITIVE]
    negatives = [s for s in studies if s.is_bone_scan and s.result is BoneMetResult.NEGATIVE]
    pairs = [(p, n) for p in positives for n in negatives
             if p.when and n.when and days_between(p.when, n.when) <= window]
    return sorted(pairs, key=lambda pn: max(pn[0].when, pn[1].when), reverse=True)  # type: ignore[type-var]


def discordant_ct_positive_bone_scan_negative(facts: PatientFacts, params: Params) -> list[Finding]:
    if facts.breast_cancer is None:
        return []
    pairs = _pairs(facts, params["P_DISCORDANCE_WINDOW_DAYS"])
    if not pairs:
        return []
    positive, negative = pairs[0]
    return [Finding(
        topic="discordant-ct-positive-bone-scan-negative",
        values={"positive_study": positive.label, "negative_study": negative.label,
                "days_apart": days_between(positive.when, negative.when),  # type: ignore[arg-type]
                "mda_label": mda_label(positive)},
        recency=max(positive.when, negative.when),  # type: ignore[type-var]
    )]


def _supporting(facts: PatientFacts, scan: ImagingResult, window: float) -> str | None:
    """CT/PET-CT near the scan showing sclerosis or metastasis, or a high ALP around it."""
    for study in reversed(facts.imaging_before_now()):
        if not study.is_ct_or_pet or study.when is None or scan.when is None:
            continue
        if days_between(study.when, scan.when) > window:
            continue
        if study.result is BoneMetResult.POSITIVE or study.character in {LesionCharacter.BLASTIC,
                                                                         LesionCharacter.MIXED}:
            return f"{study.label} shows {'sclerotic lesions' if study.character else 'bone metastases'}"
    for lab in sorted((lab for lab in facts.labs if lab.kind == "alp" and lab.flag == "high" and lab.when),
                      key=lambda lab: lab.when, reverse=True):  # type: ignore[arg-type, return-value]
        if scan.when is not None and days_between(lab.when, scan.when) <= window:  # type: ignore[arg-type]
            return lab.label
    return None


def false_negative_after_chemo(facts: PatientFacts, params: Params) -> list[Finding]:
    if facts.breast_cancer is None:
        return []
    scans = [s for s in facts.imaging_before_now() if s.is_bone_scan and s.result is BoneMetResult.NEGATIVE]
    chemo = facts.therapies_of("chemotherapy")
    for scan in reversed(scans):
        if scan.when is None:
            continue
        doses = [(t, d) for t in chemo if (d := t.last_dose_before(scan.when)) is not None]
        if not doses:
            continue
        therapy, dose = max(doses, key=lambda td: td[1])
        gap = calendar_days(scan.when, dose)
        if gap > params["P_POSTCHEMO_FN_DAYS"]:
            continue
        supporting = _supporting(facts, scan, params["P_DISCORDANCE_WINDOW_DAYS"])
        if supporting is None:
            continue
        return [Finding(topic="bone-scan-false-negative-after-chemo",
                        values={"bone_scan": scan.label, "agent": therapy.agent, "last_dose": dose,
                                "days_after": gap, "supporting": supporting},
                        recency=scan.when)]
    return []
