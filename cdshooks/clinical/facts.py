"""The patient as the rules see it: typed, FHIR-free facts, evaluated as of an explicit `now`.

Built by `cdshooks.clinical.build_facts.build_facts` from the assembled record. Every fact keeps a
`source` reference (`Type/id`) and a human label so cards can name the evidence they rest on.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from operator import attrgetter
from typing import Any, Generic, TypeVar, overload

from cdshooks.clinical.dates import known_date
from cdshooks.clinical.evidence import BONE, Assertion, Status, strongest
from cdshooks.clinical.frozen import quick_init
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
# groups of procedure classes the rules ask about; which classes belong is knowledge (procedures.yaml `groups`)
BODY_SURVEY = "body-survey"
VISCERAL_SURVEY = "visceral-survey"
PRELIMINARY = frozenset({"preliminary", "partial"})  # report statuses of a read not yet final
_STATUS_OF_RESULT = {BoneMetResult.POSITIVE: Status.METASTATIC, BoneMetResult.INDETERMINATE: Status.INDETERMINATE,
                     BoneMetResult.NEGATIVE: Status.NEGATIVE}


T = TypeVar("T")


class per_call(Generic[T]):
    """`functools.cached_property` without its lock (Python 3.11 takes an RLock on every first access, about a
    microsecond, and a call's facts and results are first asked a dozen times): the answer is computed on first
    access and kept in the instance's `__dict__`, where later lookups find it without calling this descriptor.
    Facts are built and read by the one request that owns them, so no other thread can race the first access."""

    def __init__(self, compute: Callable[[Any], T]) -> None:
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> per_call[T]: ...
    @overload
    def __get__(self, instance: object, owner: type | None = None) -> T: ...

    def __get__(self, instance: object | None, owner: type | None = None) -> per_call[T] | T:
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.compute(instance)
        return value


# a memo's answer not worked out yet (None is an answer)
_NOT_ASKED: Any = object()

# Symptom.kind values of the neurological symptoms (VS_CNS_SYMPTOMS and VS_NEURO_DEFICIT)
CNS_SYMPTOM_KINDS = frozenset({"headache", "seizure", "weakness", "visual", "speech"})
# how a symptom's date was known: an onset (onsetDateTime/Period/Age/String), an observation's effective time, the
# reason of an order being placed now, or only the date the entry was recorded (history without an onset)
ONSET_BASES = ("onset", "effective", "order", "recorded", "none")


@quick_init
@dataclass(frozen=True)
class Symptom:
    kind: str  # bone-pain | headache | seizure | weakness | visual | speech | neuro-deficit | weight-loss | visceral
    label: str
    onset: datetime | None  # onset, else recorded/effective date
    active: bool
    abated: datetime | None = None
    site: str | None = None  # body site text (e.g. "lumbar spine")
    source: str = ""
    # the value set's sub-kind: back-pain; headache-chronic; weakness-focal | weakness-para | weakness-generic;
    # sensory | bladder-bowel | gait (neuro-deficit)
    subkind: str = ""
    onset_basis: str = "onset"  # one of ONSET_BASES

    @property
    def new_onset_known(self) -> bool:
        """The date is when the symptom began or was observed, not only when a history entry was recorded."""
        return self.onset is not None and self.onset_basis in {"onset", "effective", "order"}

    @property
    def cns_specific(self) -> bool:
        """A new, specific neurological symptom of R05 (clinical-rules.md §7.2): seizure, focal weakness or
        hemiparesis, a headache that is not a chronic headache disorder, a visual or speech deficit. Generic muscle
        weakness, weakness of both legs (a spinal pattern, R25) and chronic headache codes do not count."""
        if self.kind == "headache":
            return self.subkind != "headache-chronic"
        if self.kind == "weakness":
            return self.subkind == "weakness-focal"
        return self.kind in {"seizure", "visual", "speech"}

    @per_call  # several rules ask of each symptom (kept on it: a symptom never changes)
    def spinal_pain(self) -> bool:
        """Back or neck pain (R25): coded as such, or bone pain whose site or name is the spine."""
        if self.kind != "bone-pain":
            return False
        if self.subkind == "back-pain":
            return True
        text = f"{self.site or ''} {self.label}".lower()
        return any(w in text for w in ("spine", "spinal", "back", "vertebr", "lumbar", "thoracic", "cervical",
                                       "neck", "sacr"))

    @property
    def cord_deficit(self) -> bool:
        """A neurological deficit of cord or cauda equina compression (R25): limb weakness of any kind, sensory
        level or loss, bladder or bowel dysfunction, gait disturbance."""
        return self.kind in {"weakness", "neuro-deficit"}


_LAB_NAMES = {"alp": "ALP", "alt": "ALT", "ast": "AST", "bilirubin": "Bilirubin", "egfr": "eGFR",
              "creatinine": "Creatinine", "calcium": "Calcium", "calcium-ionised": "Ionised calcium",
              "calcium-corrected": "Corrected calcium", "albumin": "Albumin"}


@quick_init
@dataclass(frozen=True)
class LabResult:
    kind: str  # alp | alt | ast | bilirubin | egfr | creatinine | calcium | calcium-ionised | calcium-corrected
    # | albumin
    when: datetime | None
    value: float | None
    unit: str
    flag: str | None  # high | low | normal | None (unknown)
    basis: str  # interpretation | reference-range | fallback-limit | none
    reference_high: float | None = None
    source: str = ""
    comparator: str = ""  # "" | ">" | ">=" | "<" | "<=": a result reported as a bound (eGFR ">60")

    @property
    def label(self) -> str:
        value = f"{self.comparator}{self.value:g}" if self.value is not None else "result"
        unit = f" {self.unit}" if self.unit else ""
        flag = f" ({self.flag})" if self.flag in {"high", "low"} else ""
        when = f" on {self.when.date().isoformat()}" if self.when else ""
        return f"{_LAB_NAMES.get(self.kind, self.kind)} {value}{unit}{flag}{when}"


class LabSeries(Sequence[LabResult]):
    """A record's lab results in record order, each read in full the first time it is asked for.

    A call's record holds about a hundred labs and the rules use a fifth of them (the latest of each kind, every
    ALP and albumin), so building the facts reads only each lab's kind and date (`add`); the rest of a result
    (value, unit, flag, ...) is read by `read(source, kind, when)` when the result is first asked for, and kept.
    It reads as the tuple of its results: iterating, indexing, `len`, `==` and hash are the tuple's."""

    __slots__ = ("_read", "_results", "_sources", "kinds", "whens")

    def __init__(self, read: Callable[[Any, str, datetime | None], LabResult] | None = None) -> None:
        self.kinds: list[str] = []
        self.whens: list[datetime | None] = []
        self._sources: list[Any] = []
        self._results: list[LabResult | None] = []
        self._read = read

    @classmethod
    def of(cls, results: Sequence[LabResult]) -> LabSeries:
        """The series of results already read (facts built by hand: tests, tools)."""
        if isinstance(results, LabSeries):
            return results
        series = cls()
        for lab in results:
            series.kinds.append(lab.kind)
            series.whens.append(lab.when)
            series._sources.append(None)
            series._results.append(lab)
        return series

    def add(self, kind: str, when: datetime | None, source: Any) -> None:
        """A lab of `kind` dated `when`, to be read from `source` when first asked for."""
        self.kinds.append(kind)
        self.whens.append(when)
        self._sources.append(source)
        self._results.append(None)

    def __len__(self) -> int:
        return len(self.kinds)

    @overload
    def __getitem__(self, index: int) -> LabResult: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[LabResult, ...]: ...

    def __getitem__(self, index: int | slice) -> LabResult | tuple[LabResult, ...]:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self))))
        result = self._results[index]
        if result is None:
            if self._read is None:
                raise LookupError("a lab series built without a reader holds only read results")
            result = self._results[index] = self._read(self._sources[index], self.kinds[index], self.whens[index])
        return result

    def __iter__(self) -> Iterator[LabResult]:
        for index in range(len(self.kinds)):
            yield self[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LabSeries | tuple | list):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"LabSeries({tuple(self)!r})"


