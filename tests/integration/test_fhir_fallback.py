"""Prefetch fallback against a real FHIR R4 server (sekmet-fhir on loopback).

The app runs in-process with a pinned clock; its FHIR calls go over real HTTP to sekmet through a
`requests.Session` that also notes every request it sends. The clinical engine is replaced by a capture so
each test can inspect the exact `Record` the service assembled.
"""

from __future__ import annotations

import copy
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import requests
from flask import Flask

from cdshooks import create_app
from cdshooks.clinical import engine
from cdshooks.clinical.findings import Evaluation
from cdshooks.fhir.prefetch import PREFETCH, PrefetchKey, render
from cdshooks.fhir.record import Record
from cdshooks.settings import Settings
from tests.integration.conftest import Sekmet, free_port, load_bundle
from tests.integration.records import breast_cancer_record, counts_by_type, ids_by_type, lab_ids

pytestmark = pytest.mark.integration

AS_OF = date(2026, 6, 1)
NOW = datetime(AS_OF.year, AS_OF.month, AS_OF.day, 9, 0, tzinfo=UTC)
PATIENT_ID = "bc-int-1"
TOKEN = "integration-token-5d1e"
PATIENT_VIEW = "bone-mets-imaging-patient-view"
ORDER_SELECT = "bone-mets-imaging-order-select"
SMALL_PAGE = 7  # lab page size where a test makes the labs search span several pages

AppFactory = Callable[..., Flask]


class RecordingSession(requests.Session):
    """A plain pooled session that keeps every request it sends (real HTTP; nothing is mocked)."""

    def __init__(self) -> None:
        super().__init__()
        self.trust_env = False
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.sent.append(request)
        return super().send(request, **kwargs)

    def urls(self) -> list[str]:
        return [str(r.url) for r in self.sent]


@pytest.fixture(scope="module")
def loaded(sekmet: Sekmet) -> dict[str, Any]:
    """The patient's record, loaded once into sekmet; returns the transaction Bundle that was loaded."""
    bundle = breast_cancer_record(PATIENT_ID, AS_OF)
    load_bundle(sekmet.base_url, bundle)
    return bundle


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[Record]:
    records: list[Record] = []

    def capture(hook: str, record: Record, now: datetime, *_: Any) -> Evaluation:
        assert now == NOW
        records.append(record)
        return Evaluation()

    monkeypatch.setattr(engine, "evaluate", capture)
    return records


@pytest.fixture
def session() -> Iterator[RecordingSession]:
    s = RecordingSession()
    yield s
    s.close()


@pytest.fixture
def make_app(tmp_path: Path, session: RecordingSession) -> Iterator[AppFactory]:
    apps: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        settings = Settings(
            database_url=f"sqlite:///{tmp_path}/t.db", fhir_allowlist=("loopback",), fhir_max_pages=10,
            fhir_timeout=5.0, fhir_budget=10.0, allow_unauthenticated=True,
        ).with_overrides(**overrides)
        app = create_app(settings, clock=lambda: NOW, session=session)
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["cdshooks"].close()


def hook_body(fhir_server: str, hook: str = "patient-view", prefetch: dict[str, Any] | None = None,
              draft: dict[str, Any] | None = None) -> dict[str, Any]:
    context: dict[str, Any] = {"userId": "Practitioner/dr-1", "patientId": PATIENT_ID}
    if draft is not None:
        context["draftOrders"] = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": draft}]}
        context["selections"] = [f"{draft['resourceType']}/{draft['id']}"]
    body: dict[str, Any] = {
        "hook": hook, "hookInstance": str(uuid.uuid4()), "fhirServer": fhir_server,
        "fhirAuthorization": {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 300,
                              "scope": "patient/*.read", "subject": "bone-mets-cds", "patient": PATIENT_ID},
        "context": context,
    }
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


def post(app: Flask, service_id: str, body: dict[str, Any]) -> Any:
    return app.test_client().post(f"/cds-services/{service_id}", json=body)


def rendered(key: str) -> str:
    query = render(PREFETCH[key].template, {"context.patientId": PATIENT_ID})
    assert query is not None
    return query


def server_prefetch(base_url: str, keys: list[str] | None = None) -> dict[str, Any]:
    """Prefetch as an EHR would build it: each template searched on sekmet by the test itself."""
    out: dict[str, Any] = {}
    for key in keys or list(PREFETCH):
        response = requests.get(f"{base_url}/{rendered(key)}", timeout=5,
                                headers={"Accept": "application/fhir+json"})
        assert response.status_code == 200, (key, response.text[:500])
        out[key] = response.json()
    return out


