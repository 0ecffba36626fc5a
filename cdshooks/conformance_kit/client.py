"""HTTP to the service under test, bounded in time and size; every answer (or its absence) is an `Exchange`.

No call raises: a refused connection, a timeout, a redirect, a body past the byte cap or an answer that
trickles in past the call's deadline all come back as an Exchange the checks can judge. The whole run has a
deadline too; once it has passed, calls are not made and say so. Authorization headers never reach the
evidence (only the method, URL and an excerpt of the body do).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.structures import CaseInsensitiveDict

from cdshooks.replay import TokenSigner

EXCERPT = 400
MAX_BYTES = 8 * 1024 * 1024
JSON_TYPE = "application/json"


_ACCESS_TOKEN = re.compile(r'("access_token"\s*:\s*)"[^"]*"')


def excerpt(data: bytes | str, limit: int = EXCERPT) -> str:
    """A one-line excerpt, with any fhirAuthorization access token replaced by ***."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    text = _ACCESS_TOKEN.sub(r'\1"***"', " ".join(text.split()))
    return text if len(text) <= limit else text[:limit] + f" ... ({len(text)} characters)"


@dataclass
class Exchange:
    method: str
    url: str
    sent: bytes = b""
    status: int | None = None  # None: no HTTP answer (see `error`)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    elapsed_ms: float = 0.0
    error: str = ""

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()

    @property
    def is_json_type(self) -> bool:
        kind = self.content_type
        return kind == JSON_TYPE or (kind.startswith("application/") and kind.endswith("+json"))

    def parsed(self) -> tuple[bool, Any]:
        """(True, value) when the body is JSON, else (False, None)."""
        try:
            return True, json.loads(self.body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return False, None

    def request_text(self) -> str:
        sent = f" {excerpt(self.sent)}" if self.sent else ""
        return f"{self.method} {self.url}{sent}"

    def response_text(self) -> str:
        if self.status is None:
            return f"no answer: {self.error}"
        kind = f" {self.content_type}" if self.content_type else ""
        note = f" [{self.error}]" if self.error else ""
        return f"HTTP {self.status}{kind} {self.elapsed_ms:.0f} ms{note}: {excerpt(self.body) or '(empty body)'}"

    def is_operation_outcome(self) -> bool:
        ok, body = self.parsed()
        return ok and isinstance(body, dict) and body.get("resourceType") == "OperationOutcome"


class ServiceClient:
    """Calls `{base}{path}`; signs a client JWT per call when a signer is given (aud = audience base + path)."""

    def __init__(self, base_url: str, *, signer: TokenSigner | None = None, timeout: float = 10.0,
                 deadline: float | None = None, verify_tls: bool = True, max_bytes: int = MAX_BYTES) -> None:
        self.base_url = base_url.rstrip("/")
        self.signer = signer
        self.timeout = timeout
        self.deadline = deadline if deadline is not None else time.monotonic() + 3600
        self.max_bytes = max_bytes
        self.verify_tls = verify_tls
        self._session = requests.Session()
        self._session.trust_env = False  # no proxies or .netrc credentials from the environment
        self._session.verify = verify_tls

    def close(self) -> None:
        self._session.close()

    def token(self, path: str, **claims: Any) -> str | None:
        return self.signer.token(self.base_url, path, **claims) if self.signer else None

    def get(self, path: str, *, signed: bool = True, token: str | None = None,
            headers: Mapping[str, str] | None = None) -> Exchange:
        return self.call("GET", path, signed=signed, token=token, headers=headers)

    def post(self, path: str, body: Any = None, *, raw: bytes | None = None, signed: bool = True,
             token: str | None = None, headers: Mapping[str, str] | None = None) -> Exchange:
        data = raw if raw is not None else json.dumps(body).encode()
        sent_headers = {"Content-Type": JSON_TYPE} | dict(headers or {})
        return self.call("POST", path, data=data, signed=signed, token=token, headers=sent_headers)

    def call(self, method: str, path: str, *, data: bytes = b"", signed: bool = True, token: str | None = None,
             headers: Mapping[str, str] | None = None) -> Exchange:
        url = self.base_url + path
        exchange = Exchange(method, url, data)
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            exchange.error = "not sent: the run's time budget (--max-seconds) is used up"
            return exchange
        sent_headers = {"Accept": f"{JSON_TYPE}, application/fhir+json"} | dict(headers or {})
        if token is None and signed:
            token = self.token(path)
        if token is not None:
            sent_headers["Authorization"] = f"Bearer {token}"
        limit = min(self.timeout, remaining)
        started = time.monotonic()
        try:
            with self._session.request(method, url, data=data or None, headers=sent_headers, stream=True,
                                       allow_redirects=False, timeout=(min(5.0, limit), limit)) as response:
                exchange.status = response.status_code
                exchange.headers = CaseInsensitiveDict(response.headers)
                exchange.body, exchange.error = self._read(response, started + limit)
        except Exception as exc:  # any transport or protocol failure is the service's answer, never a crash
            exchange.error = f"{type(exc).__name__}: {excerpt(str(exc), 200)}"
        exchange.elapsed_ms = (time.monotonic() - started) * 1000
        return exchange

    def _read(self, response: requests.Response, deadline: float) -> tuple[bytes, str]:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(64 * 1024):
            size += len(chunk)
            if size > self.max_bytes:
                return b"".join(chunks), f"body larger than {self.max_bytes} bytes: cut off"
            chunks.append(chunk)
            if time.monotonic() > deadline:
                return b"".join(chunks), f"body not complete within {self.timeout:g} s: cut off"
        return b"".join(chunks), ""
