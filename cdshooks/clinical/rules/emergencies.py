"""Two emergencies of bone metastases (clinical-rules.md §7.3): suspected spinal cord compression (R25) and
hypercalcaemia of malignancy (R26). Both are critical, shown at result time and next to any imaging order being
drafted for the patient.

R25: back or neck pain with a new neurological deficit (limb weakness, sensory level or loss, bladder or bowel
dysfunction, gait disturbance) in breast cancer with known or suspected vertebral metastases -> urgent MRI of the
whole spine (seed 004; NICE NG234, 2023). It takes precedence over R05 (`cns-symptoms-mri-brain`): limb weakness
with spinal pain in this setting is the cord, not the brain (rules/site.py asks `cord_compression`).

R26: calcium above the laboratory's range, corrected for albumin when albumin is known (corrected Ca mg/dL =
Ca + 0.8 x (4.0 - albumin g/dL)), or ionised calcium above its own range, in breast cancer with known or
suspected bone metastases -> urgent treatment; bisphosphonates are the standard treatment (seed 003).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from cdshooks.clinical.dates import known_date
from cdshooks.clinical.evidence import EPIDURAL, VERTEBRAL, Assertion, Status
from cdshooks.clinical.facts import MRI_SPINE, ImagingResult, LabResult, PatientFacts, Symptom, supersedes
from cdshooks.clinical.findings import CardValues, Finding
from cdshooks.clinical.rules.imaging_evidence import STATUS_WORD, bone_assertions
from cdshooks.clinical.rules.scenario import AND_MORE, SINCE, Params, day, earliest_per_kind
from cdshooks.clinical.topics import ORDER_HOOKS, RESULT_HOOKS, Topic, rule
from cdshooks.clinical.wording import Listing, Phrase, Shown, phrase_key

MEASURED = phrase_key("measured", "what", "value")
MEASURED_ON = phrase_key("measured-on", "what", "day")
WITH_CONVERSION = phrase_key("with-conversion", "value", "converted")
PAIN_AT = phrase_key("pain-at-site-since", "what", "site", "day")
ON_IMAGING = phrase_key("mets-on-imaging", "study", "finding")
ON_IMAGING_AT = phrase_key("mets-on-imaging-at", "study", "finding", "site")
EPIDURAL_FINDING = phrase_key("finding-epidural-extension")
BONE_FINDING = phrase_key("finding-bone-status", "status")
CODED = phrase_key("mets-coded", "what", "day")
METS_BRIEF = {(True, True): phrase_key("mets-known-vertebral"), (True, False): phrase_key("mets-known-bone"),
              (False, True): phrase_key("mets-suspected-vertebral"), (False, False): phrase_key("mets-suspected-bone")}
CALCIUM_KIND = {"calcium-ionised": phrase_key("calcium-ionised"), "calcium-corrected": phrase_key("calcium-corrected"),
                "calcium": phrase_key("calcium-total")}
ABOVE_LAB_RANGE = phrase_key("calcium-above-lab-range", "basis")
ABOVE_IONISED_DEFAULT = phrase_key("calcium-above-ionised-default", "limit")
ABOVE_CORRECTED_DEFAULT = phrase_key("calcium-above-corrected-default", "mmol", "mgdl")
CORRECTED_FOR_ALBUMIN = phrase_key("calcium-corrected-for-albumin", "total", "albumin", "against")
LAB_UPPER_LIMIT = phrase_key("lab-upper-limit")
DEFAULT_LIMIT = phrase_key("calcium-default-limit", "mmol", "mgdl")
ABOVE_LAB_RANGE_NO_ALBUMIN = phrase_key("calcium-above-lab-range-no-albumin", "basis")
ABOVE_DEFAULT_NO_ALBUMIN = phrase_key("calcium-above-corrected-default-no-albumin", "mmol", "mgdl")
RENAL_UNKNOWN = phrase_key("bisphosphonate-renal-unknown")
RENAL_LATEST = phrase_key("bisphosphonate-renal-latest", "labs")


@dataclass(frozen=True, kw_only=True)
class _EmergencyValues(CardValues):
    variant: Literal["chart", "order"]  # in the chart (patient-view) or next to an imaging draft
    mets_evidence: Shown
    mets_brief: Phrase
    order: str | None = None  # order hooks: the imaging order being drafted


@dataclass(frozen=True, kw_only=True)
class CordValues(_EmergencyValues):
    deficits: Listing
    deficit_brief: Shown
    pain: Listing


@dataclass(frozen=True, kw_only=True)
class CalciumValues(_EmergencyValues):
    calcium: Phrase
    calcium_brief: Shown
    calcium_how: Phrase
    renal: Phrase


CORD_TOPIC = Topic("spinal-cord-compression-mri-spine", CordValues, suggestions=("add-mri-whole-spine",))
CALCIUM_TOPIC = Topic("hypercalcaemia-of-malignancy", CalciumValues)
CORD = CORD_TOPIC.code
CALCIUM = CALCIUM_TOPIC.code
MGDL_PER_MMOLL = 4.008  # calcium: 1 mmol/L = 4.008 mg/dL (molar mass 40.08 g/mol)
_SPINAL_SITE = re.compile(
    r"\b(spine|spinal|vertebra\w*|lumbar|thoracic|cervical|sacr\w*|[ctls]\d{1,2}(-[ctls]?\d{1,2})?)\b", re.IGNORECASE)
_SUPERSEDING = {Status.NEGATIVE, Status.BENIGN}


def _brief(labels: list[str], limit: int) -> Shown:
    """The first label, and how many more, cut to `limit` characters (for one-line summaries)."""
    if not labels:
        return ""
    first = labels[0] if len(labels[0]) <= limit - 9 else labels[0][: limit - 10].rstrip() + "…"
    return AND_MORE(first=first, count=len(labels) - 1) if len(labels) > 1 else first


# ------------------------------------------------------------------------------------ metastasis evidence
@dataclass(frozen=True)
class MetsEvidence:
    label: Shown  # for the card detail
    brief: Phrase  # for the summary: "known vertebral metastases", "suspected bone metastases", ...
    vertebral: bool
    epidural: bool
    known: bool = True


def _spinal(assertion: Assertion) -> bool:
    return VERTEBRAL in assertion.features or bool(assertion.site and _SPINAL_SITE.search(assertion.site))


def _superseded(results: list[ImagingResult], result: ImagingResult) -> bool:
    """A later result replaces this one as evidence about bone (clinical-rules.md §7.1; `facts.supersedes`)."""
    return any(supersedes(later, result) for later in results)


def imaging_mets(facts: PatientFacts, params: Params) -> MetsEvidence | None:
    """The strongest imaging evidence of (vertebral) bone metastasis still standing: a metastatic bone assertion,
    or a suspicious one or an epidural extension within P_SUSPECTED_METS_IMAGING_DAYS; spine before elsewhere."""
    window = params["P_SUSPECTED_METS_IMAGING_DAYS"]
    found: list[tuple[int, MetsEvidence]] = []
    results = facts.imaging_before_now()
    for result in results:
        for assertion in bone_assertions(result):
            if not assertion.is_bone or assertion.status in _SUPERSEDING:
                continue
            epidural = EPIDURAL in assertion.features
            if assertion.status is Status.INDETERMINATE and not epidural:
                continue
            if _superseded(results, result) or (assertion.status is not Status.METASTATIC
                                               and not facts.within(result.when, window)):
                continue
            vertebral = _spinal(assertion) or epidural
            known = assertion.status is Status.METASTATIC
            what = EPIDURAL_FINDING() if epidural else BONE_FINDING(status=STATUS_WORD[assertion.status]())
            label = (ON_IMAGING_AT(study=result.label, finding=what, site=assertion.site) if assertion.site
                     else ON_IMAGING(study=result.label, finding=what))
            rank = (0 if epidural else 1 if vertebral else 2) * 2 + (0 if known else 1)
            found.append((rank, MetsEvidence(label, METS_BRIEF[known, vertebral](), vertebral, epidural, known)))
    return min(found, key=lambda rf: rf[0])[1] if found else None


def bone_mets(facts: PatientFacts, params: Params) -> MetsEvidence | None:
    """Known (coded, or metastatic on imaging) or suspected bone metastases, spine first."""
    imaging = imaging_mets(facts, params)
    if imaging is not None and (imaging.vertebral or imaging.known):
        return imaging
    coded = [c for c in facts.bone_mets if c.onset is None or c.onset <= facts.now]
    if coded:
        first = coded[0]
        vertebral = any(c.site and _SPINAL_SITE.search(c.site) for c in coded)
        return MetsEvidence(CODED(what=first.label, day=day(first.onset)), METS_BRIEF[True, vertebral](), vertebral,
                            False)
    return imaging


# ------------------------------------------------------------------------------------ R25 cord compression
@dataclass(frozen=True)
class CordPicture:
    deficits: tuple[Symptom, ...]
    pain: tuple[Symptom, ...]
    mets: MetsEvidence
    onset: datetime | None


def cord_compression(facts: PatientFacts, params: Params) -> CordPicture | None:
    """Spinal pain + a new cord deficit + known or suspected bone metastases, and no spine MRI since the
    deficit began (the question is then answered)."""
    if facts.breast_cancer is None:
        return None
    deficits = [s for s in facts.recent_symptoms({"weakness", "neuro-deficit"}, params["P_SUSPICION_LOOKBACK_DAYS"])
                if s.cord_deficit and s.new_onset_known]
    if not deficits:
        return None
    pain = [s for s in facts.recent_symptoms({"bone-pain"}, params["P_CORD_PAIN_LOOKBACK_DAYS"]) if s.spinal_pain]
    if not pain:
        return None
    mets = bone_mets(facts, params)
    if mets is None:
        return None
    onset = min((s.onset for s in deficits if s.onset), default=None)
    if any(i.procedure_class == MRI_SPINE and i.when is not None and (onset is None or i.when.date() >= onset.date())
           for i in facts.imaging_before_now()):
        return None
    return CordPicture(tuple(earliest_per_kind(tuple(deficits))), tuple(earliest_per_kind(tuple(pain))), mets, onset)


def _cord_values(picture: CordPicture, variant: Literal["chart", "order"], order: str | None = None) -> CordValues:
    deficits = sorted(picture.deficits, key=lambda s: s.label)
    return CordValues(
        variant=variant, order=order,
        deficits=Listing(tuple(SINCE(what=s.label, day=day(s.onset)) for s in deficits), "semicolon"),
        deficit_brief=_brief([s.label.lower() for s in deficits], 36),
        pain=Listing(tuple(PAIN_AT(what=s.label, site=s.site, day=day(s.onset)) if s.site
                           else SINCE(what=s.label, day=day(s.onset)) for s in picture.pain), "semicolon"),
        mets_evidence=picture.mets.label,
        mets_brief=picture.mets.brief,
    )


@rule(RESULT_HOOKS, emits=(CORD_TOPIC,), rank=10)
def cord_compression_in_chart(facts: PatientFacts, params: Params) -> list[Finding]:
    picture = cord_compression(facts, params)
    if picture is None:
        return []
    return [CORD_TOPIC.finding(_cord_values(picture, "chart"), suggestions=("add-mri-whole-spine",),
                               recency=picture.onset)]


@rule(ORDER_HOOKS, emits=(CORD_TOPIC,), rank=10)
def cord_compression_at_order(facts: PatientFacts, params: Params) -> list[Finding]:
    """Next to any imaging order being drafted: the whole-spine MRI comes first (unless it is being ordered)."""
    drafts = [o for o in facts.orders if o.procedure_class is not None]
    if not drafts or any(o.procedure_class == MRI_SPINE for o in drafts):
        return []
    picture = cord_compression(facts, params)
    if picture is None:
        return []
    return [CORD_TOPIC.finding(_cord_values(picture, "order", drafts[0].label), orders=drafts,
                               suggestions=("add-mri-whole-spine",), recency=picture.onset)]


# ------------------------------------------------------------------------------------ R26 hypercalcaemia
@dataclass(frozen=True)
class CalciumReading:
    lab: LabResult
    shown: Phrase  # "corrected calcium 2.85 mmol/L (11.4 mg/dL)"
    how: Phrase  # why it counts as high, for the detail
    brief: Phrase  # "corrected calcium 2.85 mmol/L"


def _unit(lab: LabResult) -> str:
    return lab.unit.strip().lower().replace(" ", "")


def _calcium_mgdl(value: float | None, unit: str) -> float | None:
    if value is None:
        return None
    if unit in {"mg/dl", "mg/100ml"}:
        return value
    if unit in {"mmol/l", "mmol/liter"}:
        return value * MGDL_PER_MMOLL
    return None


def _albumin_gdl(lab: LabResult) -> float | None:
    unit = _unit(lab)
    if lab.value is None:
        return None
    if unit in {"g/dl", "g/100ml"}:
        return lab.value
    if unit in {"g/l"}:
        return lab.value / 10
    return None


def _fmt(mgdl: float, molar: bool) -> tuple[str, str]:
    """The value in the unit reported, and converted to the other unit."""
    mmol, mg = f"{mgdl / MGDL_PER_MMOLL:.2f} mmol/L", f"{mgdl:.1f} mg/dL"
    return (mmol, mg) if molar else (mg, mmol)


def _measured(lab: LabResult, kind: str) -> Phrase:
    what = CALCIUM_KIND[kind]()
    return MEASURED(what=what, value=f"{lab.value:g} {lab.unit}") if lab.value is not None else what


def _reading(lab: LabResult, how: Phrase, kind: str | None = None) -> CalciumReading:
    shown = _measured(lab, kind or lab.kind)
    return CalciumReading(lab, shown, how, shown)


def _default_limit(params: Params) -> dict[str, str]:
    return {"mmol": f"{params['P_CALCIUM_CORRECTED_ULN_MMOLL']:g}",
            "mgdl": f"{params['P_CALCIUM_CORRECTED_ULN_MGDL']:g}"}


def _ionised(lab: LabResult, params: Params) -> CalciumReading | None:
    value = _calcium_mgdl(lab.value, _unit(lab))
    mmol = value / MGDL_PER_MMOLL if value is not None else None
    if lab.flag == "high":
        return _reading(lab, ABOVE_LAB_RANGE(basis=lab.basis))
    if lab.flag is None and mmol is not None and mmol > params["P_CALCIUM_IONISED_ULN_MMOLL"]:
        return _reading(lab, ABOVE_IONISED_DEFAULT(limit=f"{params['P_CALCIUM_IONISED_ULN_MMOLL']:g}"))
    return None


def _corrected_default(mgdl: float, molar: bool, params: Params) -> bool:
    if molar:
        return mgdl / MGDL_PER_MMOLL > params["P_CALCIUM_CORRECTED_ULN_MMOLL"]
    return mgdl > params["P_CALCIUM_CORRECTED_ULN_MGDL"]


def _reported_corrected(lab: LabResult, params: Params) -> CalciumReading | None:
    unit = _unit(lab)
    value = _calcium_mgdl(lab.value, unit)
    if lab.flag == "high":
        return _reading(lab, ABOVE_LAB_RANGE(basis=lab.basis))
    if lab.flag is None and value is not None and _corrected_default(value, unit.startswith("mmol"), params):
        return _reading(lab, ABOVE_CORRECTED_DEFAULT(**_default_limit(params)))
    return None


def _total(facts: PatientFacts, lab: LabResult, params: Params) -> CalciumReading | None:
    unit = _unit(lab)
    molar = unit.startswith("mmol")
    value = _calcium_mgdl(lab.value, unit)
    pairing = params["P_ALBUMIN_PAIRING_DAYS"]
    albumins = [a for a in facts.labs_of("albumin") if a.when is not None and lab.when is not None
                and abs((a.when.date() - lab.when.date()).days) <= pairing and _albumin_gdl(a) is not None]
    albumin = max(albumins, key=lambda a: known_date(a.when)) if albumins else None
    if albumin is not None and value is not None:
        albumin_gdl = _albumin_gdl(albumin) or 0.0
        corrected = value + 0.8 * (4.0 - albumin_gdl)
        limit = _calcium_mgdl(lab.reference_high, unit)
        high = corrected > limit if limit is not None else _corrected_default(corrected, molar, params)
        if not high:
            return None
        against = LAB_UPPER_LIMIT() if limit is not None else DEFAULT_LIMIT(**_default_limit(params))
        primary, converted = _fmt(corrected, molar)
        kind = CALCIUM_KIND["calcium-corrected"]()
        how = CORRECTED_FOR_ALBUMIN(total=_measured(lab, "calcium"), albumin=f"{albumin.value:g} {albumin.unit}",
                                    against=against)
        return CalciumReading(lab, MEASURED(what=kind, value=WITH_CONVERSION(value=primary, converted=converted)),
                              how, MEASURED(what=kind, value=primary))
    if lab.flag == "high":
        return _reading(lab, ABOVE_LAB_RANGE_NO_ALBUMIN(basis=lab.basis), "calcium")
    if lab.flag is None and value is not None and _corrected_default(value, molar, params):
        return _reading(lab, ABOVE_DEFAULT_NO_ALBUMIN(**_default_limit(params)), "calcium")
    return None


_PRIORITY = {"calcium-ionised": 0, "calcium-corrected": 1, "calcium": 2}


def high_calcium(facts: PatientFacts, params: Params) -> CalciumReading | None:
    """The most recent calcium result (ionised before corrected before total on the same day) within
    P_CALCIUM_LOOKBACK_DAYS, when it shows hypercalcaemia."""
    window = params["P_CALCIUM_LOOKBACK_DAYS"]
    latest = [lab for kind in _PRIORITY if (lab := facts.latest_lab(kind, window)) is not None]
    if not latest:
        return None
    chosen = min(latest, key=lambda lab: (-lab.when.date().toordinal() if lab.when else 0, _PRIORITY[lab.kind]))
    if chosen.kind == "calcium-ionised":
        return _ionised(chosen, params)
    if chosen.kind == "calcium-corrected":
        return _reported_corrected(chosen, params)
    return _total(facts, chosen, params)


def _renal(facts: PatientFacts, params: Params) -> Phrase:
    window = params["P_EGFR_LOOKBACK_DAYS"]
    found = [lab.label for kind in ("egfr", "creatinine") if (lab := facts.latest_lab(kind, window))]
    if not found:
        return RENAL_UNKNOWN()
    return RENAL_LATEST(labs=Listing(tuple(found), "semicolon"))


def _treated_since(facts: PatientFacts, since: datetime | None) -> bool:
    """A bone-modifying agent given on or after the calcium result: treatment has started."""
    return since is not None and any(t.administered and t.last_dose is not None
                                     and t.last_dose.date() >= since.date()
                                     for t in facts.therapies_of("bone-modifying"))


def hypercalcaemia(facts: PatientFacts, params: Params) -> tuple[CalciumReading, MetsEvidence] | None:
    if facts.breast_cancer is None:
        return None
    reading = high_calcium(facts, params)
    if reading is None or _treated_since(facts, reading.lab.when):
        return None
    mets = bone_mets(facts, params)
    return (reading, mets) if mets is not None else None


def _calcium_values(facts: PatientFacts, params: Params, reading: CalciumReading, mets: MetsEvidence,
                    variant: Literal["chart", "order"], order: str | None = None) -> CalciumValues:
    return CalciumValues(variant=variant, order=order,
                         calcium=MEASURED_ON(what=reading.shown, day=day(reading.lab.when)),
                         calcium_brief=reading.brief, calcium_how=reading.how, mets_evidence=mets.label,
                         mets_brief=mets.brief, renal=_renal(facts, params))


@rule(RESULT_HOOKS, emits=(CALCIUM_TOPIC,), rank=11)
def hypercalcaemia_in_chart(facts: PatientFacts, params: Params) -> list[Finding]:
    found = hypercalcaemia(facts, params)
    if found is None:
        return []
    reading, mets = found
    return [CALCIUM_TOPIC.finding(_calcium_values(facts, params, reading, mets, "chart"), recency=reading.lab.when)]


@rule(ORDER_HOOKS, emits=(CALCIUM_TOPIC,), rank=11)
def hypercalcaemia_at_order(facts: PatientFacts, params: Params) -> list[Finding]:
    drafts = [o for o in facts.orders if o.procedure_class is not None]
    if not drafts:
        return []
    found = hypercalcaemia(facts, params)
    if found is None:
        return []
    reading, mets = found
    return [CALCIUM_TOPIC.finding(_calcium_values(facts, params, reading, mets, "order", drafts[0].label),
                                  orders=drafts, recency=reading.lab.when)]
