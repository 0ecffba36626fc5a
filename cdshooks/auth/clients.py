"""The registry of trusted CDS clients, read from `CDSHOOKS_CLIENTS_FILE` (JSON or YAML).

```yaml
clients:
  - issuer: https://sandbox.cds-hooks.org      # required, exact match of the JWT iss
    jwks_file: sandbox-jwks.json               # exactly one of jwks_file | jwks_url
    jku_allowlist: [https://sandbox.cds-hooks.org/.well-known/jwks.json]   # optional
    tenants: [org-1]                           # optional; when given, the tenant claim must match one
    fhir_servers: [https://ehr.example.org/fhir]  # fhirServer base URLs this client may send us
    allow_http_fhir: false                     # optional, development only
```

Every problem is reported as `ClientsError` naming the file and the entry (`clients[1].jwks_url: ...`), so a bad
file stops start-up with a message that says what to fix. Relative `jwks_file` paths are resolved against the
clients file's folder; URLs are normalized (scheme and host lower-cased, default port dropped).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from cdshooks.auth.jwks import JwksError, load_jwks_file
from cdshooks.fhir.allowlist import FhirServerPolicy
from cdshooks.settings import is_loopback_host

_KEYS = {"issuer", "jwks_file", "jwks_url", "jku_allowlist", "tenants", "fhir_servers", "allow_http_fhir"}
_DEFAULT_PORTS = {"http": 80, "https": 443}


class ClientsError(ValueError):
    """The clients file cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Client:
    issuer: str
    jwks_file: Path | None = None
    jwks_url: str | None = None
    jku_allowlist: tuple[str, ...] = ()
    tenants: tuple[str, ...] = ()
    fhir_servers: tuple[str, ...] = ()
    allow_http_fhir: bool = False
    fhir_policy: FhirServerPolicy = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        policy = FhirServerPolicy.of(self.fhir_servers, https_only=not self.allow_http_fhir)
        object.__setattr__(self, "fhir_policy", policy)

    @property
    def key_location(self) -> str:
        return str(self.jwks_file) if self.jwks_file else str(self.jwks_url)


class ClientRegistry:
    """The trusted clients by issuer (empty: every call is refused)."""

    def __init__(self, clients: tuple[Client, ...] = (), source: Path | None = None) -> None:
        self.clients = clients
        self.source = source
        self._by_issuer = {c.issuer: c for c in clients}

    def get(self, issuer: str) -> Client | None:
        return self._by_issuer.get(issuer)

    def __len__(self) -> int:
        return len(self.clients)


