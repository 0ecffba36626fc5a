"""The kit against services that break the spec: the broken toy fails exactly the expected ids (text, JSON and
JUnit agree), and nonsense or a hanging service gives a report within the time budget, never a traceback."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner

from cdshooks.cli import main
from cdshooks.conformance_kit import Options, Status, run
from cdshooks.conformance_kit.requirements import L, R
from tests.conformance_kit.toy_services import broken_toy, serve, weird_service

TOY_FAILURES = {
    R(83),  # a 200-character summary
    R(93),  # suggestions without selectionBehavior
    R(147),  # appContext on an absolute link
    R(100),  # an override reason without display
    R("#http-status-codes.malformed-request"),  # a 500 on bad JSON
    R(57), L(93),  # {{context.draftOrders.ServiceRequest.id}}: nested, and draftOrders is no order-select token
}


@pytest.fixture(scope="module")
def toy_url() -> Iterator[str]:
    with serve(broken_toy()) as url:
        yield url


@pytest.fixture(scope="module")
def weird_url() -> Iterator[str]:
    with serve(weird_service()) as url:
        yield url


def test_the_broken_toy_fails_exactly_the_expected_requirements(toy_url: str) -> None:
    report = run(Options(toy_url))
    statuses = {o.requirement.id: o.status for o in report.outcomes}
    assert {rid for rid, status in statuses.items() if status is Status.FAIL} == TOY_FAILURES
    # what the toy does right passes (it fetches from fhirServer with the token, answers 412 without data)
    for rid in (R(34), R(61), R(54), R(52), R("#prefetch-template.null"), R(208), R(74), R(16)):
        assert statuses[rid] is Status.PASS, rid
    # it never follows a paginated prefetch (a SHOULD: a warning), and offers no feedback endpoint
    assert statuses[R("#prefetch-template.pagination")] is Status.WARN
    assert statuses[R("#feedback.accepted")] is Status.NA


def test_json_and_junit_reports_agree_with_the_failures(toy_url: str, tmp_path: Path) -> None:
    junit = tmp_path / "kit.xml"
    result = CliRunner().invoke(main, ["check-service", toy_url, "--json", "--junit", str(junit)])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    failed = {r["id"] for r in report["requirements"] if r["status"] == "fail"}
    assert failed == TOY_FAILURES
    assert report["summary"]["fail"] == len(TOY_FAILURES)
    summary = next(r for r in report["requirements"] if r["id"] == R(83))
    evidence = next(e for e in summary["evidence"] if e["status"] == "fail")
    assert "200 characters" in evidence["message"]
    assert evidence["request"].startswith(f"POST {toy_url}/cds-services/") and "HTTP 200" in evidence["response"]
    suite = ElementTree.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == str(len(TOY_FAILURES))
    cases = {case.get("name", "").split(" ")[0]: case for case in suite.iter("testcase")}
    assert set(cases) == {r["id"] for r in report["requirements"]}
    assert {rid for rid, case in cases.items() if case.find("failure") is not None} == TOY_FAILURES
    assert cases[R("#feedback.accepted")].find("skipped") is not None


def test_the_text_report_names_each_failure_with_its_evidence(toy_url: str) -> None:
    result = CliRunner().invoke(main, ["check-service", toy_url])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    for rid in TOY_FAILURES:
        assert any(line.startswith(f"  FAIL  {rid}  ") for line in lines), rid
    assert "appContext: only on smart links" in result.stdout
    assert f"{len(TOY_FAILURES)} failed" in lines[-1]


@pytest.mark.parametrize(("prefix", "failing"), [
    ("html", {R(1), R(6)}),
    ("garbage", {R(6), R(7), R(10), R(36), R(55), R(57), R(74), R(214), R(208), R("#feedback.accepted")}),
])
def test_nonsense_is_reported_never_a_crash(weird_url: str, prefix: str, failing: set[str]) -> None:
    report = run(Options(f"{weird_url}/{prefix}", timeout=5))
    statuses = {o.requirement.id: o.status for o in report.outcomes}
    assert failing <= {rid for rid, status in statuses.items() if status is Status.FAIL}
    crashes = [e.message for o in report.outcomes for e in o.evidence if "could not finish" in e.message]
    assert crashes == []


def test_a_hanging_service_costs_at_most_the_time_budget(weird_url: str) -> None:
    started = time.monotonic()
    report = run(Options(f"{weird_url}/slow", timeout=0.3, max_seconds=2.0))
    assert time.monotonic() - started < 6.0  # budget + one call's timeout + stub start/stop, with slack
    statuses = {o.requirement.id: o.status for o in report.outcomes}
    assert statuses[R(16)] is Status.FAIL  # every call timed out
    assert any("time budget" in note for note in report.notes)
