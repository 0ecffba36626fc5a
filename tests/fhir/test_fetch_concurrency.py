"""Fallback fetches (issue 15): at most CDSHOOKS_FHIR_CONCURRENCY requests of one call in flight, and a search's
pages followed as soon as their `next` link is known, not queued behind the other keys.

A real threaded FHIR server on loopback (bench/fhir_stub.py) counts the requests in flight and holds them until
others have arrived, so the order of events is forced without timing anything: a limit that was not enforced
shows as more requests in flight than allowed; pages queued behind other keys leave the held requests waiting
for a page that never comes (the hold then gives up and the assertion fails).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from bench.fhir_stub import PAGE_PATH, SearchStub
from cdshooks import create_app
from cdshooks.fhir.assemble import FetchPlan, assemble
from cdshooks.fhir.client import FhirClient, new_session
from cdshooks.fhir.prefetch import PREFETCH, PrefetchKey, render, token_values
from cdshooks.settings import Settings
from tests.conftest import NOW, PATIENT, PATIENT_VIEW, hook_request

HOLD_S = 1.0  # how long the first wave waits for a request beyond the limit (none comes when the limit holds)
GIVE_UP_S = 20.0  # generous: only reached when the behaviour under test is missing


def _rendered(context: dict[str, Any]) -> dict[str, str]:
    values = token_values(context)
    return {key: str(render(spec.template, values)) for key, spec in PREFETCH.items()}


def test_one_call_never_has_more_requests_in_flight_than_the_concurrency_setting(tmp_path: Path) -> None:
    """12 missing keys, CDSHOOKS_FHIR_CONCURRENCY=3: the first requests are held until a 4th arrives (or a short
    while passes), so an unlimited call would show all 12 in flight; with the limit at most 3 ever are."""
    limit = 3
    arrived = threading.Condition()
    count = [0]

    def gate(path: str) -> None:
        with arrived:
            count[0] += 1
            arrived.notify_all()
            arrived.wait_for(lambda: count[0] > limit, timeout=HOLD_S)

    context = {"userId": "Practitioner/dr-1", "patientId": "bc-1"}
    searches: dict[str, Any] = {query: [] for query in _rendered(context).values()}
    searches[_rendered(context)["patient"]] = PATIENT
    settings = Settings(database_url=f"sqlite:///{tmp_path}/c.db", allow_unauthenticated=True,
                        fhir_allowlist=("loopback",), fhir_concurrency=limit, fhir_budget=GIVE_UP_S,
                        fhir_timeout=GIVE_UP_S)
    app = create_app(settings, clock=lambda: NOW)
    try:
        with SearchStub(searches, gate=gate) as stub:
            body = hook_request(fhirServer=stub.base_url)
            del body["prefetch"]
            response = app.test_client().post(f"/cds-services/{PATIENT_VIEW}", json=body)
    finally:
        app.extensions["cdshooks"].close()
    assert response.status_code == 200, response.get_data(as_text=True)
    assert sorted(stub.arrivals) == sorted(stub.searches)  # every key fetched, each once
    assert stub.max_in_flight == limit


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=8)
    yield pool
    pool.shutdown(wait=True, cancel_futures=True)


def test_a_search_follows_its_next_page_as_soon_as_the_link_is_known(executor: ThreadPoolExecutor) -> None:
    """Keys A (3 pages), B, C, D with 2 fetches allowed: B, C and D are held until A's last page has arrived.
    Following A's pages at once (the fetch that read page 1 asks for page 2) gets there while B is held;
    queueing a page behind C and D would leave both fetches held."""
    pages_done = threading.Event()

    def gate(path: str) -> None:
        if path.startswith(PAGE_PATH) and "offset=4" in path:
            pages_done.set()
        elif not path.startswith(("A?", PAGE_PATH)):
            pages_done.wait(GIVE_UP_S)

    searches: dict[str, Any] = {
        "A?patient=p1": [{"resourceType": "Observation", "id": f"a{i}"} for i in range(5)],
        "B?patient=p1": [{"resourceType": "Condition", "id": "b"}],
        "C?patient=p1": [{"resourceType": "Procedure", "id": "c"}],
        "D?patient=p1": [{"resourceType": "ImagingStudy", "id": "d"}],
    }
    templates = {key: PrefetchKey(f"{key}?patient={{{{context.patientId}}}}", False, key) for key in "ABCD"}
    with SearchStub(searches, page_size=2, gate=gate) as stub:
        client = FhirClient(new_session(), stub.base_url, None, timeout=GIVE_UP_S, max_pages=5)
        assembly = assemble(patient_id="p1", context={"patientId": "p1"}, prefetch={}, templates=templates,
                            plan=FetchPlan(client), executor=executor, budget=GIVE_UP_S, concurrency=2)
    assert pages_done.is_set()
    first_page = stub.arrivals.index("A?patient=p1")
    later = [p for p in stub.arrivals[first_page + 1:] if not p.startswith(PAGE_PATH)]
    assert stub.arrivals.index(f"{PAGE_PATH}?search=A%3Fpatient%3Dp1&offset=4") < stub.arrivals.index(later[-1])
    assert stub.max_in_flight <= 2
    assert sorted(assembly.fetched) == ["A", "B", "C", "D"]
    assert len(assembly.record.of("Observation")) == 5 and not assembly.degraded


def test_the_stub_pages_like_a_server(executor: ThreadPoolExecutor) -> None:
    """The benchmark's stub: a search longer than a page carries a `next` link the client follows."""
    searches: dict[str, Any] = {"A?patient=p1": [{"resourceType": "Observation", "id": f"a{i}"} for i in range(7)]}
    with SearchStub(searches, page_size=3) as stub:
        client = FhirClient(new_session(), stub.base_url, None, timeout=GIVE_UP_S, max_pages=5)
        result = client.fetch("A?patient=p1", deadline=float("inf"))
    assert [r["id"] for r in result.resources] == [f"a{i}" for i in range(7)]
    assert result.pages == 3 and not result.truncated
