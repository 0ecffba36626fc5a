"""Malformed bodies and headers at every endpoint never cause a 5xx (hypothesis).

Random JSON, mutated valid requests, raw bytes, huge nesting, random content types and random or valid
Authorization values, against a development-mode app (bodies are parsed) and an authenticated app. All
outgoing HTTP is blocked by `responses`, so no example can reach any server.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdshooks import create_app
from cdshooks.settings import Settings
from tests.conftest import NOW, ORDER_SELECT, ORDER_SIGN, PATIENT_VIEW, hook_request
from tests.security.conftest import BASE, EHR_FHIR, Keys, Signer, jwks, public_jwk

ENDPOINTS = [
    ("GET", "/cds-services"),
    ("POST", f"/cds-services/{PATIENT_VIEW}"),
    ("POST", f"/cds-services/{ORDER_SELECT}"),
    ("POST", f"/cds-services/{ORDER_SIGN}"),
    ("POST", f"/cds-services/{PATIENT_VIEW}/feedback"),
    ("POST", "/cds-services"),
    ("GET", "/healthz"),
]
HOOK_OF = {PATIENT_VIEW: "patient-view", ORDER_SELECT: "order-select", ORDER_SIGN: "order-sign"}

ascii_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=25,
)
FIELDS = ["hook", "hookInstance", "fhirServer", "fhirAuthorization", "context", "prefetch", "extension",
          "context.patientId", "context.userId", "context.draftOrders", "context.selections",
          "context.draftOrders.entry", "prefetch.patient", "prefetch.conditions", "prefetch.labs",
          "fhirAuthorization.access_token", "fhirAuthorization.token_type", "fhirAuthorization.expires_in",
          "feedback", "feedback.0", "feedback.0.outcome", "feedback.0.card", "feedback.0.overrideReason"]


def _deep(n: int, opener: str) -> bytes:
    if opener == "[":
        return b"[" * n + b"]" * n
    return b'{"a":' * n + b"1" + b"}" * n


def _valid_body(path: str) -> dict[str, Any]:
    if path.endswith("/feedback"):
        return {"feedback": [{"card": str(uuid.uuid4()), "outcome": "accepted",
                              "acceptedSuggestions": [{"id": str(uuid.uuid4())}],
                              "outcomeTimestamp": "2026-06-01T09:00:00Z"}]}
    service = path.rsplit("/", 1)[-1]
    return hook_request(HOOK_OF.get(service, "patient-view"))


def _mutate(body: Any, changes: list[tuple[str, Any, bool]]) -> Any:
    body = copy.deepcopy(body)
    for path, value, delete in changes:
        target = body
        keys = path.split(".")
        for key in keys[:-1]:
            if isinstance(target, dict) and key in target:
                target = target[key]
            elif isinstance(target, list) and key.isdigit() and int(key) < len(target):
                target = target[int(key)]
            else:
                target = None
                break
        last = keys[-1]
        if isinstance(target, dict):
            if delete:
                target.pop(last, None)
            else:
                target[last] = value
        elif isinstance(target, list) and last.isdigit() and int(last) < len(target):
            target[int(last)] = value
    return body


@st.composite
def bodies(draw: st.DrawFn, path: str) -> bytes:
    kind = draw(st.sampled_from(["json", "mutated", "mutated", "bytes", "deep", "empty"]))
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    if kind == "mutated":
        changes = draw(st.lists(st.tuples(st.sampled_from(FIELDS), json_values, st.booleans()), min_size=1, max_size=4))
        return json.dumps(_mutate(_valid_body(path), changes)).encode()
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "deep":
        return _deep(draw(st.integers(1, 20_000)), draw(st.sampled_from(["[", "{"])))
    return b""


_json_types = st.sampled_from(["application/json", "application/fhir+json", "application/json; charset=utf-8"])
content_types = st.one_of(_json_types, _json_types, _json_types, st.sampled_from([
    "text/plain", "", "application/x-www-form-urlencoded", "multipart/form-data", "application/json; charset=latin-1",
    "application/+json"]), ascii_text)


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> Iterator[dict[str, Flask]]:
    folder: Path = tmp_path_factory.mktemp("fuzz")
    (folder / "k.json").write_text(json.dumps(jwks(public_jwk(keys.ec384, "ec-1", "ES384"))))
    (folder / "clients.yaml").write_text(f"clients:\n  - issuer: https://ehr.example.org\n    jwks_file: k.json\n"
                                         f"    fhir_servers: [{EHR_FHIR}]\n")
    common = {"log_level": "ERROR", "fhir_budget": 0.3, "fhir_timeout": 0.2, "public_base_url": BASE}
    built = {
        "dev": create_app(Settings(database_url=f"sqlite:///{folder}/dev.db", allow_unauthenticated=True, **common),
                          clock=lambda: NOW),
        "auth": create_app(Settings(database_url=f"sqlite:///{folder}/auth.db",
                                    clients_file=str(folder / "clients.yaml"), **common), clock=lambda: NOW),
    }
    yield built
    for app in built.values():
        app.extensions["cdshooks"].close()


def _check(app: Flask, method: str, path: str, body: bytes, content_type: str, headers: dict[str, str]) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False):  # no request leaves the process
        response = app.test_client().open(path, method=method, data=body, content_type=content_type or None,
                                          headers=headers)
    assert response.status_code < 500, (response.status_code, response.get_data()[:500])
    if response.status_code >= 400:
        outcome = json.loads(response.get_data())
        assert outcome["resourceType"] == "OperationOutcome"


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_development_mode_never_answers_5xx(apps: dict[str, Flask], method: str, path: str) -> None:
    @FUZZ
    @given(body=bodies(path), content_type=content_types, authorization=st.none() | ascii_text)
    def run(body: bytes, content_type: str, authorization: str | None) -> None:
        headers = {"Authorization": authorization} if authorization is not None else {}
        _check(apps["dev"], method, path, body, content_type, headers)

    run()


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_authenticated_mode_never_answers_5xx(apps: dict[str, Flask], keys: Keys, method: str, path: str) -> None:
    signer = Signer(keys)

    @st.composite
    def authorizations(draw: st.DrawFn) -> str | None:
        kind = draw(st.sampled_from(["valid", "valid", "none", "random", "bearer-random", "tampered"]))
        if kind == "valid":
            return f"Bearer {signer.token(path)}"
        if kind == "tampered":
            token = signer.token(path)
            cut = draw(st.integers(0, len(token) - 1))
            return f"Bearer {token[:cut]}{draw(st.sampled_from(['A', '.', '-', '']))}{token[cut + 1:]}"
        if kind == "bearer-random":
            return f"Bearer {draw(ascii_text)}"
        return draw(ascii_text) if kind == "random" else None

    @FUZZ
    @given(body=bodies(path), content_type=content_types, authorization=authorizations())
    def run(body: bytes, content_type: str, authorization: str | None) -> None:
        headers = {"Authorization": authorization} if authorization is not None else {}
        _check(apps["auth"], method, path, body, content_type, headers)

    run()
