"""Hostile fhirServer figures (issue 16): what a huge body, a dripping server and a starving neighbour cost.

`make bench` prints them; `python bench/hostile_fhir.py` alone too. Loopback only; every series is bounded
(the drip lasts at most 60 s and is cut by the service at its budget). tests/security/test_hostile_fhir.py
asserts the same behaviour loosely; the figures here are the documented ones.
"""

from __future__ import annotations

import sys
import tempfile
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.hostile_server import start  # noqa: E402
from cdshooks import create_app  # noqa: E402
from cdshooks.settings import Settings  # noqa: E402
from tests.conftest import PATIENT_VIEW, hook_request  # noqa: E402

BUDGET = 2.0  # the shipped CDSHOOKS_FHIR_BUDGET
CAP = 32 * 1024 * 1024  # the shipped CDSHOOKS_FHIR_MAX_RESPONSE_BYTES


def run() -> dict[str, float]:
    servers = {mode: start(mode, big_mb=1024) for mode in ("big", "drip", "good")}
    folder = tempfile.mkdtemp(prefix="hostile-")
    app = create_app(Settings(database_url=f"sqlite:///{folder}/h.db", allow_unauthenticated=True,
                              log_level="ERROR"), clock=lambda: datetime(2026, 6, 1, 9, tzinfo=UTC))
    client = app.test_client()

    def call(base: str, *missing: str) -> tuple[int, float]:
        prefetch = hook_request()["prefetch"]
        for key in missing:
            prefetch.pop(key)
        started = time.perf_counter()
        status = client.post(f"/cds-services/{PATIENT_VIEW}",
                             json=hook_request(fhirServer=base, prefetch=prefetch)).status_code
        return status, time.perf_counter() - started

    keys = ("conditions", "labs", "symptomObservations", "medicationRequests", "procedures", "imagingStudies")
    out: dict[str, float] = {}
    try:
        tracemalloc.start()
        _, out["big_seconds"] = call(servers["big"][1], "conditions")
        out["big_peak_mb"] = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        _, out["drip_seconds"] = call(servers["drip"][1], "conditions")
        with ThreadPoolExecutor(max_workers=4) as pool:
            slow = [pool.submit(call, servers["drip"][1], *keys) for _ in range(4)]
            time.sleep(0.3)
            status, out["neighbour_seconds"] = call(servers["good"][1], *keys)
            out["neighbour_status"] = status
            for future in slow:
                future.result()
    finally:
        app.extensions["cdshooks"].close()
        for server, _ in servers.values():
            server.shutdown()
            server.server_close()
    return out


def print_hostile_fhir() -> dict[str, float]:
    figures = run()
    print("\nHostile fhirServer (budget 2 s, body cap 32 MB; loopback)")
    print(f"  1 GB chunked body:  answered in {figures['big_seconds']:.2f} s, peak traced memory "
          f"{figures['big_peak_mb']:.0f} MB")
    print(f"  dripping server:    answered in {figures['drip_seconds']:.2f} s (the drip would last 60 s)")
    print(f"  neighbour call while 4 calls drip: HTTP {figures['neighbour_status']:.0f} in "
          f"{figures['neighbour_seconds'] * 1000:.0f} ms, every key fetched")
    return figures


if __name__ == "__main__":
    print_hostile_fhir()
