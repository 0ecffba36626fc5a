"""SSRF guard: an authenticated client's fhirServer is called only when registered for that client."""

from __future__ import annotations

import re
from typing import Any

import pytest
import responses
from flask import Flask

from cdshooks.fhir.allowlist import FhirServerPolicy
from tests.conftest import PATIENT_VIEW, bundle, hook_request
from tests.security.conftest import DEV_FHIR, DEV_ISS, EHR_FHIR, ISS, TENANT_ISS, Signer

SERVICE_PATH = f"/cds-services/{PATIENT_VIEW}"
TOKEN = "opaque-access-token-policy"


def _without_patient_and_conditions(fhir_server: str) -> dict[str, Any]:
    body = hook_request(fhirServer=fhir_server, fhirAuthorization={
        "access_token": TOKEN, "token_type": "Bearer", "expires_in": 300, "scope": "patient/*.read",
        "subject": "bone-mets-cds"})
    body["prefetch"].pop("patient")
    body["prefetch"].pop("conditions")
    return body


def _call(app: Flask, signer: Signer, fhir_server: str, iss: str = ISS) -> Any:
    return app.test_client().post(SERVICE_PATH, json=_without_patient_and_conditions(fhir_server),
                                  headers=signer.bearer(SERVICE_PATH, iss=iss))


def _serve(rsps: responses.RequestsMock, base: str) -> None:
    rsps.get(f"{base}/Patient/bc-1", json={"resourceType": "Patient", "id": "bc-1"})
    rsps.get(re.compile(re.escape(base) + r"/\w+\?.*"), json=bundle())


@pytest.mark.parametrize("fhir_server", [
    "https://evil.example.net/fhir",
    "https://ehr.example.org/fhir-evil",  # prefix boundary
    "https://ehr.example.org/other",
    "https://ehr.example.org:8443/fhir",  # another port
    "https://127.0.0.1/fhir",  # loopback is not special for an authenticated client
])
def test_fhir_server_not_allowlisted_is_never_fetched(auth_app: Flask, signer: Signer, fhir_server: str) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(re.compile(r".*"), json={"resourceType": "Patient", "id": "bc-1"})
        response = _call(auth_app, signer, fhir_server)
        assert len(rsps.calls) == 0
    assert response.status_code == 412
    diagnostics = " ".join(i["diagnostics"] for i in response.get_json()["issue"])
    assert "not registered for this client" in diagnostics


def test_client_without_fhir_servers_gets_no_fetch(auth_app: Flask, signer: Signer) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(re.compile(r".*"), json={"resourceType": "Patient", "id": "bc-1"})
        response = _call(auth_app, signer, EHR_FHIR, iss=TENANT_ISS)  # registered for another client only
        assert len(rsps.calls) == 0
    assert response.status_code in {401, 412}


def test_http_fhir_server_without_allow_http_fhir_is_never_fetched(auth_app: Flask, signer: Signer) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(re.compile(r".*"), json={"resourceType": "Patient", "id": "bc-1"})
        response = _call(auth_app, signer, "http://ehr.example.org/fhir")
        assert len(rsps.calls) == 0
    assert response.status_code == 412
    assert "not https" in response.get_json()["issue"][0]["diagnostics"]


def test_registered_fhir_server_is_fetched_with_the_token(auth_app: Flask, signer: Signer) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        _serve(rsps, EHR_FHIR)
        response = _call(auth_app, signer, EHR_FHIR + "/")
        assert response.status_code == 200, response.get_json()
        assert rsps.calls and all(c.request.url.startswith(EHR_FHIR) for c in rsps.calls)
        assert all(c.request.headers["Authorization"] == f"Bearer {TOKEN}" for c in rsps.calls)


def test_http_fhir_server_when_the_client_allows_it(auth_app: Flask, signer: Signer) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        _serve(rsps, DEV_FHIR)
        response = _call(auth_app, signer, DEV_FHIR, iss=DEV_ISS)
        assert response.status_code == 200, response.get_json()
        assert rsps.calls


def test_fhir_allowlist_setting_does_not_widen_a_client(make_app: Any, signer: Signer) -> None:
    app = make_app(fhir_allowlist=("*",))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(re.compile(r".*"), json={"resourceType": "Patient", "id": "bc-1"})
        response = _call(app, signer, "https://evil.example.net/fhir")
        assert len(rsps.calls) == 0
    assert response.status_code == 412


def test_redirects_are_not_followed(auth_app: Flask, signer: Signer) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(f"{EHR_FHIR}/Patient/bc-1", status=302, headers={"Location": "https://evil.example.net/steal"})
        rsps.get(re.compile(re.escape(EHR_FHIR) + r"/\w+\?.*"), status=302,
                 headers={"Location": "https://evil.example.net/steal"})
        evil = rsps.get(re.compile(r"https://evil\.example\.net/.*"), json={})
        response = _call(auth_app, signer, EHR_FHIR)
        assert evil.call_count == 0
    assert response.status_code == 412


def test_policy_refusal_reasons() -> None:
    policy = FhirServerPolicy.of(["https://ehr.example.org/fhir"], https_only=True)
    assert policy.refusal("https://ehr.example.org/fhir/r4") is None
    assert policy.refusal("http://ehr.example.org/fhir") == "not https (this client does not allow plain http)"
    assert policy.refusal("https://ehr.example.org/fhirx") == "not on the allowlist"
    assert policy.refusal("ftp://ehr.example.org/fhir") == "not an http(s) URL"
    assert policy.refusal("https://user:pw@ehr.example.org/fhir") == "not an http(s) URL"
    assert policy.allows("https://EHR.example.org:443/fhir/")  # normalized: case, default port, trailing slash
    assert FhirServerPolicy.of(["loopback"]).allows("http://127.0.0.1:8080/fhir")
