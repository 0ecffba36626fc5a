"""The per-call shortcuts of issue 15 (imaging extraction, rules) give the answers of the plain computations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from cdshooks.clinical.extract.imaging import usable
from cdshooks.clinical.facts import Therapy
from cdshooks.clinical.knowledge import default_knowledge
from cdshooks.clinical.rules.scenario import _ONE_DAY, line_start

KB = default_knowledge()
T0 = datetime(2026, 1, 1, 9, tzinfo=UTC)


def _plain_line_start(doses: list[datetime], gap_days: float) -> datetime:
    start = doses[0]
    for previous, current in pairwise(doses):
        if (current - previous) / _ONE_DAY >= gap_days:
            start = current
    return start


@pytest.mark.parametrize("gap_days", [90, 90.0, 89.5, 1, 0, 2 ** 17 - 1, 2 ** 18, float("inf")])
@pytest.mark.parametrize("off_us", [-1, 0, 1])
def test_line_start_compares_gaps_as_the_division_does(gap_days: float, off_us: int) -> None:
    gap = timedelta(days=gap_days) if gap_days != float("inf") else timedelta(days=10)
    doses = [T0, T0 + timedelta(days=1), T0 + timedelta(days=1) + gap + timedelta(microseconds=off_us)]
    therapy = Therapy("letrozole", "endocrine", doses[0], doses[-1], True, doses=tuple(doses))
    assert line_start(therapy, gap_days) == _plain_line_start(doses, gap_days)


def _report(rid: str, state: str, **extra: object) -> dict[str, object]:
    return {"resourceType": "Observation", "id": rid, "status": state, **extra}


def test_usable_with_wanted_is_usable_then_filtered() -> None:
    final_lab = _report("lab", "final", identifier=[{"system": "s", "value": "v1"}])
    preliminary = _report("img", "preliminary", identifier=[{"system": "s", "value": "v1"}], valueString="x")
    other = _report("img2", "preliminary", valueString="y")
    records = [final_lab, preliminary, other, {"status": "entered-in-error", "valueString": "z"}, "odd"]

    def wanted(r: dict[str, object]) -> bool:
        return "valueString" in r

    expected = [r for r in usable(records) if wanted(r)]  # type: ignore[arg-type]
    assert usable(records, wanted) == expected == [other]  # type: ignore[arg-type]


def test_matches_codings_reads_codes_only() -> None:
    category = KB.valueset("VS_PATHOLOGY_REPORT_CATEGORY")
    entry = category.codes[0]
    coded = {"coding": [{"system": entry.system, "code": entry.code}]}
    assert category.matches_codings(coded) and category.matches_codings(coded)  # memoised answer is the same
    assert not category.matches_codings({"text": entry.display})  # no text fallback
    assert category.matches_coding(entry.system, entry.code)
