"""A small FHIR R4 read/search client for the EHR's fhirServer.

- One pooled `requests.Session` per app (keep-alive across hook calls).
- The bearer token from `fhirAuthorization` is sent only to the fhirServer base it was issued for;
  redirects are never followed (a redirect could carry it to another host).
- `next` links are followed up to a page cap and only on the same server: a link whose origin differs
  (servers behind proxies often advertise another host or port) is re-based onto fhirServer when its
  path lies under fhirServer's path, else paging stops.
- Every request is bounded by the per-request timeout and by the caller's deadline, and every body by a
  byte cap: the body is streamed in small reads, each checked against the deadline and the cap, and the
  connection is closed the moment either is passed (a server that drips bytes or sends a gigabyte costs
  at most the budget and the cap, and nothing goes on in the background after the call has answered).
- A search is cut off once the call's resource cap is reached (`max_entries`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from cdshooks.fhir.allowlist import has_dot_segments

Resource = dict[str, Any]

FHIR_JSON = "application/fhir+json"
READ_CHUNK = 64 * 1024  # one socket read at most; the deadline and the cap are checked between reads
DEFAULT_MAX_BYTES = 32 * 1024 * 1024
DEFAULT_MAX_ENTRIES = 20_000


class FetchError(Exception):
    """A FHIR request failed. `kind`: timeout | http | transport | invalid | budget | too-large."""

    def __init__(self, kind: str, detail: str, status: int | None = None) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail
        self.status = status


def new_session(pool_size: int = 16) -> requests.Session:
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.trust_env = False  # no proxies or .netrc credentials from the environment
    return session


@dataclass(frozen=True)
class FetchResult:
    resources: tuple[Resource, ...]
    pages: int
    truncated: bool  # a next link was left unfollowed (page cap, entry cap, deadline or foreign host)


class FhirClient:
    def __init__(
        self,
        session: requests.Session,
        base_url: str,
        access_token: str | None,
        timeout: float,
        max_pages: int,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._token = access_token
        self._timeout = timeout
        self._max_pages = max_pages
        self._max_bytes = max_bytes
        self._max_entries = max_entries

    @property
    def base_url(self) -> str:
        return self._base

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": FHIR_JSON}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def _get(self, url: str, deadline: float) -> Resource:
        remaining = deadline - time.monotonic()
        if remaining <= 0.01:
            raise FetchError("budget", "time budget used up")
        timeout = min(self._timeout, remaining)
        try:
            response = self._session.get(url, headers=self._headers(), timeout=timeout, allow_redirects=False,
                                         stream=True)
        except requests.Timeout:
            raise FetchError("timeout", f"no answer within {timeout:.2f}s") from None
        except requests.RequestException as exc:
            raise FetchError("transport", type(exc).__name__) from None
        try:
            if response.status_code != 200:
                raise FetchError("http", f"HTTP {response.status_code}", response.status_code)
            raw = self._read_body(response, deadline)
        finally:
            response.close()  # frees the connection now, whatever was left unread
        try:
            body = json.loads(raw)
        except ValueError:
            raise FetchError("invalid", "response is not JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
            raise FetchError("invalid", "response is not a FHIR resource")
        if body["resourceType"] == "OperationOutcome":
            raise FetchError("invalid", "server answered with an OperationOutcome")
        return body

    def _read_body(self, response: requests.Response, deadline: float) -> bytes:
        """The body, read one socket read at a time; refuses past the byte cap or the deadline."""
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            raise FetchError("too-large", f"body of {declared} bytes exceeds {self._max_bytes}")
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                chunk = response.raw.read1(READ_CHUNK, decode_content=True)
                if not chunk:
                    break
                size += len(chunk)
                if size > self._max_bytes:
                    raise FetchError("too-large", f"body exceeds {self._max_bytes} bytes")
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise FetchError("budget", "time budget used up while reading the body")
        except requests.RequestException as exc:
            raise FetchError("transport", type(exc).__name__) from None
        except FetchError:
            raise
        except Exception as exc:  # urllib3 read errors (timeouts, protocol, decoding)
            kind = "timeout" if "timeout" in type(exc).__name__.lower() else "transport"
            raise FetchError(kind, type(exc).__name__) from None
        return b"".join(chunks)

    def rebase(self, link: str) -> str | None:
        """Map a `next` link onto our fhirServer base; None if it cannot safely be followed."""
        base = urlsplit(self._base)
        target = urlsplit(link)
        if has_dot_segments(target.path):
            return None  # could climb out of fhirServer's path
        if not target.scheme:  # relative link
            return f"{self._base}/{link.lstrip('/')}"
        if (target.scheme, target.netloc) == (base.scheme, base.netloc):
            return link
        base_path = base.path.rstrip("/")
        if target.path == base_path or target.path.startswith(base_path + "/"):
            return urlunsplit((base.scheme, base.netloc, target.path, target.query, ""))
        return None

    def fetch(self, relative: str, deadline: float) -> FetchResult:
        """GET `{base}/{relative}`; a searchset is followed through `next` links."""
        body = self._get(f"{self._base}/{relative.lstrip('/')}", deadline)
        return self.complete(body, deadline)

    def complete(self, body: Resource, deadline: float, pages_done: int = 1) -> FetchResult:
        """Resources of a resource or Bundle, following `next` pages from this server (bounded)."""
        if body.get("resourceType") != "Bundle":
            return FetchResult((body,), pages_done, False)
        resources = list(bundle_resources(body))
        pages = pages_done
        while True:
            link = next_link(body)
            if len(resources) > self._max_entries:
                return FetchResult(tuple(resources[: self._max_entries]), pages, True)
            if link is None:
                return FetchResult(tuple(resources), pages, False)
            url = self.rebase(link)
            if (url is None or pages >= self._max_pages or len(resources) >= self._max_entries
                    or deadline - time.monotonic() <= 0.01):
                return FetchResult(tuple(resources[: self._max_entries]), pages, True)
            body = self._get(url, deadline)
            if body.get("resourceType") != "Bundle":
                raise FetchError("invalid", "next page is not a Bundle")
            resources.extend(bundle_resources(body))
            pages += 1


def bundle_resources(bundle: Resource) -> list[Resource]:
    """Resources of a Bundle's entries (OperationOutcome entries, e.g. search warnings, dropped)."""
    out: list[Resource] = []
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        return out
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and type(rtype := resource.get("resourceType")) is str \
                and rtype != "OperationOutcome":
            out.append(resource)
    return out


def next_link(bundle: Resource) -> str | None:
    links = bundle.get("link")
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return link["url"]
    return None
