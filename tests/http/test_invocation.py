"""POST /cds-services/{id}: request validation (400 naming the field), 404, 413, 415, and the happy path."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import ORDER_SELECT, ORDER_SIGN, PATIENT_VIEW, hook_request, load_example

SERVICE_FOR = {"patient-view": PATIENT_VIEW, "order-select": ORDER_SELECT, "order-sign": ORDER_SIGN}


def _post(client: FlaskClient, service: str, body: Any, **kw: Any) -> Any:
    return client.post(f"/cds-services/{service}", json=body, **kw)


def _expressions(response: Any) -> list[str]:
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    assert all(i["severity"] == "error" and i["code"] for i in body["issue"])
    return [e for issue in body["issue"] for e in issue.get("expression", [])]


@pytest.mark.parametrize("hook", ["patient-view", "order-select", "order-sign"])
def test_valid_request_gets_cards_array(client: FlaskClient, hook: str) -> None:
    response = _post(client, SERVICE_FOR[hook], hook_request(hook))
    assert response.status_code == 200
    body = response.get_json()
    assert body["cards"] == []
    if hook == "patient-view":
        assert body == {"cards": []}
    else:  # the bone scan draft is rated: breast cancer but no suspicion, so the scenario does not apply
        assert [a["type"] for a in body["systemActions"]] == ["update"]


def test_unknown_fields_are_ignored(client: FlaskClient) -> None:
    body = hook_request("order-select", somethingNew={"x": 1}, extension={"com.example.x": {"a": 1}})
    body["context"]["futureField"] = "ignored"
    assert _post(client, ORDER_SELECT, body).status_code == 200


def test_order_sign_may_carry_non_draft_orders(client: FlaskClient) -> None:
    body = hook_request("order-sign")
    body["context"]["draftOrders"]["entry"][0]["resource"]["status"] = "active"
    assert _post(client, ORDER_SIGN, body).status_code == 200


def _without(path: list[Any]) -> dict[str, Any]:
    body = hook_request("order-select")
    target = body
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return body


def _with(path: list[Any], value: Any, hook: str = "order-select") -> dict[str, Any]:
    body = hook_request(hook)
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return body


@pytest.mark.parametrize(
    ("body", "expression"),
    [
        (_without(["hook"]), "hook"),
        (_without(["hookInstance"]), "hookInstance"),
        (_without(["context"]), "context"),
        (_without(["context", "patientId"]), "context.patientId"),
        (_without(["context", "userId"]), "context.userId"),
        (_without(["context", "selections"]), "context.selections"),
        (_without(["context", "draftOrders"]), "context.draftOrders"),
        (_with(["hookInstance"], "not-a-uuid"), "hookInstance"),
        (_with(["hookInstance"], 12), "hookInstance"),
        (_with(["hook"], "patient-view"), "hook"),
        (_with(["context"], []), "context"),
        (_with(["context", "userId"], "dr-1"), "context.userId"),
        (_with(["context", "userId"], "Patient/1"), "context.userId"),
        (_with(["context", "patientId"], "has space"), "context.patientId"),
        (_with(["context", "selections"], []), "context.selections"),
        (_with(["context", "selections"], ["draft-1"]), "context.selections.0"),
        (_with(["context", "selections"], ["ServiceRequest/other"]), "context"),
        (_with(["context", "draftOrders"], {"resourceType": "Patient"}), "context.draftOrders.resourceType"),
        (_with(["context", "draftOrders"], {"resourceType": "Bundle", "entry": [{"x": 1}]}),
         "context.draftOrders.entry"),
        (_with(["context", "draftOrders"], "Bundle"), "context.draftOrders"),
        (_with(["fhirServer"], "ftp://ehr.example.org"), "fhirServer"),
        (_with(["fhirServer"], "https://user:pw@ehr.example.org/fhir"), "fhirServer"),
        (_with(["fhirAuthorization"], {"access_token": "t", "token_type": "Bearer", "expires_in": 300,
                                       "scope": "patient/*.read", "subject": "svc"}), "body"),
        (_with(["prefetch"], ["not", "an", "object"]), "prefetch"),
    ],
)
def test_malformed_request_gets_400_naming_the_field(client: FlaskClient, body: dict[str, Any],
                                                      expression: str) -> None:
    response = _post(client, ORDER_SELECT, body)
    assert response.status_code == 400
    expressions = _expressions(response)
    assert any(e == expression or e.startswith(expression) for e in expressions), expressions


def test_fhir_authorization_fields_are_checked(client: FlaskClient) -> None:
    auth = {"access_token": "secret-token-value", "token_type": "MAC", "expires_in": 300, "scope": "s",
            "subject": "svc"}
    response = _post(client, PATIENT_VIEW, hook_request(fhirServer="http://127.0.0.1:9/fhir",
                                                        fhirAuthorization=auth))
    assert response.status_code == 400
    assert "fhirAuthorization.token_type" in _expressions(response)
    assert "secret-token-value" not in response.get_data(as_text=True)
    auth = {"access_token": "x", "token_type": "Bearer"}
    response = _post(client, PATIENT_VIEW, hook_request(fhirServer="http://127.0.0.1:9/fhir",
                                                        fhirAuthorization=auth))
    assert {"fhirAuthorization.expires_in", "fhirAuthorization.scope", "fhirAuthorization.subject"} <= set(
        _expressions(response))


def test_error_bodies_never_echo_input_values(client: FlaskClient) -> None:
    body = hook_request()
    body["context"]["patientId"] = "SECRET PATIENT 123"
    response = _post(client, PATIENT_VIEW, body)
    assert response.status_code == 400
    assert "SECRET PATIENT" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"[1, 2]", b"null", b"\"text\"", b"{\"hook\": NaN}", b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000],
)
def test_unparseable_bodies_get_400(client: FlaskClient, raw: bytes) -> None:
    response = client.post(f"/cds-services/{PATIENT_VIEW}", data=raw, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_wrong_content_type_gets_415(client: FlaskClient, content_type: str) -> None:
    response = client.post(f"/cds-services/{PATIENT_VIEW}", data=json.dumps(hook_request()),
                           content_type=content_type)
    assert response.status_code == 415
    assert response.get_json()["issue"][0]["code"] == "not-supported"


def test_fhir_json_content_type_is_accepted(client: FlaskClient) -> None:
    response = client.post(f"/cds-services/{PATIENT_VIEW}", data=json.dumps(hook_request()),
                           content_type="application/fhir+json; charset=utf-8")
    assert response.status_code == 200


def test_oversized_body_gets_413(tmp_path: Any) -> None:
    from cdshooks import create_app
    from cdshooks.settings import Settings

    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/s.db", max_body_bytes=2000,
                              allow_unauthenticated=True))
    try:
        body = hook_request()
        body["prefetch"]["conditions"]["entry"].append({"resource": {"resourceType": "Condition", "note": [
            {"text": "x" * 5000}]}})
        response = app.test_client().post(f"/cds-services/{PATIENT_VIEW}", json=body)
        assert response.status_code == 413
        assert response.get_json()["issue"][0]["code"] == "too-costly"
    finally:
        app.extensions["cdshooks"].close()


def test_unknown_service_gets_404(client: FlaskClient) -> None:
    response = _post(client, "no-such-service", hook_request())
    assert response.status_code == 404
    assert response.get_json()["issue"][0]["code"] == "not-found"


def test_get_on_a_service_gets_405_outcome(client: FlaskClient) -> None:
    response = client.get(f"/cds-services/{PATIENT_VIEW}")
    assert response.status_code == 405
    assert response.get_json()["resourceType"] == "OperationOutcome"


def test_spec_example_request_is_understood(client: FlaskClient) -> None:
    """The spec's patient-view example: valid, but its prefetch keys are not ours and its fhirServer is
    not allowlisted, so the data we need cannot be had: 412 with an OperationOutcome."""
    response = _post(client, PATIENT_VIEW, load_example("02-request.json"))
    assert response.status_code == 412
    assert set(_expressions(response)) == {"prefetch.patient", "prefetch.conditions"}


def test_spec_example_order_select_context(client: FlaskClient) -> None:
    example = load_example("05-other.json")["context"]
    body = hook_request("order-select")
    body["context"]["draftOrders"] = copy.deepcopy(example["draftOrders"])
    body["context"]["selections"] = ["MedicationRequest/123"]
    body["context"]["encounterId"] = example["encounterId"]
    response = _post(client, ORDER_SELECT, body)
    assert response.status_code == 200, response.get_json()


def test_cards_are_checked_ordered_capped_and_recorded(app: Any, client: FlaskClient,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Findings become cards through the runtime's renderer; a card that breaks the spec is dropped,
    the rest are ordered by indicator, one per topic, capped, and every card sent is recorded."""
    from sqlalchemy import select

    from cdshooks.clinical import engine
    from cdshooks.clinical.findings import Evaluation, Finding
    from cdshooks.protocol.response import Card, Coding, Source
    from cdshooks.store.tables import issued_cards

    topics = ["t-info", "t-warn", "t-bad", "t-warn", "t-crit", "t-a", "t-b", "t-c"]
    monkeypatch.setattr(engine, "evaluate", lambda hook, record, now, kb: Evaluation(
        findings=tuple(Finding(t) for t in topics)))
    indicator = {"t-warn": "warning", "t-crit": "critical"}

    def render(finding: Any, patient: Any, consult: Any = None, class_ratings: Any = None) -> Card:
        summary = "x" * 200 if finding.topic == "t-bad" else f"About {finding.topic}"
        return Card(summary=summary, indicator=indicator.get(finding.topic, "info"),  # type: ignore[arg-type]
                    source=Source("Test", topic=Coding("https://x.org/topics", finding.topic)))

    app.extensions["cdshooks"].render = render
    body = client.post(f"/cds-services/{PATIENT_VIEW}", json=hook_request()).get_json()
    sent = [c["source"]["topic"]["code"] for c in body["cards"]]
    assert sent == ["t-crit", "t-warn", "t-info", "t-a", "t-b"]  # max_cards = 5, t-bad dropped, t-warn once
    store = app.extensions["cdshooks"].store
    assert store.flush()
    with store.engine.connect() as conn:
        rows = {r.card_uuid: r for r in conn.execute(select(issued_cards))}
    assert set(rows) == {c["uuid"] for c in body["cards"]}
    row = rows[body["cards"][0]["uuid"]]
    assert (row.service_id, row.hook, row.topic, row.indicator) == (PATIENT_VIEW, "patient-view", "t-crit",
                                                                   "critical")
    assert row.patient_key and row.patient_key != "bc-1"
