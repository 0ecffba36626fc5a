"""Labs are read on demand (issue 15): building a call's facts dates every lab and reads a lab in full only when a
rule asks for it. The series reads exactly as the tuple of every lab read at once, on the bench records and on
mutated ones, and each lab is read at most once."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cdshooks.clinical.build_facts import build_facts
from cdshooks.clinical.extract import observations as obs
from cdshooks.clinical.facts import LabResult, LabSeries, PatientFacts
from cdshooks.clinical.knowledge import default_knowledge
from cdshooks.fhir.record import Record
from tests.clinical.test_extract_speed_round5 import _mutate

KB = default_knowledge()
NOW = datetime(2026, 6, 1, 19, 0, tzinfo=UTC)
KINDS = ("alp", "alt", "ast", "bilirubin", "egfr", "creatinine", "calcium", "calcium-ionised", "calcium-corrected",
         "albumin")


def _observations(hook: str, seed: int | None) -> list[dict[str, Any]]:
    from bench.record import typical_request

    request = typical_request(hook, NOW.date(), seed=7 if seed is None else seed)
    found = [e["resource"] for value in request["prefetch"].values() if value.get("resourceType") == "Bundle"
             for e in value.get("entry", []) if e["resource"]["resourceType"] == "Observation"]
    found = json.loads(json.dumps(found))
    if seed is not None:
        rng = random.Random(seed)
        for observation in rng.sample(found, 30):
            for _ in range(rng.randint(1, 3)):
                _mutate(observation, rng, ["2026-05-30", "2026-06-02T08:00:00Z", "bad-date", 7.5, {"value": 2.0},
                                           "entered-in-error"])
    return found


def _every_lab_at_once(observations: list[dict[str, Any]]) -> tuple[LabResult, ...]:
    """The plain definition: every lab Observation the extractor keeps, read in full, in record order."""
    series = obs.extract_observations(KB, tuple(observations), KB.param("P_ALP_ULN")).labs
    return tuple(obs.lab_result(KB, source, kind, KB.param("P_ALP_ULN"))
                 for kind, source in zip(series.kinds, series._sources, strict=True))


def _counting(series: LabSeries) -> list[int]:
    """Count the series's full reads (wraps its reader)."""
    reads: list[int] = []
    read = series._read
    assert read is not None

    def counted(source: Any, kind: str, when: datetime | None) -> LabResult:
        reads.append(id(source))
        return read(source, kind, when)

    series._read = counted
    return reads


@pytest.mark.parametrize("hook", ["order-select", "patient-view"])
@pytest.mark.parametrize("seed", [None, 1, 2, 3, 4, 5])
def test_the_series_reads_as_every_lab_read_at_once(hook: str, seed: int | None) -> None:
    observations = _observations(hook, seed)
    expected = _every_lab_at_once(observations)
    series = obs.extract_observations(KB, tuple(observations), KB.param("P_ALP_ULN")).labs
    assert len(series) == len(expected) > 50
    assert series.kinds == [lab.kind for lab in expected] and series.whens == [lab.when for lab in expected]
    assert series == expected and expected == series and tuple(series) == expected and list(series) == list(expected)
    assert hash(series) == hash(expected)
    assert series[-1] == expected[-1] and series[3:9] == expected[3:9] and series[::-7] == expected[::-7]
    assert repr(series) == f"LabSeries({expected!r})"


@pytest.mark.parametrize("seed", [None, 11, 12, 13])
def test_the_facts_answer_as_with_every_lab_read_at_once(seed: int | None) -> None:
    observations = _observations("order-select", seed)
    record = Record.build("p", observations)
    lazy = build_facts(record, NOW, KB)
    eager = PatientFacts(NOW, labs=_every_lab_at_once(list(record.of("Observation"))))  # what the record kept
    assert isinstance(lazy.labs, LabSeries) and lazy.labs == eager.labs
    for kind in KINDS:
        assert lazy.labs_of(kind) == eager.labs_of(kind) == [lab for lab in eager.labs if lab.kind == kind]
        for days in (None, 0, 1, 7, 30, 90, 365, 10_000):
            assert lazy.latest_lab(kind, days) == eager.latest_lab(kind, days)


def test_a_question_reads_only_the_lab_it_answers_with() -> None:
    observations = _observations("order-select", None)
    facts = build_facts(Record.build("p", observations), NOW, KB)
    series = facts.labs
    assert isinstance(series, LabSeries)
    reads = _counting(series)
    latest = facts.latest_lab("egfr")
    assert latest is not None and latest.kind == "egfr" and len(reads) == 1
    assert facts.latest_lab("egfr", 3650) is latest and len(reads) == 1  # kept: not read again
    alp = facts.labs_of("alp")
    assert len(alp) == series.kinds.count("alp") > 5 and len(reads) == 1 + len(alp)
    assert facts.labs_of("alp") == alp and len(reads) == 1 + len(alp)
    assert len(set(reads)) == len(reads)  # each lab read at most once


def test_the_whole_call_reads_few_labs_of_the_bench_record() -> None:
    observations = _observations("order-select", None)
    facts = build_facts(Record.build("p", observations), NOW, KB)
    reads = _counting(facts.labs)  # type: ignore[arg-type]
    for kind in KINDS:
        facts.latest_lab(kind, 90)
    assert len(reads) <= len(KINDS) < len(facts.labs) // 5


def test_facts_built_by_hand_read_the_same() -> None:
    day = timedelta(days=1)
    labs = (LabResult("calcium", NOW - 3 * day, 2.9, "mmol/L", "high", "reference-range"),
            LabResult("calcium", NOW - day, 2.4, "mmol/L", "normal", "reference-range"),
            LabResult("calcium", NOW + day, 3.1, "mmol/L", "high", "reference-range"),  # after now: never the latest
            LabResult("albumin", None, 30.0, "g/L", None, "none"))
    by_hand = PatientFacts(NOW, labs=labs)
    assert by_hand.latest_lab("calcium") == labs[1] and by_hand.latest_lab("calcium", 0) is None
    assert by_hand.labs_of("albumin") == [labs[3]] and by_hand.latest_lab("albumin") is None
    assert by_hand == PatientFacts(NOW, labs=LabSeries.of(labs)) == PatientFacts(NOW, labs=list(labs))
    assert LabSeries.of(labs) == labs and LabSeries.of(LabSeries.of(labs)) == labs


def test_a_series_without_a_reader_holds_only_read_results() -> None:
    series = LabSeries()
    series.add("alp", NOW, {"resourceType": "Observation"})
    with pytest.raises(LookupError):
        series[0]
