"""What to do after a negative or indeterminate study: persistent pain -> targeted MRI (R10), visceral
suspicion -> contrast CT (R11), an indeterminate focus -> correlative imaging (R12), a negative CT in
demineralised bone (R18).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from cdshooks.clinical.dates import known_date
from cdshooks.clinical.evidence import Status
from cdshooks.clinical.facts import CT_CAP_IV, FDG_PETCT, ImagingResult, PatientFacts
from cdshooks.clinical.findings import CardValues, Finding
from cdshooks.clinical.rules.imaging_evidence import bone_status, is_negative_bone_scan, negative_for_bone_metastasis
from cdshooks.clinical.rules.scenario import SINCE, Params, renal_impairment, suspicion
from cdshooks.clinical.topics import RESULT_HOOKS, Topic, rule
from cdshooks.clinical.wording import Listing, Phrase, Shown, phrase_key

RECORDED = phrase_key("recorded", "what", "day")
PAINFUL_SITE = phrase_key("painful-site")
FOCUS_SITE_NOT_STATED = phrase_key("focus-site-not-stated")


@dataclass(frozen=True, kw_only=True)
class PersistentPainValues(CardValues):
    bone_scan: str
    pain: Phrase
    site: Shown
    mri_procedure: str


@dataclass(frozen=True, kw_only=True)
class VisceralValues(CardValues):
    bone_scan: str
    visceral_evidence: Listing


@dataclass(frozen=True, kw_only=True)
class IndeterminateValues(CardValues):
    variant: Literal["cross-sectional"] | None = None
    bone_scan: str
    site: Shown
    study: str | None = None  # cross-sectional: the CT/MRI/PET with the indeterminate bone finding
    finding_status: Phrase | None = None


@dataclass(frozen=True, kw_only=True)
class OsteopeniaValues(CardValues):
    ct_study: str
    suspicion: Listing


PERSISTENT_PAIN = Topic("negative-bone-scan-persistent-pain-mri", PersistentPainValues, suggestions=("add-mri-site",))
VISCERAL = Topic("negative-bone-scan-visceral-suspicion-ct", VisceralValues,
                 suggestions=("add-ct-cap-iv", "add-fdg-petct"))
INDETERMINATE = Topic("indeterminate-focus-correlative-imaging", IndeterminateValues)
OSTEOPENIA = Topic("osteopenia-ct-sensitivity", OsteopeniaValues, suggestions=("add-bone-scan", "add-fdg-petct"))

SPINE_REGIONS = (("lumbar", "MRI_SPINE:lumbar"), ("thoracic", "MRI_SPINE:thoracic"),
                 ("cervical", "MRI_SPINE:cervical"), ("spine|back|vertebr|sacr", "MRI_SPINE"))


def _latest_bone_scan(facts: PatientFacts) -> ImagingResult | None:
    """The latest bone scan that says something about bone (once per call: three rules ask)."""
    return facts.once(("latest_bone_scan",), lambda: next(
        (s for s in reversed(facts.imaging_before_now()) if s.is_bone_scan and bone_status(s) is not None), None))


def _since(facts: PatientFacts, study: ImagingResult, modalities: set[str],
           classes: set[str] | frozenset[str] = frozenset()) -> bool:
    """Any later study of these modalities or procedure classes."""
    return any(i.when is not None and study.when is not None and i.when > study.when
               and (i.modality in modalities or i.procedure_class in classes) and i is not study
               for i in facts.imaging)


def _mri_procedure(site: str | None) -> str | None:
    text = (site or "").lower()
    for pattern, procedure in SPINE_REGIONS:
        if re.search(pattern, text):
            return procedure
    return None


@rule(RESULT_HOOKS, emits=(PERSISTENT_PAIN,), rank=16)
def persistent_pain_after_negative_scan(facts: PatientFacts, params: Params) -> list[Finding]:
    scan = _latest_bone_scan(facts)
    if facts.breast_cancer is None or scan is None or not is_negative_bone_scan(scan) or scan.when is None:
        return []
    window = params["P_SUSPICION_LOOKBACK_DAYS"]
    # still active, and new around the scan: recorded after it, within the look-back, or the pain that led to
    # the scan (began up to the look-back before it) and has not gone away
    pain = [s for s in facts.symptoms if s.kind == "bone-pain" and s.active and s.onset is not None
            and (s.onset >= scan.when - timedelta(days=window) or facts.within(s.onset, window))]
    if not pain or _since(facts, scan, {"MR"}):
        return []
    symptom = max(pain, key=lambda s: known_date(s.onset))
    procedure = _mri_procedure(symptom.site)
    values = PersistentPainValues(bone_scan=scan.label,
                                  pain=RECORDED(what=symptom.label, day=known_date(symptom.onset)),
                                  site=symptom.site or PAINFUL_SITE(), mri_procedure=procedure or "MRI_SPINE")
    return [PERSISTENT_PAIN.finding(values, suggestions=("add-mri-site",) if procedure else (),
                                    recency=symptom.onset)]


@rule(RESULT_HOOKS, emits=(VISCERAL,), rank=17)
def visceral_suspicion_after_negative_scan(facts: PatientFacts, params: Params) -> list[Finding]:
    scan = _latest_bone_scan(facts)
    if facts.breast_cancer is None or scan is None or not is_negative_bone_scan(scan):
        return []
    found = suspicion(facts, params)
    if not found.visceral or _since(facts, scan, set(), {CT_CAP_IV, FDG_PETCT}):
        return []
    # with the kidneys at risk FDG-PET/CT is offered; the card's `renal` wording is chosen where findings become
    # cards (the engine marks the finding's contrast risk from the same renal evidence)
    suggestions = ("add-fdg-petct",) if renal_impairment(facts, params) is not None else ("add-ct-cap-iv",)
    return [VISCERAL.finding(VisceralValues(bone_scan=scan.label, visceral_evidence=found.visceral_evidence()),
                             suggestions=suggestions, recency=scan.when)]


_SEVERAL_SITES = re.compile(r",|;|\band\b")


def _several_sites(site: str | None) -> bool:
    return site is not None and bool(_SEVERAL_SITES.search(site))


@rule(RESULT_HOOKS, emits=(INDETERMINATE,), rank=18)
def indeterminate_focus(facts: PatientFacts, params: Params) -> list[Finding]:
    scan = _latest_bone_scan(facts)
    if facts.breast_cancer is None or scan is None:
        return []
    # an indeterminate bone assertion; or a solitary focus called suspicious or metastatic (one focus is not
    # the classic pattern of R19: correlate it); never a focus the radiologist explained as benign
    status = bone_status(scan)
    if not (status is Status.INDETERMINATE or (scan.solitary_focus and status in {Status.SUSPICIOUS,
                                                                                  Status.METASTATIC})):
        return []
    # R12 is about a single focus: not a scan with several foci or sites, nor a follow-up scan of bone
    # metastasis already established (uptake at known sites is the flare/progression question, R13/R27)
    if scan.multifocal or _several_sites(scan.site) or (
            scan.when is not None and facts.bone_mets_established_before(scan.when) is not None):
        return []
    if _since(facts, scan, {"XR", "CR", "DX", "CT", "MR"}):
        return []
    return [INDETERMINATE.finding(IndeterminateValues(bone_scan=scan.label,
                                                      site=scan.site or FOCUS_SITE_NOT_STATED()),
                                  recency=scan.when)]


@rule(RESULT_HOOKS, emits=(OSTEOPENIA,), rank=19)
def osteopenia_ct_sensitivity(facts: PatientFacts, params: Params) -> list[Finding]:
    if facts.breast_cancer is None:
        return []
    cts = [i for i in facts.imaging_before_now() if i.modality == "CT" and not i.is_bone_scan
           and negative_for_bone_metastasis(i)]
    if not cts:
        return []
    ct = cts[-1]
    # a later bone scan, MRI or PET answered it: then no reason needs wording
    if not (facts.osteopenia or ct.osteopenia) or _since(facts, ct, {"NM", "MR", "PT"}):
        return []
    window = params["P_SUSPICION_LOOKBACK_DAYS"]
    pain = facts.recent_symptoms({"bone-pain"}, window)
    alp = facts.latest_lab("alp", window)
    reasons: list[Shown] = [SINCE(what=s.label, day=s.onset) for s in pain if s.onset]
    if alp is not None and alp.flag == "high":
        reasons.append(alp.label)
    if not reasons:
        return []
    return [OSTEOPENIA.finding(OsteopeniaValues(ct_study=ct.label, suspicion=Listing(tuple(reasons), "semicolon")),
                               suggestions=("add-bone-scan", "add-fdg-petct"), recency=ct.when)]
