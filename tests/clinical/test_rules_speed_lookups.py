"""The rules' per-call lookups (issue 15) answer as their straightforward definitions, on varied fact sets: dates
at the edges of a window, missing and future dates, equal dates, several kinds, several time zones."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise

import pytest

from cdshooks.clinical.facts import LabResult, PatientFacts, Therapy
from cdshooks.clinical.rules.scenario import _ONE_DAY, line_start

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
