"""Prefetch exactly as the spec says, with the EHR's FHIR server mocked by `responses`."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from flask import Flask
from flask.testing import FlaskClient

from cdshooks import create_app
from cdshooks.fhir.record import Record
from cdshooks.settings import Settings
from tests.conftest import NOW, PATIENT_VIEW, bundle, hook_request

EHR = "https://ehr.example.org/fhir"
TOKEN = "opaque-access-token-7f3a"
AUTH = {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 300, "scope": "patient/*.read",
        "subject": "bone-mets-cds", "patient": "bc-1"}


@pytest.fixture
def ehr_app(tmp_path: Path) -> Iterator[Flask]:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/p.db", fhir_allowlist=(EHR,), fhir_budget=2.0,
                        fhir_timeout=0.5, fhir_max_pages=3, allow_unauthenticated=True)
    app = create_app(settings, clock=lambda: NOW)
    yield app
    app.extensions["cdshooks"].close()


def _serve_everything(rsps: responses.RequestsMock) -> None:
    """The EHR: the patient, one condition, and an empty searchset for every other query."""
    rsps.get(f"{EHR}/Patient/bc-1", json={"resourceType": "Patient", "id": "bc-1"})
    rsps.get(re.compile(re.escape(EHR) + r"/Condition\?.*"), json=bundle(
        {"resourceType": "Condition", "id": "from-ehr"}))
    rsps.get(re.compile(re.escape(EHR) + r"/\w+\?.*"), json=bundle())


def _call(app: Flask, **overrides: Any) -> Any:
    body = hook_request(fhirServer=EHR, fhirAuthorization=AUTH, **overrides)
    return app.test_client().post(f"/cds-services/{PATIENT_VIEW}", json=body)


def _prefetch_without(*keys: str) -> dict[str, Any]:
    prefetch = hook_request()["prefetch"]
    for key in keys:
        prefetch.pop(key)
    return prefetch


@responses.activate
def test_absent_keys_are_fetched_with_the_bearer_token(ehr_app: Flask, captured: list[Record]) -> None:
    _serve_everything(responses.mock)
    response = _call(ehr_app, prefetch=_prefetch_without("conditions", "labs"))
    assert response.status_code == 200
    urls = [c.request.url for c in responses.calls]
    assert len(urls) == 2
    assert any("/Condition?patient=bc-1" in u for u in urls)
    assert any("/Observation?patient=bc-1" in u and "6768-6" in u for u in urls)
    assert all(c.request.headers["Authorization"] == f"Bearer {TOKEN}" for c in responses.calls)
    assert all(c.request.headers["Accept"] == "application/fhir+json" for c in responses.calls)
    assert [c["id"] for c in captured[0].of("Condition")] == ["from-ehr"]


@responses.activate
def test_no_prefetch_at_all_fetches_every_key(ehr_app: Flask, captured: list[Record]) -> None:
    _serve_everything(responses.mock)
    response = _call(ehr_app, prefetch=None)
    assert response.status_code == 200
    from cdshooks.fhir.prefetch import PREFETCH

    assert len(responses.calls) == len(PREFETCH)
    assert captured[0].of("Patient")[0]["id"] == "bc-1"


@responses.activate
def test_null_means_no_data_and_is_not_fetched(ehr_app: Flask, captured: list[Record]) -> None:
    _serve_everything(responses.mock)
    prefetch = hook_request()["prefetch"]
    prefetch["labs"] = None
    prefetch["procedures"] = None
    assert _call(ehr_app, prefetch=prefetch).status_code == 200
    assert len(responses.calls) == 0


@responses.activate
def test_operation_outcome_is_treated_as_missing(ehr_app: Flask, captured: list[Record]) -> None:
    _serve_everything(responses.mock)
    prefetch = hook_request()["prefetch"]
    prefetch["conditions"] = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]}
    prefetch["labs"] = "garbage"
    assert _call(ehr_app, prefetch=prefetch).status_code == 200
    assert sorted(c.request.url.split("?")[0].rsplit("/", 1)[1] for c in responses.calls) == [
        "Condition", "Observation"]
    assert [c["id"] for c in captured[0].of("Condition")] == ["from-ehr"]


def _page(ids: list[str], next_url: str | None) -> dict[str, Any]:
    page = bundle(*({"resourceType": "Observation", "id": i} for i in ids))
    if next_url:
        page["link"] = [{"relation": "next", "url": next_url}]
    return page


@responses.activate
def test_paginated_prefetch_follows_next_rebased_onto_fhir_server(ehr_app: Flask, captured: list[Record]) -> None:
    # the server advertises another host in its links (as servers behind proxies do): re-based, token kept on EHR
    responses.get(f"{EHR}/Observation?page=2", json=_page(["o3", "o4"], "http://internal:8090/fhir/Observation?page=3"))
    responses.get(f"{EHR}/Observation?page=3", json=_page(["o5"], None))
    prefetch = hook_request()["prefetch"]
    prefetch["labs"] = _page(["o1", "o2"], "https://proxy.internal/fhir/Observation?page=2")
    assert _call(ehr_app, prefetch=prefetch).status_code == 200
    assert [o["id"] for o in captured[0].of("Observation")] == ["o1", "o2", "o3", "o4", "o5"]
    assert all(c.request.url.startswith(EHR) for c in responses.calls)


@responses.activate
def test_page_cap_bounds_paging(ehr_app: Flask, captured: list[Record]) -> None:
    for n in range(2, 10):
        responses.get(f"{EHR}/Observation?page={n}", json=_page([f"o{n}"], f"{EHR}/Observation?page={n + 1}"))
    prefetch = hook_request()["prefetch"]
    prefetch["labs"] = _page(["o1"], f"{EHR}/Observation?page=2")
    assert _call(ehr_app, prefetch=prefetch).status_code == 200
    assert len(responses.calls) == 2  # max 3 pages: the prefetched one and two more
    assert [o["id"] for o in captured[0].of("Observation")] == ["o1", "o2", "o3"]


@responses.activate
def test_next_link_to_a_foreign_path_is_not_followed(ehr_app: Flask, captured: list[Record]) -> None:
    prefetch = hook_request()["prefetch"]
    prefetch["labs"] = _page(["o1"], "https://attacker.example.com/steal?x=1")
    assert _call(ehr_app, prefetch=prefetch).status_code == 200
    assert len(responses.calls) == 0


@responses.activate
def test_redirects_are_not_followed(ehr_app: Flask, captured: list[Record]) -> None:
    responses.get(f"{EHR}/Patient/bc-1", status=302, headers={"Location": "https://elsewhere.example.com/p"})
    _serve_everything(responses.mock)
    response = _call(ehr_app, prefetch=_prefetch_without("patient"))
    assert response.status_code == 412
    assert all("elsewhere" not in c.request.url for c in responses.calls)


@responses.activate
def test_required_key_refused_by_server_gives_412(ehr_app: Flask) -> None:
    responses.get(re.compile(re.escape(EHR) + r"/Condition\?.*"), status=401)
    response = _call(ehr_app, prefetch=_prefetch_without("conditions"))
    assert response.status_code == 412
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == "incomplete"
    assert body["issue"][0]["expression"] == ["prefetch.conditions"]


@responses.activate
def test_optional_key_failure_still_answers(ehr_app: Flask, captured: list[Record]) -> None:
    responses.get(re.compile(re.escape(EHR) + r"/Procedure\?.*"), status=500)
    responses.get(re.compile(re.escape(EHR) + r"/ImagingStudy\?.*"), body="<html>oops</html>")
    assert _call(ehr_app, prefetch=_prefetch_without("procedures", "imagingStudies")).status_code == 200


@responses.activate
def test_slow_server_is_cut_off_by_the_budget(tmp_path: Path, captured: list[Record]) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/b.db", fhir_allowlist=(EHR,), fhir_budget=0.3,
                        fhir_timeout=0.2, allow_unauthenticated=True)
    app = create_app(settings, clock=lambda: NOW)
    try:
        responses.get(re.compile(re.escape(EHR) + r"/Procedure\?.*"),
                      body=requests.exceptions.ReadTimeout("slow"))
        response = _call(app, prefetch=_prefetch_without("procedures"))
        assert response.status_code == 200
        assert captured[0].of("Procedure") == ()
    finally:
        app.extensions["cdshooks"].close()


def test_missing_required_key_without_fhir_server_gives_412(client: FlaskClient) -> None:
    body = hook_request(prefetch=_prefetch_without("patient"))
    response = client.post(f"/cds-services/{PATIENT_VIEW}", json=body)
    assert response.status_code == 412
    assert response.get_json()["issue"][0]["expression"] == ["prefetch.patient"]


def test_missing_optional_key_without_fhir_server_still_answers(client: FlaskClient) -> None:
    body = hook_request(prefetch=_prefetch_without("labs", "procedures"))
    assert client.post(f"/cds-services/{PATIENT_VIEW}", json=body).status_code == 200


@responses.activate
def test_fhir_server_outside_allowlist_is_never_contacted(ehr_app: Flask) -> None:
    body = hook_request(fhirServer="https://evil.example.net/fhir", fhirAuthorization=AUTH,
                        prefetch=_prefetch_without("conditions"))
    response = ehr_app.test_client().post(f"/cds-services/{PATIENT_VIEW}", json=body)
    assert response.status_code == 412
    assert "allowlist" in response.get_json()["issue"][0]["diagnostics"]
    assert len(responses.calls) == 0


@responses.activate
def test_fhir_server_without_authorization_is_called_without_token(ehr_app: Flask, captured: list[Record]) -> None:
    _serve_everything(responses.mock)
    body = hook_request(fhirServer=EHR, prefetch=_prefetch_without("conditions"))
    assert ehr_app.test_client().post(f"/cds-services/{PATIENT_VIEW}", json=body).status_code == 200
    assert "Authorization" not in responses.calls[0].request.headers


@responses.activate
def test_token_and_patient_id_never_logged(ehr_app: Flask, captured: list[Record],
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    responses.get(re.compile(re.escape(EHR) + r"/Condition\?.*"), status=401)
    _call(ehr_app, prefetch=_prefetch_without("conditions"))
    _serve_everything(responses.mock)
    _call(ehr_app, prefetch=_prefetch_without("labs"))
    from cdshooks.logs import JsonFormatter

    text = "\n".join(JsonFormatter().format(r) for r in caplog.records) + caplog.text
    assert "hook call" in text
    assert TOKEN not in text
    assert "bc-1" not in text


def test_unresolvable_token_skips_the_key(tmp_path: Path, captured: list[Record]) -> None:
    from cdshooks.fhir.prefetch import render, token_values

    values = token_values({"patientId": "p1", "userId": "PractitionerRole/r9", "draftOrders": {}})
    assert render("Patient/{{context.patientId}}", values) == "Patient/p1"
    assert render("PractitionerRole/{{userPractitionerRoleId}}", values) == "PractitionerRole/r9"
    assert render("Encounter/{{context.encounterId}}", values) is None
    assert render("Practitioner/{{userPractitionerId}}", values) is None
    assert render("X?y={{context.draftOrders}}", values) is None
