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

from cdshooks.clinical.dates import known_date
from cdshooks.clinical.evidence import EPIDURAL, VERTEBRAL, Assertion, Status
from cdshooks.clinical.facts import MRI_SPINE, ImagingResult, LabResult, PatientFacts, Symptom, supersedes
from cdshooks.clinical.findings import Finding
from cdshooks.clinical.rules.imaging_evidence import bone_assertions
from cdshooks.clinical.rules.scenario import Params, earliest_per_kind

CORD = "spinal-cord-compression-mri-spine"
CALCIUM = "hypercalcaemia-of-malignancy"
MGDL_PER_MMOLL = 4.008  # calcium: 1 mmol/L = 4.008 mg/dL (molar mass 40.08 g/mol)
_SPINAL_SITE = re.compile(
    r"\b(spine|spinal|vertebra\w*|lumbar|thoracic|cervical|sacr\w*|[ctls]\d{1,2}(-[ctls]?\d{1,2})?)\b", re.IGNORECASE)
_SUPERSEDING = {Status.NEGATIVE, Status.BENIGN}


def _day(moment: datetime | None) -> str:
    return moment.date().isoformat() if moment else "an unknown date"


def _brief(labels: list[str], limit: int) -> str:
    """The first label, and how many more, cut to `limit` characters (for one-line summaries)."""
    if not labels:
        return ""
    first = labels[0] if len(labels[0]) <= limit - 9 else labels[0][: limit - 10].rstrip() + "…"
    return first + (f" (+{len(labels) - 1} more)" if len(labels) > 1 else "")


# ------------------------------------------------------------------------------------ metastasis evidence
@dataclass(frozen=True)
class MetsEvidence:
    label: str  # for the card detail
    brief: str  # for the summary: "known vertebral metastases", "suspected bone metastases", ...
    vertebral: bool
    epidural: bool


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
            where = f" ({assertion.site})" if assertion.site else ""
            what = "epidural extension" if epidural else f"bone {assertion.status.value}"
            brief = f"{'known' if known else 'suspected'} {'vertebral' if vertebral else 'bone'} metastases"
            rank = (0 if epidural else 1 if vertebral else 2) * 2 + (0 if known else 1)
            found.append((rank, MetsEvidence(f"{result.label}: {what}{where}", brief, vertebral, epidural)))
    return min(found, key=lambda rf: rf[0])[1] if found else None


def bone_mets(facts: PatientFacts, params: Params) -> MetsEvidence | None:
    """Known (coded, or metastatic on imaging) or suspected bone metastases, spine first."""
    imaging = imaging_mets(facts, params)
    if imaging is not None and (imaging.vertebral or imaging.brief.startswith("known")):
        return imaging
    coded = [c for c in facts.bone_mets if c.onset is None or c.onset <= facts.now]
    if coded:
        first = coded[0]
        vertebral = any(c.site and _SPINAL_SITE.search(c.site) for c in coded)
        return MetsEvidence(f"{first.label} (coded, since {_day(first.onset)})",
                            "known vertebral metastases" if vertebral else "known bone metastases", vertebral, False)
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
    pain = [s for s in facts.recent_symptoms({"bone-pain"}, params["P_CORD_PAIN_LOOKBACK_DAYS"]) if s.spinal_pain]
    if not deficits or not pain:
        return None
    mets = bone_mets(facts, params)
    if mets is None:
        return None
    onset = min((s.onset for s in deficits if s.onset), default=None)
    if any(i.procedure_class == MRI_SPINE and i.when is not None and (onset is None or i.when.date() >= onset.date())
           for i in facts.imaging_before_now()):
        return None
    return CordPicture(tuple(earliest_per_kind(tuple(deficits))), tuple(earliest_per_kind(tuple(pain))), mets, onset)


def _cord_values(picture: CordPicture) -> dict[str, str]:
    deficits = sorted(picture.deficits, key=lambda s: s.label)
    return {
        "deficits": "; ".join(f"{s.label} since {_day(s.onset)}" for s in deficits),
        "deficit_brief": _brief([s.label.lower() for s in deficits], 36),
        "pain": "; ".join(f"{s.label}{f' ({s.site})' if s.site else ''} since {_day(s.onset)}" for s in picture.pain),
        "mets_evidence": picture.mets.label,
        "mets_brief": picture.mets.brief,
    }


def _imaging_drafts(facts: PatientFacts) -> list[str]:
    return [o.ref for o in facts.orders if o.procedure_class is not None]


def cord_compression_in_chart(facts: PatientFacts, params: Params) -> list[Finding]:
    picture = cord_compression(facts, params)
    if picture is None:
        return []
    return [Finding(CORD, values={**_cord_values(picture), "variant": "chart"},
                    suggestions=("add-mri-whole-spine",), recency=picture.onset)]


def cord_compression_at_order(facts: PatientFacts, params: Params) -> list[Finding]:
    """Next to any imaging order being drafted: the whole-spine MRI comes first (unless it is being ordered)."""
    drafts = [o for o in facts.orders if o.procedure_class is not None]
    if not drafts or any(o.procedure_class == MRI_SPINE for o in drafts):
        return []
    picture = cord_compression(facts, params)
    if picture is None:
        return []
    return [Finding(CORD, values={**_cord_values(picture), "variant": "order", "order": drafts[0].label},
                    order_ids=tuple(o.ref for o in drafts), suggestions=("add-mri-whole-spine",),
                    recency=picture.onset)]


# ------------------------------------------------------------------------------------ R26 hypercalcaemia
@dataclass(frozen=True)
class CalciumReading:
    lab: LabResult
    shown: str  # "corrected calcium 2.85 mmol/L (11.4 mg/dL)"
    how: str  # why it counts as high, for the detail


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


