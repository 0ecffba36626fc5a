"""The rules' per-call lookups (issue 15) answer as their straightforward definitions, on varied fact sets: dates
at the edges of a window, missing and future dates, equal dates, several kinds, several time zones."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise

import pytest

from cdshooks.clinical.evidence import BONE, UNSPECIFIED, Assertion, Status, strongest
from cdshooks.clinical.facts import (
    BONE_SCAN_WB,
    BONE_SCANS,
    CT_CAP_IV,
    Condition,
    DraftOrder,
    ImagingResult,
    LabResult,
    PatientFacts,
    Symptom,
    Therapy,
)
from cdshooks.clinical.findings import Finding
from cdshooks.clinical.report_reading import BoneMetResult, Change
from cdshooks.clinical.rules.bone_scan_timing import FLARE_WINDOW, FlareWindowValues, flare_window
from cdshooks.clinical.rules.imaging_evidence import (
    bone_assertions,
    bone_changes,
    bone_status,
    discordant_positive,
    unresolved_finding,
)
from cdshooks.clinical.rules.scenario import _ONE_DAY, SYSTEMIC, line_start, new_therapy_lines

NOW = datetime(2026, 6, 1, 19, 0, tzinfo=UTC)
ZONES = (UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12)), timezone(timedelta(hours=5, minutes=30)))
KINDS = ("alp", "egfr", "calcium", "albumin")
WINDOWS = (None, 0, 1, 7, 7.5, 30, 90, float("inf"), -1)


def _plain_latest_lab(facts: PatientFacts, kind: str, within_days: float | None) -> LabResult | None:
    """The definition: labs of `kind` dated up to now (and within the window), the latest; the first on record
    among equally dated ones (as `max` picks)."""
    found = [lab for lab in facts.labs if lab.kind == kind and lab.when is not None and lab.when <= facts.now
             and (within_days is None or facts.within(lab.when, within_days))]
    return max(found, key=lambda lab: lab.when or NOW) if found else None


def _moment(rng: random.Random) -> datetime | None:
    """A lab date: missing, in the future, at the edges of the windows, or equal to another (few distinct)."""
    choice = rng.random()
    if choice < 0.1:
        return None
    days = rng.choice((-2, -1, 0, 1, 6, 7, 8, 29, 30, 31, 89, 90, 91, 400))
    hours = rng.choice((0, 5, 18, 19, 20, 23))
    return (NOW - timedelta(days=days)).replace(hour=hours, minute=0).astimezone(rng.choice(ZONES))


def _labs(rng: random.Random, count: int) -> tuple[LabResult, ...]:
    return tuple(LabResult(rng.choice(KINDS), _moment(rng), float(n), "U/L", None, "none", source=f"Observation/{n}")
                 for n in range(count))


@pytest.mark.parametrize("seed", range(300))
def test_latest_lab_is_the_latest_in_the_window(seed: int) -> None:
    rng = random.Random(seed)
    labs = _labs(rng, rng.choice((0, 1, 2, 5, 12, 30)))
    facts = PatientFacts(now=NOW.astimezone(rng.choice(ZONES)), labs=labs)
    for kind in (*KINDS, "bilirubin"):
        for window in WINDOWS:
            assert facts.latest_lab(kind, window) is _plain_latest_lab(facts, kind, window), (kind, window)


def test_latest_lab_looks_past_a_latest_lab_outside_the_window() -> None:
    """The latest result lies outside the window by its local date while an earlier one lies inside."""
    east, west = timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))
    now = datetime(2026, 6, 1, 23, 0, tzinfo=west)  # 2 June 11:00 UTC, today is 1 June
    late = LabResult("alp", datetime(2026, 6, 2, 10, 0, tzinfo=UTC).astimezone(east), 1.0, "", None, "none")  # 3 June
    early = LabResult("alp", datetime(2026, 6, 1, 9, 0, tzinfo=UTC), 2.0, "", None, "none")
    facts = PatientFacts(now=now, labs=(early, late))
    assert facts.latest_lab("alp") is late
    assert facts.latest_lab("alp", 30) is early is _plain_latest_lab(facts, "alp", 30)


def test_latest_lab_keeps_the_first_of_equal_dates() -> None:
    when = NOW - timedelta(days=1)
    first, second = (LabResult("alp", when, float(n), "", None, "none", source=f"Observation/{n}") for n in (1, 2))
    facts = PatientFacts(now=NOW, labs=(first, second))
    assert facts.latest_lab("alp") is first and facts.latest_lab("alp", 7) is first


def _plain_line_start(doses: list[datetime], gap_days: float) -> datetime:
    start = doses[0]
    for previous, current in pairwise(doses):
        if (current - previous) / _ONE_DAY >= gap_days:
            start = current
    return start


@pytest.mark.parametrize("seed", range(200))
def test_line_start_is_the_first_dose_after_the_last_gap(seed: int) -> None:
    rng = random.Random(seed)
    doses, moment = [], NOW - timedelta(days=rng.randint(0, 900))
    for _ in range(rng.choice((1, 2, 3, 10, 150))):
        doses.append(moment.astimezone(rng.choice(ZONES)))
        moment += timedelta(days=rng.choice((0, 1, 7, 7, 7, 28, 59, 60, 61, 200)), seconds=rng.choice((0, -1, 1)))
    rng.shuffle(doses) if rng.random() < 0.2 else None  # the function sorts what it is given
    therapy = Therapy("letrozole", "endocrine", min(doses), max(doses), True, doses=tuple(doses))
    for gap_days in (60, 60.0, 59.5, 1, 0, 28):
        assert line_start(therapy, gap_days) == _plain_line_start(sorted(doses), gap_days), gap_days


def _plain_new_therapy_lines(facts: PatientFacts, horizon: float, gap_days: float) -> list[Therapy]:
    """The definition: each systemic agent's line start (over all its doses), kept when up to now and within."""
    out = []
    for therapy in facts.therapies_of(*SYSTEMIC):
        start = line_start(therapy, gap_days)
        if start is not None and start <= facts.now and facts.within(start, horizon):
            out.append(replace(therapy, start=start))
    return sorted(out, key=lambda t: t.start or facts.now, reverse=True)


