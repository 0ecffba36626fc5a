"""A loopback FHIR server that answers fixed searches in parallel, for the fallback-fetch benchmark
(bench/fallback.py) and the concurrency tests (tests/fhir/test_fetch_concurrency.py).

`SearchStub(searches, page_size, gate)` serves each search (a relative query such as
`Condition?patient=p1&_count=200`, exactly as the service renders it) as searchset pages of `page_size`
entries with a `next` link, and a read (`Patient/p1`) as the resource itself. Before answering, every request
calls `gate(path)`, which may block: the benchmark sleeps a fixed delay there, the tests hold requests until
others have arrived. The stub counts requests in flight (`max_in_flight`) and records every path in arrival
order (`arrivals`). Unknown queries get an empty searchset.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

Resource = dict[str, Any]
PAGE_PATH = "_page"


class SearchStub:
    def __init__(self, searches: dict[str, list[Resource] | Resource], page_size: int = 50,
                 gate: Callable[[str], None] | None = None) -> None:
        self.searches = {unquote(query): found for query, found in searches.items()}
        self.page_size = max(1, page_size)
        self.gate = gate or (lambda path: None)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.arrivals: list[str] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/fhir"

    def start(self) -> SearchStub:
        stub = self

        class Handler(_Handler):
            owner = stub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fhir-stub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> SearchStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def answer(self, relative: str) -> Resource:
        """The body for `relative` (a search, a read, or a `_page` link); no delay, no counting."""
        parts = urlsplit(relative)
        if parts.path == PAGE_PATH:
            query = parse_qs(parts.query)
            return self._page(query["search"][0], int(query["offset"][0]))
        found = self.searches.get(unquote(relative))
        if isinstance(found, dict):
            return found
        return self._page(relative, 0)

    def _page(self, search: str, offset: int) -> Resource:
        found = self.searches.get(unquote(search))
        resources = found if isinstance(found, list) else []
        page = resources[offset:offset + self.page_size]
        bundle: Resource = {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
                            "entry": [{"resource": r} for r in page]}
        if offset + self.page_size < len(resources):
            link = f"{self.base_url}/{PAGE_PATH}?{urlencode({'search': search, 'offset': offset + self.page_size})}"
            bundle["link"] = [{"relation": "next", "url": link}]
        return bundle


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once (no delayed-ACK stall per request)
    owner: SearchStub

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        stub = self.owner
        relative = self.path.split("/fhir/", 1)[1] if "/fhir/" in self.path else self.path.lstrip("/")
        if not relative.startswith(PAGE_PATH):
            relative = unquote(relative)
        with stub.lock:
            stub.in_flight += 1
            stub.max_in_flight = max(stub.max_in_flight, stub.in_flight)
            stub.arrivals.append(relative)
        try:
            stub.gate(relative)
            data = json.dumps(stub.answer(relative), separators=(",", ":")).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        finally:
            with stub.lock:
                stub.in_flight -= 1
