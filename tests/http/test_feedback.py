"""POST /cds-services/{id}/feedback: spec shapes accepted, stored once, unknown cards kept and flagged."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from cdshooks.store.store import IssuedCard
from cdshooks.store.tables import feedback
from tests.conftest import NOW, PATIENT_VIEW, load_example

URL = f"/cds-services/{PATIENT_VIEW}/feedback"


def _rows(app: Flask) -> list[Any]:
    with app.extensions["cdshooks"].store.engine.connect() as conn:
        return list(conn.execute(select(feedback).order_by(feedback.c.id)))


@pytest.mark.parametrize("example", ["19-feedback.json", "20-feedback.json", "21-feedback.json"])
def test_spec_examples_are_accepted(client: FlaskClient, app: Flask, example: str) -> None:
    response = client.post(URL, json=load_example(example))
    assert response.status_code == 200
    assert response.get_json()["stored"] == 1
    assert len(_rows(app)) == 1


def test_sandbox_style_reason_without_display_is_stored(client: FlaskClient, app: Flask) -> None:
    response = client.post(URL, json=load_example("21-feedback.json"))
    assert response.status_code == 200
    row = _rows(app)[0]
    assert (row.outcome, row.override_code, row.override_display) == ("overridden", "d7ecf885", None)
    assert row.user_comment == "[comment withheld: 35 characters]"  # free text may name a patient


def test_user_comment_is_stored_verbatim_only_when_allowed(tmp_path: Any) -> None:
    from cdshooks import create_app
    from cdshooks.settings import Settings
    from tests.conftest import NOW

    allowed = create_app(Settings(database_url=f"sqlite:///{tmp_path}/c.db", allow_unauthenticated=True,
                                  store_user_comments=True), clock=lambda: NOW)
    try:
        assert allowed.test_client().post(URL, json=load_example("21-feedback.json")).status_code == 200
        assert _rows(allowed)[0].user_comment == "A comment entered by the clinician."
    finally:
        allowed.extensions["cdshooks"].close()


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_timestamps_without_a_utc_instant_are_a_400(client: FlaskClient, moment: str) -> None:
    body = load_example("19-feedback.json")
    body["feedback"][0]["outcomeTimestamp"] = moment
    response = client.post(URL, json=body)
    assert response.status_code == 400
    assert response.get_json()["resourceType"] == "OperationOutcome"


def test_same_item_twice_is_stored_once(client: FlaskClient, app: Flask) -> None:
    body = load_example("19-feedback.json")
    first = client.post(URL, json=body).get_json()
    second = client.post(URL, json=body).get_json()
    assert (first["stored"], second["stored"], second["duplicates"]) == (1, 0, 1)
    doubled = {"feedback": body["feedback"] * 2}
    assert client.post(URL, json=doubled).get_json() == {"received": 2, "stored": 0, "duplicates": 2,
                                                          "unknownCards": 2}
    assert len(_rows(app)) == 1


def test_unknown_card_is_kept_and_flagged_known_card_joined(client: FlaskClient, app: Flask) -> None:
    store = app.extensions["cdshooks"].store
    store.record_cards([IssuedCard("4e0a3a1e-3283-4575-ab82-028d55fe2719", PATIENT_VIEW, "patient-view",
                                   "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea", "bone-scan-flare", "info",
                                   ("e56e1945-20b3-4393-8503-a1a20fd73152",), store.patient_key("bc-1"), NOW)])
    assert store.flush()
    known = client.post(URL, json=load_example("19-feedback.json")).get_json()
    unknown = client.post(URL, json=load_example("20-feedback.json")).get_json()
    assert (known["unknownCards"], unknown["unknownCards"]) == (0, 1)
    assert [r.known_card for r in _rows(app)] == [True, False]


def _item(**changes: Any) -> dict[str, Any]:
    item = copy.deepcopy(load_example("21-feedback.json")["feedback"][0])
    for key, value in changes.items():
        if value is KeyError:
            item.pop(key)
        else:
            item[key] = value
    return {"feedback": [item]}


@pytest.mark.parametrize(
    ("body", "expression"),
    [
        ({}, "feedback"),
        ({"feedback": []}, "feedback"),
        ({"feedback": "x"}, "feedback"),
        (_item(card=KeyError), "feedback.0.card"),
        (_item(outcome="ignored"), "feedback.0.outcome"),
        (_item(outcomeTimestamp=KeyError), "feedback.0.outcomeTimestamp"),
        (_item(outcomeTimestamp="2020-12-11"), "feedback.0.outcomeTimestamp"),
        (_item(outcomeTimestamp="2020-12-11T00:00:00"), "feedback.0.outcomeTimestamp"),
        (_item(outcomeTimestamp="yesterday"), "feedback.0.outcomeTimestamp"),
        (_item(outcome="accepted"), "feedback.0"),
        (_item(overrideReason={}), "feedback.0.overrideReason"),
        (_item(overrideReason={"reason": {"code": "x"}}), "feedback.0.overrideReason.reason.system"),
        (_item(acceptedSuggestions=[{"id": "s"}]), "feedback.0"),
    ],
)
def test_invalid_feedback_gets_400_naming_the_field(client: FlaskClient, body: dict[str, Any],
                                                    expression: str) -> None:
    response = client.post(URL, json=body)
    assert response.status_code == 400
    issues = response.get_json()["issue"]
    assert any(e.startswith(expression) for i in issues for e in i.get("expression", [])), issues


def test_feedback_for_unknown_service_gets_404(client: FlaskClient) -> None:
    assert client.post("/cds-services/nope/feedback", json=load_example("19-feedback.json")).status_code == 404


def test_feedback_with_store_down_gets_503(client: FlaskClient, app: Flask) -> None:
    app.extensions["cdshooks"].store.engine.dispose()
    from sqlalchemy import create_engine

    app.extensions["cdshooks"].store.engine = create_engine("sqlite:////nonexistent-dir/x.db")
    response = client.post(URL, json=load_example("19-feedback.json"))
    assert response.status_code == 503
    assert response.get_json()["issue"][0]["code"] == "transient"