def _therapy(rng: random.Random, agent: str) -> Therapy:
    """Doses from years back to past now, daily or weekly runs broken by gaps, dates in several zones."""
    doses, moment = [], NOW - timedelta(days=rng.choice((0, 5, 90, 179, 180, 181, 182, 183, 184, 400, 900)),
                                         hours=rng.choice((0, 3, 20)))
    for _ in range(rng.choice((0, 1, 2, 5, 40, 300))):
        doses.append(moment.astimezone(rng.choice(ZONES)))
        moment += timedelta(days=rng.choice((1, 1, 1, 7, 7, 59, 60, 61, 120)), hours=rng.choice((0, 0, -23, 23)))
    start = rng.choice((min(doses) if doses else None, NOW - timedelta(days=rng.randint(0, 400)), None))
    return Therapy(agent, rng.choice(SYSTEMIC), start, max(doses) if doses else start, True, doses=tuple(doses))


@pytest.mark.parametrize("seed", range(300))
def test_new_therapy_lines_are_those_of_the_plain_search(seed: int) -> None:
    rng = random.Random(seed)
    therapies = tuple(_therapy(rng, f"agent-{n}") for n in range(rng.choice((1, 2, 4))))
    facts = PatientFacts(now=NOW.astimezone(rng.choice(ZONES)), therapies=therapies)
    for horizon in (180, 180.5, 0, -1, 2, float("inf"), float("nan"), 10 ** 9):
        for gap_days in (90, 60, 60.5, 1):
            params = {"P_FLARE_EXTENDED_MAX_DAYS": horizon, "P_NEW_THERAPY_GAP_DAYS": gap_days}
            assert new_therapy_lines(facts, params) == _plain_new_therapy_lines(facts, horizon, gap_days), \
                (horizon, gap_days)


