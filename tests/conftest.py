"""Shared fixtures: an app per test on a temporary SQLite store with a pinned clock."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cdshooks import create_app
from cdshooks.clinical import engine
from cdshooks.clinical.findings import Evaluation
from cdshooks.fhir.record import Record
from cdshooks.settings import Settings

REPO = Path(__file__).resolve().parent.parent
SPEC_EXAMPLES = REPO / "tests" / "data" / "cds-hooks-2.0.1"
NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)

PATIENT_VIEW = "bone-mets-imaging-patient-view"
ORDER_SELECT = "bone-mets-imaging-order-select"
ORDER_SIGN = "bone-mets-imaging-order-sign"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Development mode (no client JWT): the protocol tests; tests/security builds authenticated apps."""
    return Settings(database_url=f"sqlite:///{tmp_path}/test.db", log_level="DEBUG", allow_unauthenticated=True)


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    application = create_app(settings, clock=lambda: NOW)
    yield application
    application.extensions["cdshooks"].close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


PATIENT = {"resourceType": "Patient", "id": "bc-1", "gender": "female", "birthDate": "1968-04-02"}
BREAST_CANCER = {
    "resourceType": "Condition", "id": "c-bc", "subject": {"reference": "Patient/bc-1"},
    "code": {"coding": [{"system": "http://snomed.info/sct", "code": "254837009"}]},
}
DRAFT_BONE_SCAN = {
    "resourceType": "ServiceRequest", "id": "draft-1", "status": "draft", "intent": "order",
    "subject": {"reference": "Patient/bc-1"},
    "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "78306"}]},
}


def full_prefetch() -> dict[str, Any]:
    from cdshooks.fhir.prefetch import PREFETCH

    prefetch: dict[str, Any] = {key: bundle() for key in PREFETCH}
    prefetch["patient"] = copy.deepcopy(PATIENT)
    prefetch["conditions"] = bundle(copy.deepcopy(BREAST_CANCER))
    return prefetch


def hook_request(hook: str = "patient-view", **overrides: Any) -> dict[str, Any]:
    """A valid request for `hook` with full prefetch; keyword overrides replace top-level fields."""
    context: dict[str, Any] = {"userId": "Practitioner/dr-1", "patientId": "bc-1"}
    if hook in {"order-select", "order-sign"}:
        context["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                                  "entry": [{"resource": copy.deepcopy(DRAFT_BONE_SCAN)}]}
    if hook == "order-select":
        context["selections"] = ["ServiceRequest/draft-1"]
    body: dict[str, Any] = {
        "hook": hook, "hookInstance": str(uuid.uuid4()), "context": context, "prefetch": full_prefetch(),
    }
    body.update(overrides)
    return body


def load_example(name: str) -> Any:
    return json.loads((SPEC_EXAMPLES / name).read_text())


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[Record]:
    """The records the engine is given (the engine itself answers nothing): what prefetch assembly produced."""
    records: list[Record] = []

    def capture(hook: str, record: Record, now: Any, *_: Any) -> Evaluation:
        records.append(record)
        return Evaluation()

    monkeypatch.setattr(engine, "evaluate", capture)
    return records


def shown(finding: Any) -> dict[str, Any]:
    """A finding's values as a card shows them: phrases and listings in the phrase book's words."""
    from cdshooks.catalog.phrases import worded

    return worded(finding.values)
