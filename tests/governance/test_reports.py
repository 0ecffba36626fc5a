"""The report split by knowledge version, and per ordering clinician and per site (counts, rates, chart, CSV)."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask

from cdshooks.analytics.html import write_html
from cdshooks.analytics.report import build_report, format_text
from cdshooks.cli import main
from cdshooks.replay import load_fixture
from tests.governance.conftest import NO_BMA, NOT_APPROPRIATE, AppFactory, call, card_rows, rating_rows
from tests.security.conftest import (  # noqa: F401 - fixtures of the authenticated app
    TENANT_ISS,
    Signer,
    clients_file,
    keys,
    make_app,
    signer,
)

AS_OF = load_fixture(NOT_APPROPRIATE).as_of


def _accept(app: Flask, card_uuid: str) -> None:
    body = {"feedback": [{"card": card_uuid, "outcome": "accepted", "acceptedSuggestions": [{"id": "s-1"}],
                          "outcomeTimestamp": (AS_OF + timedelta(minutes=2)).isoformat()}]}
    assert app.test_client().post("/cds-services/bone-mets-imaging-patient-view/feedback", json=body).status_code == 200


def test_the_report_is_split_by_knowledge_version(gov_app: AppFactory, tmp_path: Path) -> None:
    before = gov_app()
    _accept(before, call(before, NO_BMA)["cards"][0]["uuid"])
    call(before, NOT_APPROPRIATE)
    site = tmp_path / "site"
    site.mkdir()
    (site / "VERSION").write_text("1.1.0\n", encoding="utf-8")
    after = gov_app(knowledge_dir=str(site))
    call(after, NO_BMA)
    card_rows(before), card_rows(after)  # written
    versions = {v.version: v for v in build_report(before.extensions["cdshooks"].store.engine).by_version}
    assert set(versions) == {"1.0.0", "1.1.0"}
    assert (versions["1.0.0"].shown, versions["1.0.0"].accepted, versions["1.1.0"].shown) == (2, 1, 1)
    assert versions["1.0.0"].ratings == {"not-appropriate": 1} and versions["1.1.0"].ratings == {}
    no_bma = next(t for t in versions["1.0.0"].topics if t.topic == "bone-mets-no-bma")
    assert no_bma.acceptance_rate == 1.0
    assert "knowledge version" in format_text(build_report(before.extensions["cdshooks"].store.engine))


def test_orderers_are_kept_as_keyed_hashes_unless_plain_ids_are_allowed(gov_app: AppFactory) -> None:
    hashed = gov_app()
    call(hashed, NOT_APPROPRIATE, userId="Practitioner/dr-ana")
    assert {r.user_key for r in card_rows(hashed) + rating_rows(hashed)} == {
        hashed.extensions["cdshooks"].store.user_key("Practitioner/dr-ana")}
    assert "dr-ana" not in str(card_rows(hashed))
    plain = gov_app(store_user_ids=True)
    call(plain, NOT_APPROPRIATE, userId="Practitioner/dr-bo")
    assert "Practitioner/dr-bo" in {r.user_key for r in rating_rows(plain)}


def test_per_orderer_counts_rates_chart_and_csv(gov_app: AppFactory, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    app = gov_app(store_user_ids=True)
    for user in ("Practitioner/dr-ana", "Practitioner/dr-ana", "Practitioner/dr-bo"):
        call(app, NOT_APPROPRIATE, userId=user)
    call(app, NO_BMA, userId="Practitioner/dr-bo")
    card_rows(app)
    report = build_report(app.extensions["cdshooks"].store.engine)
    people = {g.key: g for g in report.by_orderer.orderers}
    ana, bo = people["Practitioner/dr-ana"], people["Practitioner/dr-bo"]
    assert (ana.ratings, ana.not_appropriate, ana.not_appropriate_rate, ana.cards_shown) == (2, 2, 1.0, 2)
    assert (bo.ratings, bo.cards_shown) == (1, 2)
    sites = report.by_orderer.sites
    assert len(sites) == 1 and sites[0].ratings == 3 and "development mode" in sites[0].key
    page = tmp_path / "report.html"
    write_html(report, page)
    text = page.read_text(encoding="utf-8")
    assert "Ratings of drafted orders by orderer" in text and "<svg" in text and "Practitioner/dr-ana" in text
    monkeypatch.setenv("CDSHOOKS_DATABASE_URL", app.extensions["cdshooks"].settings.database_url)
    export = tmp_path / "by-orderer.csv"
    result = CliRunner().invoke(main, ["report", "--csv", str(export)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(export.open(encoding="utf-8")))
    ana_row = next(r for r in rows if r["view"] == "orderer" and r["key"] == "Practitioner/dr-ana")
    assert (ana_row["ratings"], ana_row["not_appropriate"], ana_row["not_appropriate_rate"]) == ("2", "2", "1.0")
    assert any(r["view"] == "site" for r in rows)


def test_sites_are_the_authenticated_client_and_tenant(make_app: AppFactory, signer: Signer) -> None:  # noqa: F811
    app = make_app()  # clock: NOW, the fixtures' asOf
    fixture = load_fixture(NOT_APPROPRIATE)
    path = f"/cds-services/{fixture.service_id}"
    response = app.test_client().post(path, json=fixture.request,
                                      headers=signer.bearer(path, iss=TENANT_ISS, tenant="org-2"))
    assert response.status_code == 200, response.get_data(as_text=True)
    rows = rating_rows(app) + card_rows(app)
    assert rows and {(r.client_id, r.tenant) for r in rows} == {(TENANT_ISS, "org-2")}
    sites = build_report(app.extensions["cdshooks"].store.engine).by_orderer.sites
    assert [s.key for s in sites] == [f"{TENANT_ISS} [org-2]"]
