"""Bone scan against CT / PET-CT / MRI: discordance (R08) and the false-negative bone scan after chemotherapy
(R09). Both read the imaging evidence model (assertions per region), never report text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from cdshooks.clinical.dates import known_date
from cdshooks.clinical.evidence import Assertion, Status
from cdshooks.clinical.facts import ImagingResult, PatientFacts
from cdshooks.clinical.findings import CardValues, Finding
from cdshooks.clinical.rules.bone_health import SITE_NOT_STATED
from cdshooks.clinical.rules.imaging_evidence import (
    BLASTIC_COMPONENT,
    POSITIVE,
    STATUS_WORD,
    bone_characters,
    bone_status,
    discordant_positive,
    is_negative_bone_scan,
    unresolved_finding,
)
from cdshooks.clinical.rules.mda import mda_label
from cdshooks.clinical.rules.negative_scan import INDETERMINATE, IndeterminateValues
from cdshooks.clinical.rules.scenario import Params, calendar_days, days_between
from cdshooks.clinical.topics import RESULT_HOOKS, Topic, rule
from cdshooks.clinical.wording import Phrase, Shown, phrase_key

SCLEROTIC_SUPPORT = phrase_key("shows-sclerotic-bone-lesions", "study")
POSITIVE_SUPPORT = phrase_key("shows-bone-lesions-read-as", "study", "status")


@dataclass(frozen=True, kw_only=True)
class DiscordantValues(CardValues):
    variant: Literal["unconfirmed"] | None = None
    positive_study: str
    negative_study: str
    positive_status: Phrase
    site: Shown
    days_apart: int
    mda_label: Phrase


@dataclass(frozen=True, kw_only=True)
class FalseNegativeValues(CardValues):
    bone_scan: str
    agent: str
    last_dose: datetime
    days_after: int
    supporting: Shown


DISCORDANT = Topic("discordant-ct-positive-bone-scan-negative", DiscordantValues)
FALSE_NEGATIVE = Topic("bone-scan-false-negative-after-chemo", FalseNegativeValues)

# bone metastasis counts as confirmed (no biopsy needed to act on the discordance) on this evidence only
CONFIRMED_BASES = frozenset({"coded", "pathology"})

Pair = tuple[ImagingResult, Assertion, ImagingResult]


def _pairs(facts: PatientFacts, window: float,
           pick: Callable[[ImagingResult], Assertion | None]) -> list[Pair]:
    """(CT/PET/MRI study, its picked bone assertion, negative bone scan) within the window, newest first. `pick`
    reads CT/PET/MRI only (`discordant_positive`, `unresolved_finding`): no other study is offered to it."""
    negatives = negative_bone_scans(facts)
    if not negatives:
        return []  # nothing to pair with: no study needs picking
    pairs: list[Pair] = []
    for study in facts.imaging_before_now():
        if not study.is_cross_sectional:
            continue
        assertion = pick(study)
        if assertion is None or study.when is None:
            continue
        pairs.extend((study, assertion, n) for n in negatives
                     if n.when is not None and days_between(study.when, n.when) <= window)
    return sorted(pairs, key=_newest, reverse=True)


def negative_bone_scans(facts: PatientFacts) -> tuple[ImagingResult, ...]:
    """Bone scans negative for bone up to now, oldest first (once per call: R08 asks twice, R09 once)."""
    return facts.once(("negative_bone_scans",), lambda: tuple(
        [s for s in facts.imaging_before_now() if is_negative_bone_scan(s)]))


def _newest(pair: Pair) -> datetime:
    return max(known_date(pair[0].when), known_date(pair[2].when))


@rule(RESULT_HOOKS, emits=(DISCORDANT, INDETERMINATE), rank=12)
def discordant_ct_positive_bone_scan_negative(facts: PatientFacts, params: Params) -> list[Finding]:
    """R08 (§7.2): a metastatic (or suspicious lytic) CT/PET/MRI bone finding and a negative bone scan. An
    indeterminate finding next to a negative scan gets correlative-imaging advice instead, never "treat"."""
    if facts.breast_cancer is None:
        return []
    window = params["P_DISCORDANCE_WINDOW_DAYS"]
    pairs = _pairs(facts, window, discordant_positive)
    if pairs:
        study, assertion, negative = pairs[0]
        evidence = facts.bone_mets_evidence()
        confirmed = evidence is not None and evidence.basis in CONFIRMED_BASES
        values = DiscordantValues(
            variant=None if confirmed else "unconfirmed", positive_study=study.label, negative_study=negative.label,
            positive_status=STATUS_WORD[assertion.status](), site=assertion.site or study.site or SITE_NOT_STATED(),
            days_apart=days_between(known_date(study.when), known_date(negative.when)), mda_label=mda_label(study))
        return [DISCORDANT.finding(values, recency=_newest(pairs[0]))]
    unresolved = _pairs(facts, window, unresolved_finding)
    if not unresolved:
        return []
    study, assertion, negative = unresolved[0]
    # correlative imaging already done: a later MRI/CT of the skeleton answered it
    if any(i.when is not None and i.when > _newest(unresolved[0]) and i.modality in {"MR", "CT"}
           and bone_status(i) is not None for i in facts.imaging):
        return []
    return [INDETERMINATE.finding(
        IndeterminateValues(variant="cross-sectional", study=study.label, bone_scan=negative.label,
                            finding_status=STATUS_WORD[assertion.status](),
                            site=assertion.site or study.site or SITE_NOT_STATED()),
        recency=_newest(unresolved[0]))]


def _supporting(facts: PatientFacts, scan: ImagingResult, window: float) -> Shown:
    """CT/PET-CT near the scan showing sclerosis or metastasis, or a high ALP around it."""
    for study in reversed(facts.imaging_before_now()):
        if not study.is_ct_or_pet or study.when is None or scan.when is None:
            continue
        if days_between(study.when, scan.when) > window:
            continue
        status = bone_status(study)
        if status in {None, Status.BENIGN, Status.NEGATIVE}:
            continue
        if bone_characters(study) & BLASTIC_COMPONENT:
            return SCLEROTIC_SUPPORT(study=study.label)
        if status in POSITIVE:
            return POSITIVE_SUPPORT(study=study.label, status=STATUS_WORD[status]())
    for lab in sorted((lab for lab in facts.labs_of("alp") if lab.flag == "high" and lab.when),
                      key=lambda lab: known_date(lab.when), reverse=True):
        if scan.when is not None and days_between(known_date(lab.when), scan.when) <= window:
            return lab.label
    return None


@rule(RESULT_HOOKS, emits=(FALSE_NEGATIVE,), rank=13)
def false_negative_after_chemo(facts: PatientFacts, params: Params) -> list[Finding]:
    """R09: a bone scan negative for bone (from wherever the result was filed) within the post-chemotherapy
    window, while CT/PET-CT or ALP point to bone disease."""
    if facts.breast_cancer is None:
        return []
    scans = negative_bone_scans(facts)
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
        return [FALSE_NEGATIVE.finding(FalseNegativeValues(bone_scan=scan.label, agent=therapy.agent,
                                                           last_dose=dose, days_after=gap, supporting=supporting),
                                       recency=scan.when)]
    return []