def ids_in(record: Record) -> dict[str, set[str]]:
    return {rtype: {r["id"] for r in resources} for rtype, resources in record.resources.items()}


def assert_complete(record: Record, loaded: dict[str, Any]) -> None:
    assert record.patient_id == PATIENT_ID
    assert Counter({t: len(rs) for t, rs in record.resources.items()}) == counts_by_type(loaded)
    assert ids_in(record) == ids_by_type(loaded)


def fetched_paths(session: RecordingSession, base_url: str) -> list[str]:
    urls = session.urls()
    assert all(u.startswith(base_url + "/") for u in urls), urls
    return [unquote(u.removeprefix(base_url + "/")) for u in urls]


def test_no_prefetch_fetches_the_whole_record(
    sekmet: Sekmet, loaded: dict[str, Any], make_app: AppFactory, captured: list[Record],
    session: RecordingSession,
) -> None:
    response = post(make_app(), PATIENT_VIEW, hook_body(sekmet.base_url))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"cards": []}
    assert len(captured) == 1
    record = captured[0]
    assert_complete(record, loaded)
    assert len(record.of("Observation")) == 36
    assert {r["id"] for r in record.of("Observation")} >= lab_ids(loaded)
    # One GET per prefetch key (every search fits one page at the templates' _count), all with the token.
    assert len(session.sent) == len(PREFETCH)
    assert all(r.headers.get("Authorization") == f"Bearer {TOKEN}" for r in session.sent)
    paths = fetched_paths(session, sekmet.base_url)
    assert f"Patient/{PATIENT_ID}" in paths


def test_partial_prefetch_fetches_only_the_missing_keys(
    sekmet: Sekmet, loaded: dict[str, Any], make_app: AppFactory, captured: list[Record],
    session: RecordingSession,
) -> None:
    sent = server_prefetch(sekmet.base_url, ["patient", "conditions"])
    only_in_prefetch = {
        "resourceType": "Condition", "id": "prefetch-only-condition", "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "94222008", "display": "Secondary "
                             "malignant neoplasm of bone"}]},
    }
    # The EHR's conditions: breast cancer and a condition the FHIR server does not hold (no bone pain).
    sent["conditions"]["entry"] = [
        e for e in sent["conditions"]["entry"] if e["resource"]["id"] == f"{PATIENT_ID}-c-breast-cancer"
    ] + [{"resource": only_in_prefetch}]
    assert len(sent["conditions"]["entry"]) == 2

    response = post(make_app(), PATIENT_VIEW, hook_body(sekmet.base_url, prefetch=sent))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"cards": []}
    record = captured[0]
    assert {r["id"] for r in record.of("Condition")} == {f"{PATIENT_ID}-c-breast-cancer", "prefetch-only-condition"}
    expected = ids_by_type(loaded)
    expected["Condition"] = {f"{PATIENT_ID}-c-breast-cancer", "prefetch-only-condition"}
    assert ids_in(record) == expected
    paths = fetched_paths(session, sekmet.base_url)
    assert len(paths) == len(PREFETCH) - 2
    assert not any(p.startswith(("Patient", "Condition")) for p in paths), paths


def test_order_select_without_prefetch_keeps_the_draft_order(
    sekmet: Sekmet, loaded: dict[str, Any], make_app: AppFactory, captured: list[Record],
) -> None:
    draft = {
        "resourceType": "ServiceRequest", "id": "draft-bone-scan", "status": "draft", "intent": "order",
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "78306",
                             "display": "Bone and/or joint imaging; whole body"}]},
        "authoredOn": NOW.isoformat(),
    }
    response = post(make_app(), ORDER_SELECT, hook_body(sekmet.base_url, hook="order-select",
                                                        draft=copy.deepcopy(draft)))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"cards": []}
    record = captured[0]
    assert record.draft_orders == (draft,)
    assert record.selections == ("ServiceRequest/draft-bone-scan",)
    assert record.selected_orders() == (draft,)
    assert record.resolve("ServiceRequest/draft-bone-scan") == draft
    assert_complete(record, loaded)


def test_operation_outcome_prefetch_value_is_fetched(
    sekmet: Sekmet, loaded: dict[str, Any], make_app: AppFactory, captured: list[Record],
    session: RecordingSession,
) -> None:
    sent = server_prefetch(sekmet.base_url)
    sent["labs"] = {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "timeout", "diagnostics": "lab system did not answer"}]}
    response = post(make_app(), PATIENT_VIEW, hook_body(sekmet.base_url, prefetch=sent))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"cards": []}
    assert_complete(captured[0], loaded)
    assert fetched_paths(session, sekmet.base_url) == [rendered("labs")]