def _plain_bone_results(facts: PatientFacts, moment: datetime) -> list[ImagingResult]:
    dated = [i for i in facts.imaging if i.when is not None and i.status_of(BONE) is not None]
    return [i for i in sorted(dated, key=lambda i: i.when or NOW) if (i.when or NOW) <= moment]


@pytest.mark.parametrize("seed", range(100))
def test_bone_results_up_to_a_moment_are_the_filtered_ones(seed: int) -> None:
    rng = random.Random(seed)
    statuses = (BoneMetResult.POSITIVE, BoneMetResult.NEGATIVE, BoneMetResult.UNKNOWN)
    imaging = tuple(ImagingResult(f"DiagnosticReport/{n}", f"study {n}", None, "CT", _moment(rng), rng.choice(statuses),
                                  None) for n in range(rng.choice((0, 1, 3, 9))))
    facts = PatientFacts(now=NOW, imaging=imaging)
    moments = [NOW, NOW - timedelta(days=30), NOW + timedelta(days=3)] + [i.when for i in imaging if i.when]
    for moment in moments:
        for edge in (moment, moment - timedelta(microseconds=1), moment.astimezone(rng.choice(ZONES))):
            assert facts._bone_results(edge) == _plain_bone_results(facts, edge)


def test_per_call_answers_are_kept_on_the_instance_and_not_copied_by_replace() -> None:
    scan = ImagingResult("DiagnosticReport/1", "scan", BONE_SCAN_WB, "NM", NOW, BoneMetResult.NEGATIVE, None)
    assert scan.is_bone_scan and not scan.is_cross_sectional and not scan.is_ct_or_pet
    assert "is_bone_scan" in vars(scan)  # kept
    ct = replace(scan, procedure_class=CT_CAP_IV, modality="CT")
    assert not ct.is_bone_scan and ct.is_cross_sectional and ct.is_ct_or_pet  # a new instance asks again
    assert ct != scan and replace(ct) == ct  # kept answers are not part of the value
    pain = Symptom("bone-pain", "Pain", NOW, True, site="lumbar spine")
    assert pain.spinal_pain and not replace(pain, site="left femur").spinal_pain


@pytest.mark.parametrize("seed", range(50))
def test_labs_of_a_kind_are_the_filtered_labs(seed: int) -> None:
    rng = random.Random(seed)
    facts = PatientFacts(now=NOW, labs=_labs(rng, rng.choice((0, 1, 7, 40))))
    for kind in (*KINDS, "bilirubin", ""):
        found = facts.labs_of(kind)
        assert found == [lab for lab in facts.labs if lab.kind == kind]
        assert all(a is b for a, b in zip(found, [lab for lab in facts.labs if lab.kind == kind], strict=True))


def _plain_flare_window(facts: PatientFacts, params: dict[str, float]) -> list[Finding]:
    """R13 at order time as written before: every new therapy line of the extended window, the first (newest)
    begun `low`..`high` days ago."""
    scans = [o for o in facts.selected_orders() if o.procedure_class in BONE_SCANS]
    if facts.breast_cancer is None or not scans or facts.bone_mets_evidence() is None:
        return []
    low, high = params["P_FLARE_MIN_DAYS"], params["P_FLARE_MAX_DAYS"]
    for line in new_therapy_lines(facts, params):
        age = facts.days_since(line.start)
        if line.start is not None and age is not None and low <= age <= high:
            earliest = line.start + timedelta(days=params["P_FLARE_REIMAGE_DAYS"])
            return [FLARE_WINDOW.finding(
                FlareWindowValues(order=scans[0].label, agent=line.agent, therapy_start=line.start, days_since=age,
                                  earliest_date=earliest), orders=scans, recency=line.start)]
    return []


