"""A small FHIR server the kit starts itself, so the service under test has a `fhirServer` to fetch from.

It answers reads (`Patient/<id>` -> that resource with that id) and searches (an empty searchset Bundle;
`_kitpage=2` asks for the second page of a paginated prefetch), refuses any request without the access
token the kit handed out (401, like a real FHIR server), and records every request with whether it carried
that token. It also publishes the kit's JWK set at `/.well-known/jwks.json` when the kit signs with `jku`
pointing there. Requests are attributed to a check by the patient id in their URL (each check uses its own).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

FHIR_JSON = "application/fhir+json"
_READ = re.compile(r"^/fhir/([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})$")
_SEARCH = re.compile(r"^/fhir/([A-Z][A-Za-z]+)(/_search)?$")


@dataclass(frozen=True)
class Hit:
    method: str
    target: str  # path and query, percent-decoded
    authorized: bool


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # one request per connection: no keep-alive outlives the stub

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the kit reports what matters."""

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if 0 < length <= 1_000_000:
            self.rfile.read(length)
        self._answer()

    def _answer(self) -> None:
        stub = self.server.stub
        parts = urlsplit(self.path)
        if parts.path == "/.well-known/jwks.json" and stub.jwks is not None:
            self._send(200, stub.jwks, "application/json")
            return
        authorized = self.headers.get("Authorization", "") == f"Bearer {stub.token}"
        stub.record(Hit(self.command, unquote(self.path), authorized))
        if not authorized:
            self._send(401, _outcome("login", "the access token from fhirAuthorization is required"))
            return
        read = _READ.match(parts.path)
        search = _SEARCH.match(parts.path)
        if parts.path == "/fhir/metadata":
            self._send(200, {"resourceType": "CapabilityStatement", "status": "active", "kind": "instance",
                             "fhirVersion": "4.0.1", "format": ["json"]})
        elif read:
            self._send(200, _resource(read.group(1), read.group(2)))
        elif search:
            self._send(200, {"resourceType": "Bundle", "type": "searchset", "total": 0,
                             "link": [{"relation": "self", "url": stub.origin + self.path}]})
        else:
            self._send(404, _outcome("not-found", "the kit's FHIR stub does not serve this"))

    def _send(self, status: int, body: Any, content_type: str = FHIR_JSON) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)


def _outcome(code: str, text: str) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code, "diagnostics": text}]}


def _resource(kind: str, rid: str) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": kind, "id": rid}
    if kind == "Patient":
        resource |= {"gender": "female", "birthDate": "1970-01-01"}
    return resource


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    stub: FhirStub


class FhirStub:
    """Start with `with FhirStub() as stub:`; `base_url` is the FHIR base (`http://host:port/fhir`)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, jwks: dict[str, Any] | None = None) -> None:
        self.token = secrets.token_urlsafe(24)  # the opaque access token handed to the service under test
        self.jwks = jwks
        self._hits: list[Hit] = []
        self._lock = threading.Lock()
        self._server = _Server((host, port), _Handler)
        self._server.stub = self
        shown = f"[{host}]" if ":" in host else host
        self.origin = f"http://{shown}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="kit-fhir-stub",
                                        daemon=True)

    @property
    def base_url(self) -> str:
        return f"{self.origin}/fhir"

    @property
    def jwks_url(self) -> str:
        return f"{self.origin}/.well-known/jwks.json"

    def record(self, hit: Hit) -> None:
        with self._lock:
            self._hits.append(hit)

    def hits(self, marker: str) -> list[Hit]:
        """Requests whose path or query holds `marker` (a check's own patient id)."""
        with self._lock:
            return [h for h in self._hits if marker in h.target]

    def __enter__(self) -> FhirStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
