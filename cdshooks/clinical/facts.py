"""The patient as the rules see it: typed, FHIR-free facts, evaluated as of an explicit `now`.

Built by `cdshooks.clinical.build_facts.build_facts` from the assembled record. Every fact keeps a
`source` reference (`Type/id`) and a human label so cards can name the evidence they rest on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cdshooks.clinical.evidence import BONE, Assertion, Status, strongest
from cdshooks.clinical.report_reading import BoneMetResult, Change, LesionCharacter

# Procedure classes (cdshooks/knowledge/procedures.yaml)
BONE_SCAN_WB = "BONE_SCAN_WB"
BONE_SCAN_OTHER = "BONE_SCAN_OTHER"
CT_CAP_IV = "CT_CAP_IV"
CT_CAP_NOIV = "CT_CAP_NOIV"
CT_CAP_WO_W = "CT_CAP_WO_W"
FDG_PETCT = "FDG_PETCT"
NAF_PETCT = "NAF_PETCT"
MRI_CAP = "MRI_CAP"
MRI_BRAIN = "MRI_BRAIN"
MRI_SPINE = "MRI_SPINE"
XR_SURVEY = "XR_SURVEY"
BONE_SCANS = frozenset({BONE_SCAN_WB, BONE_SCAN_OTHER})
BODY_SURVEYS = frozenset({BONE_SCAN_WB, CT_CAP_IV, CT_CAP_NOIV, CT_CAP_WO_W, FDG_PETCT, MRI_CAP})
VISCERAL_SURVEYS = frozenset({CT_CAP_IV, CT_CAP_WO_W, FDG_PETCT})
_STATUS_OF_RESULT = {BoneMetResult.POSITIVE: Status.METASTATIC, BoneMetResult.INDETERMINATE: Status.INDETERMINATE,
                     BoneMetResult.NEGATIVE: Status.NEGATIVE}


@dataclass(frozen=True)
class Symptom:
    kind: str  # bone-pain | headache | seizure | weakness | weight-loss | visceral
    label: str
    onset: datetime | None  # onset, else recorded/effective date
    active: bool
    abated: datetime | None = None
    site: str | None = None  # body site text (e.g. "lumbar spine")
    source: str = ""


@dataclass(frozen=True)
class LabResult:
    kind: str  # alp | alt | ast | bilirubin | egfr | creatinine | calcium
    when: datetime | None
    value: float | None
    unit: str
    flag: str | None  # high | low | normal | None (unknown)
    basis: str  # interpretation | reference-range | fallback-limit | none
    reference_high: float | None = None
    source: str = ""

    @property
    def label(self) -> str:
        names = {"alp": "ALP", "alt": "ALT", "ast": "AST", "bilirubin": "Bilirubin", "egfr": "eGFR",
                 "creatinine": "Creatinine", "calcium": "Calcium"}
        value = f"{self.value:g}" if self.value is not None else "result"
        unit = f" {self.unit}" if self.unit else ""
        flag = f" ({self.flag})" if self.flag in {"high", "low"} else ""
        when = f" on {self.when.date().isoformat()}" if self.when else ""
        return f"{names.get(self.kind, self.kind)} {value}{unit}{flag}{when}"


@dataclass(frozen=True)
class Receptor:
    kind: str  # er | pr | her2
    when: datetime | None
    status: str | None  # positive | negative | equivocal | None
    source: str = ""


@dataclass(frozen=True)
class Therapy:
    """One agent's exposure (all administrations / orders / statements of that ingredient together)."""

    agent: str
    drug_class: str  # chemotherapy | her2 | endocrine | cdk46 | bone-modifying
    start: datetime | None
    last_dose: datetime | None  # last administration (or the latest known date of use)
    ongoing: bool
    osteoporosis_dose: bool = False
    administered: bool = False  # at least one MedicationAdministration
    doses: tuple[datetime, ...] = ()  # known dates of use, ascending (administrations, else order dates)
    sources: tuple[str, ...] = ()

    def last_dose_before(self, moment: datetime) -> datetime | None:
        before = [d for d in self.doses if d <= moment]
        return before[-1] if before else None


@dataclass(frozen=True)
class ImagingResult:
    source: str  # DiagnosticReport/x, ImagingStudy/y or Observation/z
    label: str  # short human label, e.g. "Bone scan 2026-05-12"
    procedure_class: str | None
    modality: str | None  # NM | CT | PT | MR | XR
    when: datetime | None
    result: BoneMetResult
    character: LesionCharacter | None
    changes: frozenset[Change] = frozenset()
    multifocal: bool = False
    solitary_focus: bool = False
    osteopenia: bool = False
    site: str | None = None
    basis: str = "text"  # conclusionCode | observation | text
    conclusion: str = ""  # the report's conclusion text (for pattern checks such as "impending fracture")
    assertions: tuple[Assertion, ...] = ()  # what the result asserts per region (cdshooks.clinical.evidence)
    report_status: str = "final"  # final | amended | corrected | appended | preliminary (FHIR status)

    def status_of(self, region: str = BONE) -> Status | None:
        """The strongest status this result asserts about `region` (None: it says nothing about it).

        A result built without assertions (a unit test, an old extractor path) is read from its bone result."""
        if not self.assertions:
            return _STATUS_OF_RESULT.get(self.result) if region == BONE else None
        return strongest([a.status for a in self.assertions if a.region == region])

    @property
    def is_bone_scan(self) -> bool:
        return self.procedure_class in BONE_SCANS or (self.procedure_class is None and self.modality == "NM")

    @property
    def is_ct_or_pet(self) -> bool:
        return self.modality in {"CT", "PT"} and not self.is_bone_scan

    @property
    def is_cross_sectional(self) -> bool:
        return self.modality in {"CT", "PT", "MR"} and not self.is_bone_scan