def normalize_url(url: str, *, allow_query: bool = True) -> str:
    """Canonical form of an absolute http(s) URL; ValueError naming the problem otherwise."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError("must be an absolute http(s) URL")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise ValueError(f"{url!r} is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"{url!r} is not an absolute http(s) URL")
    if parts.username or parts.password:
        raise ValueError(f"{url!r} must not carry credentials")
    if parts.fragment:
        raise ValueError(f"{url!r} must not have a fragment")
    if parts.query and not allow_query:
        raise ValueError(f"{url!r} must not have a query")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = parts.path.rstrip("/")
    return urlunsplit((scheme, netloc, path, parts.query, ""))


def _secure_url(url: str, what: str) -> str:
    value = normalize_url(url)
    host = urlsplit(value).hostname
    if not value.startswith("https://") and not is_loopback_host(host):
        raise ValueError(f"{what} {url!r} must use https (plain http only on loopback)")
    return value


def _strings(entry: Mapping[str, Any], key: str) -> list[str]:
    value = entry.get(key, [])
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError("must be a list of non-empty strings")
    return [v.strip() for v in value]


def _client(entry: Any, folder: Path) -> Client:
    if not isinstance(entry, Mapping):
        raise ValueError("must be a mapping with at least `issuer` and `jwks_file` or `jwks_url`")
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(map(str, unknown))}; allowed: {', '.join(sorted(_KEYS))}")
    issuer = entry.get("issuer")
    if not isinstance(issuer, str) or not issuer.strip() or any(c.isspace() for c in issuer.strip()):
        raise ValueError("issuer: required, a non-empty string without spaces (the exact JWT iss)")
    issuer = issuer.strip()

    def problem(key: str, exc: Exception) -> ValueError:
        return ValueError(f"{key}: {exc}")

    has_file, has_url = entry.get("jwks_file") is not None, entry.get("jwks_url") is not None
    if has_file == has_url:
        raise ValueError("exactly one of jwks_file | jwks_url is required")
    jwks_file: Path | None = None
    jwks_url: str | None = None
    if has_file:
        raw = entry["jwks_file"]
        if not isinstance(raw, str) or not raw.strip():
            raise ValueError("jwks_file: must be a file path")
        jwks_file = Path(raw.strip()).expanduser()
        if not jwks_file.is_absolute():
            jwks_file = (folder / jwks_file).resolve()
        if not jwks_file.is_file():
            raise ValueError(f"jwks_file: {jwks_file} does not exist or is not a file")
        try:
            load_jwks_file(jwks_file)
        except JwksError as exc:
            raise problem("jwks_file", exc) from None
    else:
        try:
            jwks_url = _secure_url(entry["jwks_url"], "jwks_url")
        except ValueError as exc:
            raise problem("jwks_url", exc) from None
    try:
        jku = tuple(dict.fromkeys(_secure_url(u, "jku") for u in _strings(entry, "jku_allowlist")))
    except ValueError as exc:
        raise problem("jku_allowlist", exc) from None
    try:
        tenants = tuple(dict.fromkeys(_strings(entry, "tenants")))
    except ValueError as exc:
        raise problem("tenants", exc) from None
    allow_http = entry.get("allow_http_fhir", False)
    if not isinstance(allow_http, bool):
        raise ValueError("allow_http_fhir: must be true or false")
    servers: list[str] = []
    try:
        for url in _strings(entry, "fhir_servers"):
            value = normalize_url(url, allow_query=False)
            if value.startswith("http://") and not allow_http:
                raise ValueError(f"{url!r} is plain http: use https, or set allow_http_fhir: true (development only)")
            servers.append(value)
    except ValueError as exc:
        raise problem("fhir_servers", exc) from None
    return Client(issuer=issuer, jwks_file=jwks_file, jwks_url=jwks_url, jku_allowlist=jku, tenants=tenants,
                  fhir_servers=tuple(dict.fromkeys(servers)), allow_http_fhir=allow_http)


def parse_clients(data: Any, folder: Path) -> tuple[Client, ...]:
    """Clients from the decoded file content; ValueError naming the entry on any problem."""
    if not isinstance(data, Mapping) or "clients" not in data:
        raise ValueError("must be a mapping with a `clients` list")
    extra = sorted(set(data) - {"clients"})
    if extra:
        raise ValueError(f"unknown top-level key(s) {', '.join(map(str, extra))}; only `clients` is allowed")
    entries = data["clients"]
    if not isinstance(entries, list) or not entries:
        raise ValueError("`clients` must be a non-empty list")
    clients: list[Client] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        try:
            client = _client(entry, folder)
        except ValueError as exc:
            raise ValueError(f"clients[{i}]: {exc}") from None
        if client.issuer in seen:
            raise ValueError(f"clients[{i}]: issuer {client.issuer!r} is listed twice")
        seen.add(client.issuer)
        clients.append(client)
    return tuple(clients)


def load_clients(path: str | Path) -> ClientRegistry:
    """Read and check the clients file. Raises ClientsError with a message naming the problem."""
    file = Path(path).expanduser()
    where = f"CDSHOOKS_CLIENTS_FILE {str(path)!r}"
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ClientsError(f"{where}: cannot be read ({detail})") from None
    try:
        data = json.loads(text) if file.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        kind = "JSON" if file.suffix.lower() == ".json" else "YAML"
        if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
            detail = f"{exc.problem} at line {exc.problem_mark.line + 1}"
        else:
            detail = str(exc).splitlines()[0][:200]
        raise ClientsError(f"{where}: not valid {kind} ({detail})") from None
    try:
        clients = parse_clients(data, file.resolve().parent)
    except ValueError as exc:
        raise ClientsError(f"{where}: {exc}") from None
    return ClientRegistry(clients, file)
