"""The `cdshooks` command line: replay (in-process and remote), check-config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import responses
from click.testing import CliRunner

from cdshooks.cli import main
from cdshooks.replay import load_fixture, shift_dates
from tests.conftest import REPO, hook_request

STARTER = REPO / "fixtures" / "starter"


@pytest.fixture(autouse=True)
def _isolated_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDSHOOKS_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")


def test_replay_in_process_prints_readable_results() -> None:
    result = CliRunner().invoke(main, ["replay", str(STARTER)])
    assert result.exit_code == 0, result.output
    assert "order-select-bone-scan.json" in result.output
    assert "HTTP 200" in result.output and "HTTP 412" in result.output
    assert "(no cards)" in result.output
    assert "4 fixtures, 0 with problems" in result.output


def test_replay_json_output() -> None:
    result = CliRunner().invoke(main, ["replay", "--json", str(STARTER / "patient-view-minimal.json")])
    assert result.exit_code == 0
    (first,) = json.loads(result.stdout)
    assert first["status"] == 200 and first["response"] == {"cards": []}


def test_replay_fails_on_unmet_expectation(tmp_path: Path) -> None:
    fixture = json.loads((STARTER / "patient-view-minimal.json").read_text())
    fixture["extension"]["org.bonemets-cds.fixture"]["expect"] = {"topics": ["bone-scan-flare"]}
    path = tmp_path / "f.json"
    path.write_text(json.dumps(fixture))
    result = CliRunner().invoke(main, ["replay", str(path)])
    assert result.exit_code == 1
    assert "expected topic bone-scan-flare missing" in result.output


def test_replay_rejects_non_fixture(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("{\"not\": \"a request\"}")
    result = CliRunner().invoke(main, ["replay", str(tmp_path)])
    assert result.exit_code == 1
    assert "not a fixture" in result.output


@responses.activate
def test_replay_remote_flags_spec_breaking_responses(tmp_path: Path) -> None:
    bad_card = {"summary": "x" * 150, "indicator": "urgent", "source": {}}
    responses.post("http://127.0.0.1:9999/cds-services/bone-mets-imaging-patient-view",
                   json={"cards": [bad_card]})
    result = CliRunner().invoke(main, ["replay", "--url", "http://127.0.0.1:9999",
                                       str(STARTER / "patient-view-minimal.json")])
    assert result.exit_code == 1
    assert "SPEC PROBLEM" in result.output and "must be under 140" in result.output
    sent = json.loads(responses.calls[0].request.body)
    assert "extension" not in sent  # fixture metadata is not sent
    assert sent["context"]["patientId"] == "bc-1"


@responses.activate
def test_replay_remote_shifts_dates_to_today() -> None:
    responses.post("http://127.0.0.1:9999/cds-services/bone-mets-imaging-patient-view", json={"cards": []})
    CliRunner().invoke(main, ["replay", "--url", "http://127.0.0.1:9999", str(STARTER / "patient-view-minimal.json")])
    sent = json.loads(responses.calls[0].request.body)
    onset = sent["prefetch"]["conditions"]["entry"][0]["resource"]["onsetDateTime"]
    assert onset != "2026-01-10"  # shifted by (today - asOf)


def test_as_of_is_validated_and_refused_with_url() -> None:
    bad = CliRunner().invoke(main, ["replay", "--as-of", "someday", str(STARTER)])
    assert bad.exit_code == 2 and "--as-of" in bad.output
    both = CliRunner().invoke(main, ["replay", "--as-of", "2026-01-01", "--url", "http://x", str(STARTER)])
    assert both.exit_code == 2


def test_shift_dates_moves_only_fhir_dates() -> None:
    data: dict[str, Any] = {"a": "2026-01-10", "b": "2026-01-10T08:00:00Z", "c": "id-2026-01-10", "d": ["2025-12-31"],
                            "e": 5, "f": "2026-02-30"}
    assert shift_dates(data, 1) == {"a": "2026-01-11", "b": "2026-01-11T08:00:00Z", "c": "id-2026-01-10",
                                    "d": ["2026-01-01"], "e": 5, "f": "2026-02-30"}


def test_fixture_without_metadata_uses_the_hook_service(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps(hook_request("order-sign")))
    fixture = load_fixture(path)
    assert fixture.service_id == "bone-mets-imaging-order-sign" and fixture.as_of is None


def test_check_config_redacts_and_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDSHOOKS_PSEUDONYM_KEY", "very-secret-key")
    result = CliRunner().invoke(main, ["check-config"])
    assert result.exit_code == 0, result.output
    assert "CDSHOOKS_PSEUDONYM_KEY=***" in result.output
    assert "very-secret-key" not in result.output
    assert "configuration ok" in result.output


def test_check_config_reports_bad_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDSHOOKS_FHIR_BUDGET", "never")
    result = CliRunner().invoke(main, ["check-config"])
    assert result.exit_code == 2
    assert "CDSHOOKS_FHIR_BUDGET='never'" in result.output


def test_check_config_fails_on_unreachable_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDSHOOKS_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    result = CliRunner().invoke(main, ["check-config"])
    assert result.exit_code == 1
    assert "database not reachable" in result.output


def test_serve_refuses_bad_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDSHOOKS_MAX_CARDS", "zero")
    result = CliRunner().invoke(main, ["serve", "--port", "1"])
    assert result.exit_code == 2
    assert "CDSHOOKS_MAX_CARDS" in result.output
