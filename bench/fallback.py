"""Fallback fetches against a FHIR server that answers in parallel (issue 15): a patient-view call with no
prefetch, every key fetched from a loopback stub (bench/fhir_stub.py) that answers each request after a fixed
delay and pages its searches, against the slowest single search of the same record fetched alone (with its pages).

    .venv/bin/python bench/fallback.py          # or as part of `make bench`

The ratio call / slowest search is what the concurrency setting and the page scheduling cost: 1.0 means the
call takes no longer than its longest chain of requests.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.fhir_stub import SearchStub  # noqa: E402
from bench.record import typical_request  # noqa: E402
from cdshooks import create_app  # noqa: E402
from cdshooks.fhir.client import FhirClient, bundle_resources, new_session  # noqa: E402
from cdshooks.fhir.prefetch import PREFETCH, render, token_values  # noqa: E402
from cdshooks.services import BY_HOOK  # noqa: E402
from cdshooks.settings import Settings  # noqa: E402

DELAY_S = 0.05  # every request answers after this (a FHIR server's search latency)
PAGE_SIZE = 50  # entries per page, whatever _count asks (servers cap it; labs then take two pages)
REPEAT = 5


@dataclass
class FallbackResult:
    keys: int
    requests: int
    concurrency: int
    slowest_key: str
    slowest_pages: int
    slowest_ms: float
    call_ms: float
    status: int

    @property
    def ratio(self) -> float:
        return self.call_ms / self.slowest_ms


def _searches(request: dict[str, Any]) -> dict[str, Any]:
    """The stub's answers: each prefetch key's rendered query -> the record's resources for it."""
    values = token_values(request["context"])
    searches: dict[str, Any] = {}
    for key, spec in PREFETCH.items():
        query = str(render(spec.template, values))
        value = request["prefetch"][key]
        searches[query] = bundle_resources(value) if value.get("resourceType") == "Bundle" else value
    return searches


def measure_fallback(as_of: date, delay_s: float = DELAY_S, page_size: int = PAGE_SIZE,
                     repeat: int = REPEAT) -> FallbackResult:
    request = typical_request("patient-view", as_of)
    searches = _searches(request)
    with tempfile.TemporaryDirectory(prefix="cdshooks-fallback-") as workdir, \
            SearchStub(searches, page_size=page_size, gate=lambda path: time.sleep(delay_s)) as stub:
        client = FhirClient(new_session(), stub.base_url, None, timeout=10.0, max_pages=10)
        alone: dict[str, tuple[float, int]] = {}
        for query in searches:
            times, pages = [], 1
            for _ in range(repeat):
                started = time.perf_counter()
                pages = client.fetch(query, deadline=time.monotonic() + 10.0).pages
                times.append(time.perf_counter() - started)
            alone[query] = (statistics.median(times), pages)
        slowest = max(alone, key=lambda q: alone[q][0])
        settings = Settings(database_url=f"sqlite:///{workdir}/f.db", log_level="WARNING", allow_unauthenticated=True,
                            fhir_allowlist=("loopback",), fhir_budget=10.0, fhir_timeout=10.0)
        app = create_app(settings)
        try:
            body = dict(request, fhirServer=stub.base_url)
            del body["prefetch"]
            path = f"/cds-services/{BY_HOOK['patient-view'].id}"
            http = app.test_client()
            http.post(path, json=body)  # warm-up: connections and caches
            calls, status = [], 0
            for _ in range(repeat):
                started = time.perf_counter()
                status = http.post(path, json=body).status_code
                calls.append(time.perf_counter() - started)
        finally:
            app.extensions["cdshooks"].close()
        values = token_values(request["context"])
        key = next(k for k, spec in PREFETCH.items() if render(spec.template, values) == slowest)
        return FallbackResult(
            keys=len(searches), requests=sum(pages for _, pages in alone.values()),
            concurrency=settings.fhir_concurrency, slowest_key=key, slowest_pages=alone[slowest][1],
            slowest_ms=alone[slowest][0] * 1000, call_ms=statistics.median(calls) * 1000, status=status,
        )


def print_fallback(as_of: date) -> dict[str, Any]:
    result = measure_fallback(as_of)
    print(f"\nfallback fetches (no prefetch; loopback FHIR stub answering in parallel after {DELAY_S * 1000:.0f} ms, "
          f"{PAGE_SIZE} entries per page; median of {REPEAT})")
    print(f"  {result.keys} keys, {result.requests} requests, CDSHOOKS_FHIR_CONCURRENCY={result.concurrency}: call "
          f"{result.call_ms:.0f} ms (HTTP {result.status}) vs slowest single search {result.slowest_ms:.0f} ms "
          f"({result.slowest_key}, {result.slowest_pages} page{'s' if result.slowest_pages > 1 else ''}) -> "
          f"ratio {result.ratio:.2f} (goal <= 1.3)")
    return {"keys": result.keys, "requests": result.requests, "concurrency": result.concurrency,
            "slowest_key": result.slowest_key, "slowest_pages": result.slowest_pages,
            "slowest_ms": round(result.slowest_ms, 1), "call_ms": round(result.call_ms, 1),
            "ratio": round(result.ratio, 3), "status": result.status}


if __name__ == "__main__":
    from datetime import UTC, datetime, timedelta

    print_fallback(datetime.now(UTC).date() - timedelta(days=1))
