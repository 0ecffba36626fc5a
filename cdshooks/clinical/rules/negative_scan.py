"""What to do after a negative or indeterminate study: persistent pain -> targeted MRI (R10), visceral
suspicion -> contrast CT (R11), an indeterminate focus -> correlative imaging (R12), a negative CT in
demineralised bone (R18).
"""

from __future__ import annotations

import re
from datetime import timedelta

from cdshooks.clinical.dates import known_date
from cdshooks.clinical.evidence import Status
from cdshooks.clinical.facts import CT_CAP_IV, FDG_PETCT, ImagingResult, PatientFacts
from cdshooks.clinical.findings import Finding
from cdshooks.clinical.rules.imaging_evidence import bone_status, is_negative_bone_scan, negative_for_bone_metastasis
from cdshooks.clinical.rules.scenario import Params, renal_impairment, suspicion

SPINE_REGIONS = (("lumbar", "MRI_SPINE:lumbar"), ("thoracic", "MRI_SPINE:thoracic"),
                 ("cervical", "MRI_SPINE:cervical"), ("spine|back|vertebr|sacr", "MRI_SPINE"))


def _latest_bone_scan(facts: PatientFacts) -> ImagingResult | None:
    scans = [s for s in facts.imaging_before_now() if s.is_bone_scan and bone_status(s) is not None]
    return scans[-1] if scans else None


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
    site = symptom.site or "painful site"
    procedure = _mri_procedure(symptom.site)
    values = {"bone_scan": scan.label,
              "pain": f"{symptom.label} recorded {known_date(symptom.onset).date().isoformat()}",
              "site": site, "mri_procedure": procedure or "MRI_SPINE"}
    return [Finding(topic="negative-bone-scan-persistent-pain-mri", values=values,
                    suggestions=("add-mri-site",) if procedure else (), recency=symptom.onset)]


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
    return [Finding(topic="negative-bone-scan-visceral-suspicion-ct",
                    values={"bone_scan": scan.label, "visceral_evidence": found.visceral_evidence(),
                            "visceral_brief": found.visceral_brief()},
                    suggestions=suggestions, recency=scan.when)]


def _several_sites(site: str | None) -> bool:
    return site is not None and bool(re.search(r",|;|\band\b", site))


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
    return [Finding(topic="indeterminate-focus-correlative-imaging",
                    values={"bone_scan": scan.label, "site": scan.site or "focus (site not stated)"},
                    recency=scan.when)]


def osteopenia_ct_sensitivity(facts: PatientFacts, params: Params) -> list[Finding]:
    if facts.breast_cancer is None:
        return []
    cts = [i for i in facts.imaging_before_now() if i.modality == "CT" and not i.is_bone_scan
           and negative_for_bone_metastasis(i)]
    if not cts:
        return []
    ct = cts[-1]
    if not (facts.osteopenia or ct.osteopenia):
        return []
    window = params["P_SUSPICION_LOOKBACK_DAYS"]
    pain = facts.recent_symptoms({"bone-pain"}, window)
    alp = facts.latest_lab("alp", window)
    reasons = [f"{s.label} since {s.onset.date().isoformat()}" for s in pain if s.onset]
    if alp is not None and alp.flag == "high":
        reasons.append(alp.label)
    if not reasons or _since(facts, ct, {"NM", "MR", "PT"}):
        return []
    return [Finding(topic="osteopenia-ct-sensitivity", values={"ct_study": ct.label, "suspicion": "; ".join(reasons)},
                    suggestions=("add-bone-scan", "add-fdg-petct"), recency=ct.when)]