@quick_init
@dataclass(frozen=True)
class Receptor:
    kind: str  # er | pr | her2
    when: datetime | None
    status: str | None  # positive | negative | equivocal | None
    source: str = ""


@quick_init
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
    # continuous exposure (an oral agent taken every day): (first day, last day) per period, ascending; an active
    # order or statement runs up to `now`. Period bounds are also in `doses`, so gaps between periods show there.
    periods: tuple[tuple[datetime, datetime], ...] = ()

    def last_dose_before(self, moment: datetime) -> datetime | None:
        """The last exposure on or before `moment`: `moment` itself while a continuous period covers it."""
        if self.periods and any(start <= moment <= end for start, end in self.periods):
            return moment
        if not self.doses or moment < self._first_dose:
            return None  # a scan before the agent began (result-time rules ask this of every scan)
        # the last dose on record that is not after `moment` (looked for from the end: usually the latest is)
        return next((dose for dose in reversed(self.doses) if dose <= moment), None)

    @per_call
    def _first_dose(self) -> datetime:
        return min(self.doses)


@quick_init
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
    conclusion: str = ""  # the text the reader was given (HTML stripped, addenda in order); rules never read it
    assertions: tuple[Assertion, ...] = ()  # what the result asserts per region (cdshooks.clinical.evidence)
    report_status: str = "final"  # final | amended | corrected | appended | preliminary (FHIR status)

    @per_call
    def memo(self) -> dict[Any, Any]:
        """What rule helpers derive from this result, kept on it (e.g. its bone assertions); not part of its
        value (a new instance, as `replace` builds, starts empty)."""
        return {}

    def status_of(self, region: str = BONE) -> Status | None:
        """The strongest status this result asserts about `region` (None: it says nothing about it).

        A result built without assertions (a unit test, an old extractor path) is read from its bone result."""
        if not self.assertions:
            return _STATUS_OF_RESULT.get(self.result) if region == BONE else None
        if region == BONE:
            return self._bone_status_asserted
        memo = self.memo  # the rules ask each result again and again (supersession, evidence, discordance)
        key = ("status_of", region)
        found: Status | None = memo.get(key, _NOT_ASKED)
        if found is _NOT_ASKED:
            found = memo[key] = strongest([a.status for a in self.assertions if a.region == region])
        return found

    @per_call  # the question asked most (supersession, evidence, discordance): kept as an attribute
    def _bone_status_asserted(self) -> Status | None:
        return strongest([a.status for a in self.assertions if a.region == BONE])

    # what kind of study this is: asked of each result by nearly every rule, so kept on it once known
    @per_call
    def is_bone_scan(self) -> bool:
        return self.procedure_class in BONE_SCANS or (self.procedure_class is None and self.modality == "NM")

    @per_call
    def is_ct_or_pet(self) -> bool:
        return self.modality in {"CT", "PT"} and not self.is_bone_scan

    @per_call
    def is_cross_sectional(self) -> bool:
        return self.modality in {"CT", "PT", "MR"} and not self.is_bone_scan


