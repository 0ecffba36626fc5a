"""`cdshooks check-service` against our own service (gunicorn, client authentication on): every applicable
requirement passes, under CDS Hooks 2.0 and under the 3.0 ballot's rules."""

from __future__ import annotations

import pytest

from cdshooks.conformance_kit import Options, Report, Status, run
from cdshooks.conformance_kit.reporters import text
from cdshooks.conformance_kit.requirements import B, R, applicable
from tests.conformance_kit.conftest import ORIGIN, Served
from tests.conftest import REPO

pytestmark = pytest.mark.integration

FIXTURES = (
    REPO / "fixtures/order-sign/visceral-suspicion-bone-scan-alone--jaundice-condition-text-only-bone-scan.json",
    REPO / "fixtures/patient-view/spinal-cord-compression-mri-spine--left-leg-weakness-back-pain-coded-mets.json",
    REPO / "fixtures/starter/patient-view-412-no-data.json",
    # a split CT replaced by PET/CT: the draft is updated and its other half deleted (delete-action rules)
    REPO / "fixtures/order-sign/aggressive-subtype-pet-ct--tnbc-from-receptors-ct-split.json",
)
# SHOULDs our service knowingly does not meet, or cannot promise on a busy test machine:
# `_include` in three prefetch templates (58); answers within 500 ms on 2 shared cores (27)
TOLERATED_WARNINGS = {R(58), R(27)}
MUST_PASS_2_0 = {
    R(1), R(3), R(4), R(13), R(6), R(7), R(8), R(9), R(10), R(36), R(55), R(56), R(57), R(59),
    "cds-hooks-library_1.0.1@16", "cds-hooks-library_1.0.1@89", "cds-hooks-library_1.0.1@93",
    R(16), R(74), R(75), R("#http-status-codes.malformed-request"),
    R(54), R(34), R(61), R(52), R("#prefetch-template.null"), R("#prefetch-template.pagination"),
    R(80), R(83), R(85), R(87), R(88), R(90), R(105), R(107), R(115), R(92), R(93), R(95), R(98), R(100), R(103),
    R(117), R(119), R(122), R(124), R(127), R(128), R(131), R(132), R(133), R(134), R(135), R(138), R(139),
    R(142), R(147), R(216), R(217),
    R(208), R(176), R(201), R(203), R(205), R("#trusting-cds-clients.aud"), R("#trusting-cds-clients.exp"),
    R("#trusting-cds-clients.jti"), R("#feedback.accepted"), R("#feedback.malformed-request"),
}
MUST_PASS_3_0 = {B("#response.version"), B("#returning-operationoutcome"), B("#prefetch-tokens"),
                 B("#passing-the-access-token-to-the-cds-service")}


def _run(served: Served, spec: str) -> Report:
    return run(Options(served.base_url, spec, served.signer, auth_required=True, fixtures=FIXTURES, origin=ORIGIN,
                       stub_port=served.stub_port))


def _assert_conformant(report: Report, spec: str, must_pass: set[str]) -> None:
    statuses = {o.requirement.id: o.status for o in report.outcomes}
    shown = text(report)
    assert list(statuses) == [r.id for r in applicable(spec)]
    assert all(rid in shown for rid in statuses)  # the report lists each id
    assert not report.failed, shown
    assert {rid for rid, status in statuses.items() if status is Status.WARN} <= TOLERATED_WARNINGS, shown
    assert {rid for rid in must_pass if statuses[rid] is not Status.PASS} == set(), shown


def test_our_service_passes_every_applicable_2_0_requirement(served_for_kit: Served) -> None:
    _assert_conformant(_run(served_for_kit, "2.0"), "2.0", MUST_PASS_2_0)


def test_our_service_passes_the_3_0_ballot_rules_with_the_version_setting_on(served_for_kit: Served) -> None:
    must_pass = (MUST_PASS_2_0 - {R(57), "cds-hooks-library_1.0.1@16", "cds-hooks-library_1.0.1@89",
                                  "cds-hooks-library_1.0.1@93"}) | MUST_PASS_3_0
    _assert_conformant(_run(served_for_kit, "3.0"), "3.0", must_pass)
