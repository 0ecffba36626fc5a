"""`cdshooks simulate`: every hook over the shipped cohort without a server; per topic, hook and variant, with
examples and throughput; `--compare-to` shows what a knowledge change adds and removes; Bundles and ndjson."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cdshooks.cli import main
from cdshooks.governance.knowledge_set import load_knowledge_set
from cdshooks.governance.knowledge_version import knowledge_version
from cdshooks.settings import Settings
from cdshooks.simulate.cohort import Cohort, load_cohort
from cdshooks.simulate.compare import compare
from cdshooks.simulate.run import simulate
from tests.conftest import REPO
from tools.cohort.__main__ import main as cohort_generator

COHORT = REPO / "cohorts" / "breast-cancer"


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, ["simulate", *args])


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    page = tmp_path_factory.mktemp("sim") / "simulation.html"
    result = _run(str(COHORT), "--json", "--html", str(page))
    assert result.exit_code == 0, result.output + result.stderr
    return json.loads(result.stdout), page.read_text(encoding="utf-8")


def test_the_shipped_cohort_runs_every_hook(shipped: tuple[dict[str, Any], str]) -> None:
    body, _ = shipped
    assert body["patients"] == 120 and body["errors"] == 0
    assert body["as_of"].startswith("2026-06-01T09:00")  # the export manifest's transactionTime
    assert body["hook_calls"] == 120 * (1 + 2 * 2)  # patient-view + (order-select, order-sign) per draft class
    assert body["patients_per_second"] > 0 and body["seconds"] > 0
    assert body["knowledge"] == knowledge_version().label
    topics = {t["topic"]: t for t in body["topics"]}
    assert set(topics) >= {"no-suspicion-survey-not-indicated", "bone-mets-no-bma", "cns-symptoms-mri-brain"}
    cns = topics["cns-symptoms-mri-brain"]
    assert set(cns["by_hook"]) == {"patient-view", "order-select", "order-sign"}
    assert set(cns["by_variant"]) == {"chart", "order"}
    for topic in topics.values():
        assert 0 < topic["patients"] <= 120 and max(topic["by_hook"].values()) <= topic["patients"]
        assert topic["examples"] and all(e["topic"] == topic["topic"] and e["summary"] for e in topic["examples"])
    ratings = body["ratings"]["BONE_SCAN_WB"]
    assert sum(ratings.values()) == 120  # one rating per patient at order-sign


def test_the_html_page_has_the_table_and_the_chart(shipped: tuple[dict[str, Any], str]) -> None:
    body, page = shipped
    assert page.startswith("<!doctype html>") and "<script" not in page
    assert page.count("<svg") == 1 and page.count("<rect") > len(body["topics"])
    assert "<table>" in page and "patients/s" in page
    for topic in body["topics"]:
        assert f"<td>{topic['topic']}</td>" in page


def test_compare_to_shows_what_a_knowledge_change_adds_and_removes(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "parameters.yaml").write_text("parameters:\n  P_EGFR_CONTRAST_LIMIT: 45\n", encoding="utf-8")
    result = _run(str(COHORT), "--knowledge-dir", str(site), "--compare-to", "shipped", "--draft", "CT_CAP_IV")
    assert result.exit_code == 0, result.output + result.stderr
    lines = [line.strip() for line in result.stdout.splitlines()]
    renal = next(line for line in lines if line.startswith("renal-impairment-contrast:"))
    assert "(+4 -0)" in renal and "p047" in renal  # eGFR 41: high risk only under the stricter limit
    assert sum(": " in line and "(+" in line for line in lines) == 1  # nothing else changes
    # the other way round, on those patients and a few others: the change removes them
    population = load_cohort([COHORT])
    few = Cohort(tuple(p for p in population.patients if p.id in {"p001", "p002", "p047", "p069", "p083"}), 1, None)
    as_of, settings = population.as_of or datetime.now(UTC), Settings()
    stricter = simulate(few, as_of, load_knowledge_set(site), settings, ("CT_CAP_IV",))
    change = next(c for c in compare(simulate(few, as_of, load_knowledge_set(None), settings, ("CT_CAP_IV",)),
                                     stricter).changes if c.topic == "renal-impairment-contrast")
    assert (change.before, change.after, change.added, change.removed) == (4, 0, 0, 4)


def test_fhir_bundles_with_fullurl_references_are_read_per_patient(tmp_path: Path) -> None:
    def entry(uid: str, resource: dict[str, Any]) -> dict[str, Any]:
        return {"fullUrl": f"urn:uuid:{uid}", "resource": resource}

    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        entry("p1", {"resourceType": "Patient", "id": "a", "gender": "female", "birthDate": "1960-01-01"}),
        entry("c1", {"resourceType": "Condition", "id": "c1", "subject": {"reference": "urn:uuid:p1"},
                     "code": {"coding": [{"system": "http://snomed.info/sct", "code": "254837009"}]}}),
        entry("m1", {"resourceType": "Medication", "id": "m1", "code": {"text": "zoledronic acid"}}),
        entry("r1", {"resourceType": "MedicationRequest", "id": "r1", "status": "active", "intent": "order",
                     "subject": {"reference": "urn:uuid:p1"}, "medicationReference": {"reference": "urn:uuid:m1"}}),
        entry("p2", {"resourceType": "Patient", "id": "b"}),
    ]}
    (tmp_path / "population.json").write_text(json.dumps(bundle), encoding="utf-8")
    cohort = load_cohort([tmp_path])
    assert [p.id for p in cohort.patients] == ["a", "b"] and cohort.as_of is None
    first = {f"{r['resourceType']}/{r['id']}": r for r in cohort.patients[0].resources}
    assert set(first) == {"Patient/a", "Condition/c1", "MedicationRequest/r1", "Medication/m1"}
    assert first["Condition/c1"]["subject"] == {"reference": "Patient/a"}
    assert first["MedicationRequest/r1"]["medicationReference"] == {"reference": "Medication/m1"}
    result = _run(str(tmp_path), "--as-of", "2026-06-01", "--draft", "BONE_SCAN_WB")
    assert result.exit_code == 0 and "simulated 2 patients" in result.stdout


def test_bad_input_is_refused_with_a_message(tmp_path: Path) -> None:
    (tmp_path / "empty.ndjson").write_text("", encoding="utf-8")
    assert _run(str(tmp_path)).exit_code == 2
    (tmp_path / "bad.ndjson").write_text('{"resourceType": "Patient", "id": "x"}\nnot json\n', encoding="utf-8")
    result = _run(str(tmp_path))
    assert result.exit_code == 2 and "bad.ndjson:2: not a JSON resource" in result.stderr
    result = _run(str(COHORT), "--draft", "NOT_A_CLASS")
    assert result.exit_code == 2 and "NOT_A_CLASS" in result.stderr


def test_the_shipped_cohort_is_what_its_generator_writes() -> None:
    assert cohort_generator(["--check"]) == 0