def _fmt(mgdl: float, molar: bool) -> str:
    mmol = mgdl / MGDL_PER_MMOLL
    return f"{mmol:.2f} mmol/L ({mgdl:.1f} mg/dL)" if molar else f"{mgdl:.1f} mg/dL ({mmol:.2f} mmol/L)"


def _ionised(lab: LabResult, params: Params) -> CalciumReading | None:
    value = _calcium_mgdl(lab.value, _unit(lab))
    mmol = value / MGDL_PER_MMOLL if value is not None else None
    shown = f"ionised calcium {lab.value:g} {lab.unit}" if lab.value is not None else "ionised calcium"
    if lab.flag == "high":
        return CalciumReading(lab, shown, f"above the laboratory's range ({lab.basis})")
    if lab.flag is None and mmol is not None and mmol > params["P_CALCIUM_IONISED_ULN_MMOLL"]:
        return CalciumReading(lab, shown, f"above {params['P_CALCIUM_IONISED_ULN_MMOLL']:g} mmol/L (no laboratory "
                                          "range sent; design default)")
    return None


def _corrected_default(mgdl: float, molar: bool, params: Params) -> bool:
    if molar:
        return mgdl / MGDL_PER_MMOLL > params["P_CALCIUM_CORRECTED_ULN_MMOLL"]
    return mgdl > params["P_CALCIUM_CORRECTED_ULN_MGDL"]


def _reported_corrected(lab: LabResult, params: Params) -> CalciumReading | None:
    unit = _unit(lab)
    value = _calcium_mgdl(lab.value, unit)
    shown = f"corrected calcium {lab.value:g} {lab.unit}" if lab.value is not None else "corrected calcium"
    if lab.flag == "high":
        return CalciumReading(lab, shown, f"above the laboratory's range ({lab.basis})")
    if lab.flag is None and value is not None and _corrected_default(value, unit.startswith("mmol"), params):
        return CalciumReading(lab, shown, "above 2.6 mmol/L (10.5 mg/dL), the limit used without a laboratory range")
    return None


def _total(facts: PatientFacts, lab: LabResult, params: Params) -> CalciumReading | None:
    unit = _unit(lab)
    molar = unit.startswith("mmol")
    value = _calcium_mgdl(lab.value, unit)
    pairing = params["P_ALBUMIN_PAIRING_DAYS"]
    albumins = [a for a in facts.labs if a.kind == "albumin" and a.when is not None and lab.when is not None
                and abs((a.when.date() - lab.when.date()).days) <= pairing and _albumin_gdl(a) is not None]
    albumin = max(albumins, key=lambda a: known_date(a.when)) if albumins else None
    shown_total = f"calcium {lab.value:g} {lab.unit}" if lab.value is not None else "calcium"
    if albumin is not None and value is not None:
        albumin_gdl = _albumin_gdl(albumin) or 0.0
        corrected = value + 0.8 * (4.0 - albumin_gdl)
        limit = _calcium_mgdl(lab.reference_high, unit)
        high = corrected > limit if limit is not None else _corrected_default(corrected, molar, params)
        if not high:
            return None
        against = "the laboratory's upper limit" if limit is not None else "2.6 mmol/L (10.5 mg/dL)"
        return CalciumReading(lab, f"corrected calcium {_fmt(corrected, molar)}",
                              f"{shown_total} with albumin {albumin.value:g} {albumin.unit}: corrected for albumin it "
                              f"is above {against}")
    if lab.flag == "high":
        return CalciumReading(lab, shown_total, f"above the laboratory's range ({lab.basis}); no albumin on record "
                                                "within days to correct it")
    if lab.flag is None and value is not None and _corrected_default(value, molar, params):
        return CalciumReading(lab, shown_total, "above 2.6 mmol/L (10.5 mg/dL), the limit used without a laboratory "
                                                "range; no albumin on record within days to correct it")
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


def _renal(facts: PatientFacts, params: Params) -> str:
    window = params["P_EGFR_LOOKBACK_DAYS"]
    found = [lab.label for kind in ("egfr", "creatinine") if (lab := facts.latest_lab(kind, window))]
    if not found:
        return "No recent eGFR or creatinine on record: check renal function before a bisphosphonate."
    return f"Latest renal function: {'; '.join(found)}. Dose zoledronic acid by creatinine clearance."


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


def _calcium_values(facts: PatientFacts, params: Params, reading: CalciumReading, mets: MetsEvidence) -> dict[str, str]:
    return {"calcium": f"{reading.shown} on {_day(reading.lab.when)}", "calcium_brief": reading.shown.split(" (")[0],
            "calcium_how": reading.how, "mets_evidence": mets.label, "mets_brief": mets.brief,
            "renal": _renal(facts, params)}


def hypercalcaemia_in_chart(facts: PatientFacts, params: Params) -> list[Finding]:
    found = hypercalcaemia(facts, params)
    if found is None:
        return []
    reading, mets = found
    return [Finding(CALCIUM, values={**_calcium_values(facts, params, reading, mets), "variant": "chart"},
                    recency=reading.lab.when)]


def hypercalcaemia_at_order(facts: PatientFacts, params: Params) -> list[Finding]:
    drafts = _imaging_drafts(facts)
    if not drafts:
        return []
    found = hypercalcaemia(facts, params)
    if found is None:
        return []
    reading, mets = found
    label = next(o.label for o in facts.orders if o.procedure_class is not None)
    return [Finding(CALCIUM, values={**_calcium_values(facts, params, reading, mets), "variant": "order",
                                     "order": label}, order_ids=tuple(drafts), recency=reading.lab.when)]