@pytest.mark.parametrize("seed", range(200))
def test_flare_window_finds_the_line_the_extended_window_would(seed: int) -> None:
    rng = random.Random(seed)
    therapies = tuple(_therapy(rng, f"agent-{n}") for n in range(rng.choice((1, 2, 4))))
    order = DraftOrder("ServiceRequest/bs", True, "Bone scan", procedure_class=BONE_SCAN_WB)
    mets = Condition("Bone metastasis", NOW - timedelta(days=900), "Condition/m")
    facts = PatientFacts(now=NOW.astimezone(rng.choice(ZONES)), therapies=therapies, orders=(order,),
                         breast_cancer=Condition("Breast cancer", None, "Condition/b"), bone_mets=(mets,))
    for high, horizon in ((90, 180), (180, 90), (90, 90), (90.5, 180), (float("nan"), 180), (90, float("nan")),
                          (float("inf"), 180), (90, float("inf")), (-1, 180)):
        params = {"P_FLARE_MIN_DAYS": rng.choice((0, 14)), "P_FLARE_MAX_DAYS": high, "P_FLARE_REIMAGE_DAYS": 90,
                  "P_FLARE_EXTENDED_MAX_DAYS": horizon, "P_NEW_THERAPY_GAP_DAYS": rng.choice((90, 60, 60.5))}
        assert flare_window(facts, params) == _plain_flare_window(facts, params), (high, horizon)


def _plain_last_dose_before(therapy: Therapy, moment: datetime) -> datetime | None:
    if any(start <= moment <= end for start, end in therapy.periods):
        return moment
    before = [d for d in therapy.doses if d <= moment]
    return before[-1] if before else None


@pytest.mark.parametrize("seed", range(100))
def test_last_dose_before_is_the_last_dose_on_record_up_to_the_moment(seed: int) -> None:
    rng = random.Random(seed)
    doses = [_moment(rng) or NOW for _ in range(rng.choice((0, 1, 3, 12)))]
    if rng.random() < 0.5:
        doses.sort()  # as extracted; the other half keeps record order
    periods = tuple((d, d + timedelta(days=rng.choice((0, 1, 30)))) for d in doses[:rng.choice((0, 0, 1, 2))])
    therapy = Therapy("letrozole", "endocrine", None, None, True, doses=tuple(doses), periods=periods)
    for moment in [NOW, NOW - timedelta(days=30), *doses, *(d + timedelta(days=1) for d in doses)]:
        assert therapy.last_dose_before(moment) == _plain_last_dose_before(therapy, moment)


def _result(rng: random.Random, n: int) -> ImagingResult:
    """A result of any kind: bone scan or not, with assertions about bone, no region or organs, or none."""
    kinds = ((BONE_SCAN_WB, "NM"), (None, "NM"), (CT_CAP_IV, "CT"), (None, "MR"), (None, None))
    procedure, modality = rng.choice(kinds)
    regions = (BONE, UNSPECIFIED, "liver", "lung")
    assertions = tuple(Assertion(rng.choice(regions), rng.choice(list(Status)),
                                 changes=frozenset(rng.sample(("new-foci", "decreased", "odd"), rng.randint(0, 2))))
                       for _ in range(rng.choice((0, 0, 1, 2, 3))))
    changes = frozenset(rng.sample(list(Change), rng.randint(0, 2)))
    return ImagingResult(f"DiagnosticReport/{n}", "study", procedure, modality, NOW, rng.choice(list(BoneMetResult)),
                         None, changes=changes, assertions=assertions)


@pytest.mark.parametrize("seed", range(300))
def test_bone_status_and_changes_are_read_from_the_bone_assertions(seed: int) -> None:
    rng = random.Random(seed)
    result = _result(rng, seed)
    for _ in range(2):  # asked again: the kept answer
        assert bone_status(result) == strongest([a.status for a in bone_assertions(result)])
        plain = {Change(c) for a in bone_assertions(result) for c in a.changes if c in Change._value2member_map_}
        assert bone_changes(result) == frozenset(plain) | (result.changes if not result.assertions else frozenset())


@pytest.mark.parametrize("seed", range(300))
def test_discordance_picks_read_cross_sectional_studies_only(seed: int) -> None:
    """R08's pairing offers its picks only CT/PET/MRI studies: the picks must find nothing in any other."""
    result = _result(random.Random(seed), seed)
    if not result.is_cross_sectional:
        assert discordant_positive(result) is None and unresolved_finding(result) is None
