"""Logs of authenticated, failing and FHIR-fetching calls never hold the JWT, the access token or patient ids."""

from __future__ import annotations

import copy
import io
import json
import logging
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import responses
from flask import Flask

from cdshooks.logs import JsonFormatter
from tests.conftest import PATIENT_VIEW, bundle, full_prefetch
from tests.security.conftest import EHR_FHIR, Signer

PATIENT_ID = "pat-4711-zq9"
ACCESS_TOKEN = "access-token-never-logged-9f8e7d"
SERVICE_PATH = f"/cds-services/{PATIENT_VIEW}"


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """What the production JSON formatter writes, for every logger."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(previous)


def _body(fhir_server: str = EHR_FHIR) -> dict[str, Any]:
    prefetch = full_prefetch()
    prefetch.pop("patient")
    prefetch.pop("conditions")
    prefetch = json.loads(json.dumps(prefetch).replace("bc-1", PATIENT_ID))
    return {
        "hook": "patient-view", "hookInstance": str(uuid.uuid4()), "fhirServer": fhir_server,
        "fhirAuthorization": {"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 300,
                              "scope": "patient/*.read", "subject": "bone-mets-cds", "patient": PATIENT_ID},
        "context": {"userId": "Practitioner/dr-1", "patientId": PATIENT_ID},
        "prefetch": prefetch,
    }


def test_logs_never_hold_tokens_or_patient_ids(
    auth_app: Flask, signer: Signer, caplog: pytest.LogCaptureFixture, json_log: io.StringIO
) -> None:
    caplog.set_level(logging.DEBUG)
    client = auth_app.test_client()
    tokens: list[str] = []

    def post(path: str, body: Any, **token_kw: Any) -> int:
        token = signer.token(path, **token_kw)
        tokens.append(token)
        return client.post(path, json=body, headers={"Authorization": f"Bearer {token}"}).status_code

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(f"{EHR_FHIR}/Patient/{PATIENT_ID}", json={"resourceType": "Patient", "id": PATIENT_ID})
        rsps.get(re.compile(re.escape(EHR_FHIR) + r"/Condition\?.*"), json=bundle(
            {"resourceType": "Condition", "id": "c-1", "subject": {"reference": f"Patient/{PATIENT_ID}"},
             "code": {"coding": [{"system": "http://snomed.info/sct", "code": "254837009"}]}}))
        rsps.get(re.compile(re.escape(EHR_FHIR) + r"/\w+\?.*"), body=ConnectionError("EHR down"))
        # authenticated, fetching from the EHR (some fetches fail: degraded)
        assert post(SERVICE_PATH, _body()) == 200
        assert any(PATIENT_ID in c.request.url for c in rsps.calls)
    # authenticated, fhirServer not registered: 412
    assert post(SERVICE_PATH, _body("https://evil.example.net/fhir")) == 412
    # failing authentication in several ways, each with the same PHI-bearing body
    now = int(time.time())
    assert post(SERVICE_PATH, _body(), iat=now - 900, exp=now - 600) == 401
    assert post(SERVICE_PATH, _body(), kid="unknown") == 401
    assert post(SERVICE_PATH, _body(), aud="https://elsewhere.example.org/x") == 401
    assert post(SERVICE_PATH, _body(), iss=f"https://{PATIENT_ID}.example.org") == 401
    replayed = tokens[0]
    assert client.post(SERVICE_PATH, json=_body(), headers={"Authorization": f"Bearer {replayed}"}).status_code == 401
    # malformed Authorization carrying a token-like value
    garbage = f"Bearer {ACCESS_TOKEN}.{PATIENT_ID}.x"
    assert client.post(SERVICE_PATH, json=_body(), headers={"Authorization": garbage}).status_code == 401
    # bad body (400), feedback
    bad = copy.deepcopy(_body())
    bad["fhirAuthorization"]["token_type"] = "Basic"
    assert post(SERVICE_PATH, bad) == 400
    item = {"card": str(uuid.uuid4()), "outcome": "overridden", "outcomeTimestamp": datetime.now(UTC).isoformat(),
            "overrideReason": {"userComment": f"patient {PATIENT_ID}"}}
    assert post(f"{SERVICE_PATH}/feedback", {"feedback": [item]}) == 200

    written = json_log.getvalue()
    assert '"event": "hook"' in written and '"event": "auth"' in written  # the logs were captured
    everything = [written, caplog.text] + [repr(r.__dict__) for r in caplog.records]
    secrets = [*tokens, ACCESS_TOKEN, PATIENT_ID]
    secrets += [t.split(".")[2] for t in tokens]  # signatures alone
    for text in everything:
        for secret in secrets:
            assert secret not in text
