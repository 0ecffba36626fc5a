"""The analytics surfaces: GET /analytics (authenticated like every endpoint), `cdshooks report`,
`cdshooks db upgrade|current`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from cdshooks import create_app
from cdshooks.cli import main
from cdshooks.settings import Settings
from cdshooks.store.store import IssuedCard
from tests.conftest import NOW, load_example


def _issue(app: Flask) -> None:
    store = app.extensions["cdshooks"].store
    store.record_cards([IssuedCard("4e0a3a1e-3283-4575-ab82-028d55fe2719", "svc", "patient-view", "hi",
                                   "bone-scan-flare", "info", ("e56e1945-20b3-4393-8503-a1a20fd73152",), "pk",
                                   datetime(2021, 12, 11, 10, tzinfo=UTC))])
    assert store.flush()


def test_analytics_endpoint_reports_per_topic(app: Flask, client: FlaskClient) -> None:
    _issue(app)
    client.post("/cds-services/bone-mets-imaging-patient-view/feedback", json=load_example("19-feedback.json"))
    body = client.get("/analytics").get_json()
    assert body["cards_shown"] == 1 and body["feedback_items"] == 1
    assert body["topics"][0] == {
        "shown": 1, "with_suggestions": 1, "accepted": 1, "overridden": 0, "unanswered": 0, "acceptance_rate": 1.0,
        "override_rate": 0.0, "override_reasons": {}, "median_seconds_to_feedback": 331.0, "fatigue_risk": False,
        "topic": "bone-scan-flare"}
    assert body["weeks"] == {"bone-scan-flare": [{"week": "2021-12-06", "shown": 1, "accepted": 1, "overridden": 0}]}
    assert body["trend_topics"] == [] and body["trend_rule"] == {"min_weeks": 4, "min_cards_per_week": 10}
    assert client.get("/analytics?since=2022-01-01").get_json()["cards_shown"] == 0


def test_analytics_page_in_html_for_a_browser(app: Flask, client: FlaskClient) -> None:
    _issue(app)
    for response in (client.get("/analytics?format=html"),
                     client.get("/analytics", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})):
        assert response.status_code == 200 and response.mimetype == "text/html"
        assert "<h1>CDS card analytics</h1>" in response.get_data(as_text=True)
        assert response.headers["Cache-Control"] == "no-store"
    assert client.get("/analytics", headers={"Accept": "*/*"}).mimetype == "application/json"
    assert client.get("/analytics?format=xml").status_code == 400


def test_analytics_rejects_a_bad_since(client: FlaskClient) -> None:
    response = client.get("/analytics?since=yesterday")
    assert response.status_code == 400
    assert response.get_json()["issue"][0]["expression"] == ["since"]


def test_analytics_requires_authentication(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec
    from jwt.algorithms import ECAlgorithm

    jwk = ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP384R1()).public_key(), as_dict=True)
    (tmp_path / "k.json").write_text(json.dumps({"keys": [jwk | {"kid": "k1", "alg": "ES384"}]}))
    clients = tmp_path / "clients.yaml"
    clients.write_text("clients:\n  - issuer: https://ehr.example.org\n    jwks_file: k.json\n")
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/a.db", clients_file=str(clients)), clock=lambda: NOW)
    try:
        assert app.test_client().get("/analytics").status_code == 401
    finally:
        app.extensions["cdshooks"].close()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("CDSHOOKS_DATABASE_URL", url)
    return url


def test_db_commands(database: str) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["db", "current"]).exit_code == 1  # empty database: behind
    upgraded = runner.invoke(main, ["db", "upgrade"])
    assert upgraded.exit_code == 0 and "empty -> 0003" in upgraded.output
    current = runner.invoke(main, ["db", "current"])
    assert current.exit_code == 0 and "database 0003, service needs 0003" in current.output


def test_report_command_text_json_and_html(database: str, tmp_path: Path) -> None:
    app = create_app(Settings(database_url=database, allow_unauthenticated=True), clock=lambda: NOW)
    _issue(app)
    app.extensions["cdshooks"].close()
    runner = CliRunner()
    text = runner.invoke(main, ["report"])
    assert text.exit_code == 0 and "bone-scan-flare" in text.output and "cards shown 1" in text.output
    as_json = runner.invoke(main, ["report", "--json", "--since", "2021-01-01"])
    assert json.loads(as_json.output)["topics"][0]["shown"] == 1
    page = tmp_path / "report.html"
    assert runner.invoke(main, ["report", "--html", str(page)]).exit_code == 0
    assert "bone-scan-flare" in page.read_text()
    assert runner.invoke(main, ["report", "--since", "soon"]).exit_code == 2