@dataclass(frozen=True)
class DraftOrder:
    ref: str  # ServiceRequest/id or MedicationRequest/id
    selected: bool
    label: str
    procedure_class: str | None = None  # imaging ServiceRequests
    medication: str | None = None  # MedicationRequests: ingredient
    drug_class: str | None = None
    osteoporosis_dose: bool = False
    reason_text: str = ""


@dataclass(frozen=True)
class Condition:
    label: str
    onset: datetime | None
    source: str
    site: str | None = None
    text: str = ""


@dataclass(frozen=True)
class BoneMetsEvidence:
    """Why bone metastasis counts as established, and since when (clinical-rules.md §7.1)."""

    since: datetime | None
    basis: str  # coded | pathology | imaging
    label: str  # human label for cards, e.g. "CT chest/abdomen/pelvis 2026-03-02: consistent with metastasis"
    source: str  # `Type/id`


@dataclass(frozen=True)
class PatientFacts:
    now: datetime
    breast_cancer: Condition | None = None
    stage: str | None = None  # "0" | "I" | "II" | "III" | "IV" when coded
    inflammatory: bool = False
    triple_negative: bool = False
    subtype_basis: str = ""
    bone_mets: tuple[Condition, ...] = ()
    other_mets: tuple[Condition, ...] = ()
    ckd_severe: Condition | None = None  # CKD stage 4/5 or ESRD
    osteopenia: bool = False
    surgeries: tuple[datetime, ...] = ()
    biopsies: tuple[datetime, ...] = ()
    dental_evaluation: bool = False
    calcium_vitamin_d: bool = False
    symptoms: tuple[Symptom, ...] = ()
    labs: tuple[LabResult, ...] = ()
    receptors: tuple[Receptor, ...] = ()
    therapies: tuple[Therapy, ...] = ()
    imaging: tuple[ImagingResult, ...] = ()
    orders: tuple[DraftOrder, ...] = field(default_factory=tuple)

    # -- time helpers ------------------------------------------------------------------------------
    def days_since(self, moment: datetime | None) -> int | None:
        """Whole calendar days from `moment` to now: every window counts days as a clinician does (a result
        dated only by its day and a visit at 9 am are compared day to day)."""
        return None if moment is None else (self.now.date() - moment.date()).days

    def within(self, moment: datetime | None, days: float) -> bool:
        age = self.days_since(moment)
        return age is not None and -1 <= age <= days

    # -- lookups the rules share -------------------------------------------------------------------
    def latest_lab(self, kind: str, within_days: float | None = None) -> LabResult | None:
        found = [lab for lab in self.labs if lab.kind == kind and lab.when is not None and lab.when <= self.now
                 and (within_days is None or self.within(lab.when, within_days))]
        return max(found, key=lambda lab: lab.when) if found else None  # type: ignore[arg-type, return-value]

    def recent_symptoms(self, kinds: set[str], within_days: float) -> list[Symptom]:
        return [s for s in self.symptoms if s.kind in kinds and s.active and self.within(s.onset, within_days)]

    def therapies_of(self, *classes: str) -> list[Therapy]:
        return [t for t in self.therapies if t.drug_class in classes]

    def imaging_before_now(self) -> list[ImagingResult]:
        return sorted((i for i in self.imaging if i.when is not None and i.when <= self.now),
                      key=lambda i: i.when)  # type: ignore[arg-type, return-value]

    def bone_mets_evidence(self, as_of: datetime | None = None) -> BoneMetsEvidence | None:
        """Bone metastasis established as of `as_of` (default: now), with the earliest evidence that still
        stands: a coded diagnosis (not refuted), or a bone assertion `metastatic` on imaging that no later
        result supersedes. None when it is not established."""
        moment = as_of or self.now
        coded = [c for c in self.bone_mets if c.onset is None or c.onset <= moment]
        if coded:
            first = min(coded, key=lambda c: c.onset or moment)
            return BoneMetsEvidence(first.onset, "coded", first.label, first.source)
        for result in self.imaging_before_now():
            if result.when is not None and result.when <= moment and result.status_of(BONE) is Status.METASTATIC:
                return BoneMetsEvidence(result.when, "imaging", result.label, result.source)
        return None

    def bone_mets_established_before(self, moment: datetime | None) -> BoneMetsEvidence | None:
        """Bone metastasis already established strictly before `moment` (e.g. the start of a therapy line),
        judged on the record up to the day before; None when not (or when `moment` is unknown). A coded
        diagnosis without an onset date cannot say it preceded `moment`, so it does not count here."""
        if moment is None:
            return None
        evidence = self.bone_mets_evidence(moment - timedelta(days=1))
        return evidence if evidence is not None and evidence.since is not None else None

    def selected_orders(self) -> list[DraftOrder]:
        return [o for o in self.orders if o.selected]
