"""Which fhirServer base URLs the service may call (SSRF guard).

Entries are URL prefixes compared on normalized URLs (scheme and host lower-cased, default ports removed,
path boundary respected: `https://ehr.example.org/fhir` allows `.../fhir` and `.../fhir/r4`, not
`.../fhir-evil`). `loopback` allows any http(s) URL on 127.0.0.0/8, localhost or [::1]; `*` allows any.

Two policies use it: the `CDSHOOKS_FHIR_ALLOWLIST` in unauthenticated development mode, and, for an
authenticated client, that client's `fhir_servers` with `https_only` unless the client sets `allow_http_fhir`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from cdshooks.settings import is_loopback_host

_DEFAULT_PORTS = {"http": 80, "https": 443}


def has_dot_segments(path: str) -> bool:
    """True when a URL path holds `.` or `..` segments, raw or percent-encoded (`%2e%2e`, `..%2f`), or a
    backslash: such a path can climb out of the prefix it appears to lie under, so it is refused, not
    resolved (a server may decode it differently from us)."""
    decoded = path
    for _ in range(3):  # double encoding (%252e) decoded as far as a server might
        once = unquote(decoded)
        if once == decoded:
            break
        decoded = once
    if "\\" in decoded:
        return True
    return any(segment in {".", ".."} for segment in decoded.split("/"))


def normalize(url: str) -> tuple[str, str, int, str] | None:
    """(scheme, host, port, path-with-trailing-slash) or None for anything that is not an http(s) URL or
    whose path has dot segments."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username or parts.password:
        return None
    path = parts.path or "/"
    if has_dot_segments(path):
        return None
    if not path.endswith("/"):
        path += "/"
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme], path


@dataclass(frozen=True)
class FhirServerPolicy:
    entries: tuple[str, ...]
    https_only: bool = False

    @classmethod
    def of(cls, entries: Iterable[str], *, https_only: bool = False) -> FhirServerPolicy:
        return cls(tuple(entries), https_only)

    def allows(self, url: str | None) -> bool:
        return self.refusal(url) is None

    def refusal(self, url: str | None) -> str | None:
        """None when `url` may be called, else why not (safe to show: names no URL)."""
        if not url:
            return "missing"
        try:
            if has_dot_segments(urlsplit(url.strip()).path):
                return "path has dot segments"
        except ValueError:
            return "not an http(s) URL"
        target = normalize(url)
        if target is None:
            return "not an http(s) URL"
        if self.https_only and target[0] != "https":
            return "not https (this client does not allow plain http)"
        for entry in self.entries:
            if entry == "*":
                return None
            if entry == "loopback":
                if is_loopback_host(target[1]):
                    return None
                continue
            allowed = normalize(entry)
            if allowed and allowed[:3] == target[:3] and target[3].startswith(allowed[3]):
                return None
        return "not on the allowlist"