@quick_init
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
    iodinated_contrast: bool | None = None  # imaging: the order's code or class says IV iodinated contrast
    # the draft as received: a card's suggestion keeps its reason and priority, a rating is written back on it
    resource: Mapping[str, Any] | None = field(default=None, compare=False, hash=False, repr=False)


@quick_init
@dataclass(frozen=True)
class Condition:
    label: str
    onset: datetime | None
    source: str
    site: str | None = None
    text: str = ""


@quick_init
@dataclass(frozen=True)
class BoneMetsEvidence:
    """Why bone metastasis counts as established, and since when (clinical-rules.md §7.1)."""

    since: datetime | None
    basis: str  # coded | pathology | imaging
    label: str  # human label for cards, e.g. "CT chest/abdomen/pelvis 2026-03-02: consistent with metastasis"
    source: str  # `Type/id`


_SPINE_SITE = re.compile(r"\b(spine|spinal|vertebra\w*|[ctls]\d{1,2}|[ctls]-\d{1,2}|sacrum|sacral|cervical|thoracic|"
                         r"lumbar|dorsal)\b", re.IGNORECASE)
_SITE_NOISE = frozenset({"left", "right", "bilateral", "the", "of", "and", "in", "at", "bone", "bones", "lesion",
                         "proximal", "distal", "mid", "upper", "lower", "posterior", "anterior", "body"})
_RESPONSE = frozenset({Change.DECREASED, Change.SCLEROTIC_CHANGE})
_METASTATIC = frozenset({Status.METASTATIC})
_SUPERSEDABLE = frozenset({Status.METASTATIC, Status.SUSPICIOUS, Status.INDETERMINATE})
_METASTATIC_OR_SUSPICIOUS = frozenset({Status.METASTATIC, Status.SUSPICIOUS})


def _bone_site(result: ImagingResult) -> str | None:
    status = result.status_of(BONE)
    site = next((a.site for a in result.assertions if a.region == BONE and a.status is status and a.site), None)
    return site or result.site