LAB_IDS = lab_ids(breast_cancer_record(PATIENT_ID, AS_OF))


def use_small_lab_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """The labs template with a small `_count`, so the service's own labs search spans several pages."""
    spec = PREFETCH["labs"]
    assert "_count=200" in spec.template
    small = PrefetchKey(spec.template.replace("_count=200", f"_count={SMALL_PAGE}"), spec.required,
                        spec.description)
    monkeypatch.setitem(PREFETCH, "labs", small)  # the services hold this same dict


@pytest.fixture
def small_lab_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    use_small_lab_pages(monkeypatch)


def first_lab_page(base_url: str) -> dict[str, Any]:
    """The labs search as a client that paginated sends it: page 1 of several, with a `next` link."""
    query = rendered("labs").replace("_count=200", f"_count={SMALL_PAGE}")
    response = requests.get(f"{base_url}/{query}", timeout=5, headers={"Accept": "application/fhir+json"})
    assert response.status_code == 200
    first: dict[str, Any] = response.json()
    assert len(first["entry"]) == SMALL_PAGE
    assert any(link["relation"] == "next" for link in first["link"])
    return first


def _lab_record(record: Record) -> set[str]:
    return {r["id"] for r in record.of("Observation")} & LAB_IDS


@pytest.mark.usefixtures("small_lab_pages")
def test_service_follows_next_links_of_its_own_search(
    sekmet: Sekmet, loaded: dict[str, Any], make_app: AppFactory, captured: list[Record],
    session: RecordingSession,
) -> None:
    assert len(LAB_IDS) == 32
    response = post(make_app(fhir_max_pages=10), PATIENT_VIEW, hook_body(sekmet.base_url))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert_complete(captured[0], loaded)
    lab_gets = [p for p in fetched_paths(session, sekmet.base_url) if "6768-6" in p]
    assert len(lab_gets) == -(-len(LAB_IDS) // SMALL_PAGE)  # ceil(32 / 7) = 5 pages


def test_service_completes_a_client_paginated_prefetch(
    sekmet: Sekmet, loaded: dict[str, Any], make_app: AppFactory, captured: list[Record],
    session: RecordingSession,
) -> None:
    sent = server_prefetch(sekmet.base_url)
    sent["labs"] = first_lab_page(sekmet.base_url)
    response = post(make_app(fhir_max_pages=10), PATIENT_VIEW, hook_body(sekmet.base_url, prefetch=sent))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert_complete(captured[0], loaded)
    paths = fetched_paths(session, sekmet.base_url)
    assert len(paths) == -(-len(LAB_IDS) // SMALL_PAGE) - 1  # the pages after the one sent
    assert all("_offset=" in p for p in paths)


@pytest.mark.parametrize("paginated_by", ["service", "client"])
def test_page_cap_truncates_labs_and_still_answers(
    sekmet: Sekmet, loaded: dict[str, Any], make_app: AppFactory, captured: list[Record],
    session: RecordingSession, monkeypatch: pytest.MonkeyPatch, paginated_by: str,
) -> None:
    prefetch: dict[str, Any] | None = None
    if paginated_by == "service":
        use_small_lab_pages(monkeypatch)
    else:
        prefetch = server_prefetch(sekmet.base_url)
        prefetch["labs"] = first_lab_page(sekmet.base_url)
    response = post(make_app(fhir_max_pages=1), PATIENT_VIEW, hook_body(sekmet.base_url, prefetch=prefetch))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"cards": []}
    record = captured[0]
    labs = _lab_record(record)
    assert len(labs) == SMALL_PAGE < len(LAB_IDS)
    everything_else = ids_by_type(loaded)
    everything_else["Observation"] -= LAB_IDS - labs
    assert ids_in(record) == everything_else
    assert not any("_offset=" in p for p in fetched_paths(session, sekmet.base_url))


def test_unreachable_fhir_server_without_prefetch_answers_412(
    make_app: AppFactory, captured: list[Record],
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/fhir"
    response = post(make_app(fhir_timeout=1.0, fhir_budget=3.0), PATIENT_VIEW, hook_body(nowhere))
    assert response.status_code == 412, response.get_data(as_text=True)
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    expressions = {e for issue in body["issue"] for e in issue.get("expression", [])}
    assert expressions & {"prefetch.patient", "prefetch.conditions"}
    assert expressions <= {"prefetch.patient", "prefetch.conditions"}
    assert all(issue["severity"] == "error" for issue in body["issue"])
    assert captured == []
