"""A hostile or broken fhirServer on loopback, shared by tests/security/test_hostile_fhir.py and
bench/hostile_fhir.py (issue 16). One server per behaviour:

- `big`: a chunked searchset with no declared length that goes on for `big_mb` MB;
- `drip`: declares 100,000 bytes and sends one every 0.1 s (at most 60 s);
- `many`: a 30,000-entry page of the resource type asked for;
- `good`: the patient, and empty searchsets for every query.

Every request path is recorded in `HostileHandler.seen`. Servers stop with `shutdown()` + `server_close()`.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

MODES = ("big", "drip", "many", "good")


def _bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "entry": [{"resource": r} for r in resources]}


class HostileHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[str]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.seen.append(self.path)
        mode = self.server.mode  # type: ignore[attr-defined]
        if mode == "big":
            self._big(self.server.big_mb)  # type: ignore[attr-defined]
        elif mode == "drip":
            self._drip()
        elif mode == "many":
            rtype = self.path.split("/fhir/", 1)[1].split("?", 1)[0]
            self._json(_bundle(*({"resourceType": rtype, "id": f"r{i}"} for i in range(30_000))))
        else:
            self._json({"resourceType": "Patient", "id": "bc-1"} if "/Patient/" in self.path else _bundle())

    def _json(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _big(self, megabytes: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        block = b" " * (1024 * 1024)
        try:
            head = b'{"resourceType":"Bundle","type":"searchset","x":"'
            self.wfile.write(f"{len(head):x}\r\n".encode() + head + b"\r\n")
            for _ in range(megabytes):
                self.wfile.write(f"{len(block):x}\r\n".encode() + block + b"\r\n")
        except OSError:
            return  # the client hung up: what we want

    def _drip(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", "100000")
        self.end_headers()
        try:
            for _ in range(600):  # at most 60 s, normally cut by the client within its budget
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:
            return


def start(mode: str, big_mb: int = 512) -> tuple[ThreadingHTTPServer, str]:
    """A server of one behaviour on a free loopback port, and its fhirServer base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), HostileHandler)
    server.daemon_threads = True
    server.mode = mode  # type: ignore[attr-defined]
    server.big_mb = big_mb  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/fhir"