def _same_site(earlier: str | None, later: str | None) -> bool:
    """Could two site descriptions be the same lesion? Unknown sites are taken to be the same."""
    if not earlier or not later:
        return True
    if _SPINE_SITE.search(earlier) and _SPINE_SITE.search(later):
        return True
    words = {w for w in re.findall(r"[a-z0-9]+", earlier.lower()) if w not in _SITE_NOISE}
    return bool(words & {w for w in re.findall(r"[a-z0-9]+", later.lower()) if w not in _SITE_NOISE})


def supersedes(later: ImagingResult, earlier: ImagingResult) -> bool:
    """Does `later` replace `earlier` as evidence about bone (clinical-rules.md §7.1 "later supersedes")?

    - a later `benign` reading of the same site (any modality): the lesion was explained as benign;
    - a later `negative` on cross-sectional imaging (CT, MRI, PET) of the same site, unless it reads as
      treatment response (decreased / sclerotic change: treated metastases stay metastases).
    A negative bone scan never supersedes (bone scans miss lytic lesions: the discordance rule, R08); neither
    does an indeterminate or a suspicious reading. Only metastatic, suspicious and indeterminate bone
    evidence can be superseded."""
    if later.when is None or earlier.when is None or later.when <= earlier.when or later.source == earlier.source:
        return False
    if earlier.status_of(BONE) not in _SUPERSEDABLE:
        return False
    status = later.status_of(BONE)
    if status is Status.BENIGN:
        return _same_site(_bone_site(earlier), _bone_site(later))
    if status is Status.NEGATIVE and later.is_cross_sectional:
        changes = set(later.changes) | {c for a in later.assertions if a.region == BONE for c in a.changes}
        if changes & _RESPONSE:
            return False
        return _same_site(_bone_site(earlier), _bone_site(later))
    return False


# the sort and bisection key of results already filtered to be dated (read in C, no Python call per result)
_WHEN = attrgetter("when")


def _shipped_groups() -> Mapping[str, frozenset[str]]:
    from cdshooks.clinical.knowledge import default_knowledge  # facts built without knowledge (tests, tools)

    return default_knowledge().procedure_groups


@quick_init
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
    ckd_severe: Condition | None = None  # CKD stage 4/5 or ESRD, dialysis or acute kidney injury (R07)
    osteopenia: bool = False
    surgeries: tuple[datetime, ...] = ()
    biopsies: tuple[datetime, ...] = ()
    dental_evaluation: bool = False
    calcium_vitamin_d: bool = False
    symptoms: tuple[Symptom, ...] = ()
    labs: Sequence[LabResult] = ()  # a LabSeries when built from a record (read on demand)
    receptors: tuple[Receptor, ...] = ()
    therapies: tuple[Therapy, ...] = ()
    imaging: tuple[ImagingResult, ...] = ()
    bone_mets_pathology: tuple[Condition, ...] = ()  # final pathology reports coded as bone metastasis
    orders: tuple[DraftOrder, ...] = field(default_factory=tuple)
    # procedures.yaml `groups`: group -> classes (build_facts hands over the knowledge's; the shipped ones otherwise)
    procedure_groups: Mapping[str, frozenset[str]] = field(default_factory=lambda: _shipped_groups(), compare=False,
                                                           hash=False, repr=False)

    def classes_in(self, *groups: str) -> frozenset[str]:
        """The procedure classes of these groups (e.g. `BODY_SURVEY`): one group is a lookup (rules ask per order)."""
        if len(groups) == 1:
            return self.procedure_groups.get(groups[0], frozenset())
        return frozenset().union(*(self.procedure_groups.get(g, frozenset()) for g in groups))

    # -- time helpers ------------------------------------------------------------------------------
    def days_since(self, moment: datetime | None) -> int | None:
        """Whole calendar days from `moment` to now: every window counts days as a clinician does (a result
        dated only by its day and a visit at 9 am are compared day to day)."""
        return None if moment is None else (self.now.date() - moment.date()).days

    def within(self, moment: datetime | None, days: float) -> bool:
        """`days_since(moment)` is known and from -1 (a result dated tomorrow in its zone) to `days`."""
        return moment is not None and -1 <= (self._today - moment.date()).days <= days

    @per_call  # the rules ask `within` a dozen times a call
    def _today(self) -> date:
        return self.now.date()

    # -- lookups the rules share -------------------------------------------------------------------
    # The facts never change once built: what the rules ask again and again is indexed on first use, once per
    # call (`per_call` keeps it in the instance's __dict__; `replace` builds a fresh instance).
    @per_call
    def memo(self) -> dict[tuple[Any, ...], Any]:
        """What the lookups below and the rule helpers derive from the facts, kept for the call (several rules ask
        the same question): keyed by the question's name and every argument or parameter the answer depends on."""
        return {}

    def once(self, key: tuple[Any, ...], compute: Callable[..., T], *args: Any) -> T:
        """The answer to a question about these facts, worked out by `compute(*args)` the first time it is asked and
        kept in `memo` (None is an answer too): `key` names the question and everything its answer depends on. (The
        arguments are handed over, not closed over: the lookups below are asked dozens of times a call.)"""
        answers = self.memo
        if key in answers:
            found: T = answers[key]
            return found
        found = answers[key] = compute(*args)
        return found

    @per_call
    def _lab_series(self) -> LabSeries:
        return LabSeries.of(self.labs)

    @per_call
    def _labs_by_kind(self) -> dict[str, list[int]]:
        """The positions of every lab in `labs` by kind, in record order: one pass over the record's labs' kinds
        (about a hundred), after which each question about a kind reads only the labs of that kind."""
        by_kind: defaultdict[str, list[int]] = defaultdict(list)  # read with .get: asking adds no kind
        for index, kind in enumerate(self._lab_series.kinds):
            by_kind[kind].append(index)
        return by_kind

    def _latest_of_kind(self, kind: str) -> LabResult | None:
        """The latest lab of `kind` dated up to now, the first on record among equal dates (once per kind). Only
        that lab is read in full (the dates are known without reading)."""
        return self.once(("latest_of_kind", kind), self._find_latest_of_kind, kind)

    def _find_latest_of_kind(self, kind: str) -> LabResult | None:
        series = self._lab_series
        whens = series.whens
        latest, newest, now = None, None, self.now
        for index in self._labs_by_kind.get(kind, ()):
            when = whens[index]
            if when is not None and when <= now and (newest is None or when > newest):
                latest, newest = index, when
        return None if latest is None else series[latest]

    def latest_lab(self, kind: str, within_days: float | None = None) -> LabResult | None:
        """The latest lab of `kind` dated up to now and, with `within_days`, inside that window (`within`)."""
        return self.once(("latest_lab", kind, within_days), self._find_latest_lab, kind, within_days)

    def _find_latest_lab(self, kind: str, within_days: float | None) -> LabResult | None:
        latest = self._latest_of_kind(kind)
        if latest is None or within_days is None or self.within(latest.when, within_days):
            # the latest of all is in the window: no other lab in it is later, or as late and earlier on record
            return latest
        return self._latest_lab_within(kind, within_days)  # an earlier one may be (a window is in days)

    def _latest_lab_within(self, kind: str, within_days: float) -> LabResult | None:
        """The straightforward search: labs of `kind` dated up to now and within the window, the latest."""
        found = [lab for lab in self.labs_of(kind) if lab.when is not None and lab.when <= self.now
                 and self.within(lab.when, within_days)]
        return max(found, key=lambda lab: known_date(lab.when)) if found else None

    def labs_of(self, kind: str) -> list[LabResult]:
        """The labs of `kind`, in record order (each read in full)."""
        series = self._lab_series
        return [series[index] for index in self._labs_by_kind.get(kind, ())]

    def recent_symptoms(self, kinds: set[str], within_days: float) -> list[Symptom]:
        """Active symptoms of these kinds dated `within` the window."""
        today = self._today
        return [s for s in self.symptoms if s.kind in kinds and s.active and s.onset is not None
                and -1 <= (today - s.onset.date()).days <= within_days]

    def therapies_of(self, *classes: str) -> list[Therapy]:
        return [t for t in self.therapies if t.drug_class in classes]

    def imaging_before_now(self, include_preliminary: bool = False) -> list[ImagingResult]:
        """Dated results up to now, oldest first. A preliminary report (one with no final version on record)
        is left out unless asked for: a rule does not act on a preliminary read by default (clinical-rules.md
        §4.1); the evidence queries below do count it until its final version replaces it (§7.1)."""
        return list(self.once(("imaging_before_now", include_preliminary), self._dated_imaging, include_preliminary))

    def _dated_imaging(self, include_preliminary: bool) -> tuple[ImagingResult, ...]:
        now = self.now
        return tuple(sorted([i for i in self.imaging if i.when is not None and i.when <= now
                             and (include_preliminary or i.report_status not in PRELIMINARY)], key=_WHEN))

    # -- the evidence model: bone metastasis established / suspected, with supersession (§7.1) --------
    # Several rules ask for the same moments (now; the start of a therapy line; a scan's date): each answer is
    # worked out once per call and kept in `memo` (the facts never change).
    @per_call
    def _dated_bone_results(self) -> tuple[ImagingResult, ...]:
        """Dated results that say something about bone, oldest first (sorted once; filtered per moment)."""
        return tuple(sorted([i for i in self.imaging if i.when is not None and i.status_of(BONE) is not None],
                            key=_WHEN))

    def _bone_results(self, moment: datetime) -> list[ImagingResult]:
        """Dated results up to `moment` that say something about bone, oldest first: a prefix of the sorted
        results, found by bisection."""
        dated = self._dated_bone_results
        return list(dated[:bisect_right(dated, moment, key=_WHEN)])

    def _standing(self, moment: datetime, wanted: frozenset[Status]) -> list[ImagingResult]:
        """Results up to `moment` whose bone status is in `wanted` and that no later result supersedes."""
        return list(self.once(("standing", moment, wanted), self._find_standing, moment, wanted))

    def _find_standing(self, moment: datetime, wanted: frozenset[Status]) -> tuple[ImagingResult, ...]:
        results = self._bone_results(moment)
        return tuple([r for n, r in enumerate(results) if r.status_of(BONE) in wanted
                      and not any(supersedes(later, r) for later in results[n + 1:])])

    def bone_mets_evidence(self, as_of: datetime | None = None) -> BoneMetsEvidence | None:
        """Bone metastasis established as of `as_of` (default: now), with the earliest evidence that still
        stands: a coded diagnosis (active, not refuted: see extract/conditions.py), a pathology report coded as
        bone metastasis, or an imaging bone assertion `metastatic` that no later result supersedes
        (`supersedes`). None when it is not established."""
        moment = as_of or self.now
        return self.once(("bone_mets_evidence", moment), self._bone_mets_evidence, moment)

    def _bone_mets_evidence(self, moment: datetime) -> BoneMetsEvidence | None:
        found: list[BoneMetsEvidence] = []
        coded = [c for c in self.bone_mets if c.onset is None or c.onset <= moment]
        if coded:
            first = min(coded, key=lambda c: c.onset or moment)
            found.append(BoneMetsEvidence(first.onset, "coded", first.label, first.source))
        pathology = [p for p in self.bone_mets_pathology if p.onset is not None and p.onset <= moment]
        if pathology:
            first = min(pathology, key=lambda p: p.onset or moment)
            found.append(BoneMetsEvidence(first.onset, "pathology", first.label, first.source))
        standing = self._standing(moment, _METASTATIC)
        if standing:
            first_result = standing[0]
            found.append(BoneMetsEvidence(first_result.when, "imaging", f"{first_result.label}: metastatic",
                                          first_result.source))
        if not found:
            return None
        return min(found, key=lambda e: (e.since is not None, e.since or moment))

    def bone_mets_established_before(self, moment: datetime | None) -> BoneMetsEvidence | None:
        """Bone metastasis already established strictly before `moment` (e.g. the start of a therapy line),
        judged on the record up to the day before; None when not (or when `moment` is unknown). A coded
        diagnosis without an onset date cannot say it preceded `moment`, so it does not count here."""
        if moment is None:
            return None
        evidence = self.bone_mets_evidence(moment - timedelta(days=1))
        return evidence if evidence is not None and evidence.since is not None else None

    def bone_mets_suspected(self, as_of: datetime | None = None) -> BoneMetsEvidence | None:
        """Known or suspected bone metastasis as of `as_of` (default: now): established evidence (above), else
        the latest `suspicious` (or `metastatic`) bone assertion that no later result supersedes."""
        moment = as_of or self.now
        established = self.bone_mets_evidence(moment)
        if established is not None:
            return established
        standing = self._standing(moment, _METASTATIC_OR_SUSPICIOUS)
        if not standing:
            return None
        latest = standing[-1]
        return BoneMetsEvidence(latest.when, "imaging", f"{latest.label}: {latest.status_of(BONE)}", latest.source)

    def selected_orders(self) -> list[DraftOrder]:
        return list(self._selected_orders)

    @per_call  # most order rules ask
    def _selected_orders(self) -> tuple[DraftOrder, ...]:
        return tuple([o for o in self.orders if o.selected])
