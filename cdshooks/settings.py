"""Service settings from `CDSHOOKS_*` environment variables, validated at start.

Every setting is declared once in `FIELDS` (name, default, parser, meaning); the README's configuration
table and `cdshooks check-config` are generated from the same list, so they cannot drift apart.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any
from urllib.parse import urlsplit

PREFIX = "CDSHOOKS_"


class SettingsError(ValueError):
    """A setting has a bad value; the message names the variable."""


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("expected one of 1/0, true/false, yes/no, on/off")


def _number(raw: str) -> float:
    """A finite decimal number; the message is for a person, not Python's own wording."""
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError("must be a number, e.g. 2.5") from None
    if not math.isfinite(value):  # inf, nan, 1e999: no budget or timeout is endless
        raise ValueError("must be a finite number: inf and nan are no limits")
    return value


def _whole(raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise ValueError("must be a whole number such as 5, without decimals, units or exponents") from None


def _positive_float(raw: str) -> float:
    value = _number(raw)
    if not value > 0:
        raise ValueError("must be a number greater than 0")
    return value


def _positive_int(raw: str) -> int:
    value = _whole(raw)
    if value < 1:
        raise ValueError("must be a whole number of at least 1")
    return value


def _seconds(raw: str) -> int:
    value = _whole(raw)
    if value < 0:
        raise ValueError("must be a whole number of seconds, 0 or more")
    return value


def _non_negative_float(raw: str) -> float:
    value = float(raw)
    if not value >= 0:
        raise ValueError("must be a number, 0 or more")
    return value


def _text(raw: str) -> str:
    value = raw.strip()
    if not value:
        raise ValueError("must not be empty")
    return value


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _url_list(raw: str) -> tuple[str, ...]:
    items = _csv(raw)
    for item in items:
        if item in {"*", "loopback"}:
            continue
        parts = urlsplit(item)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError(f"{item!r} is not an absolute http(s) URL")
    return items


def _base_url(raw: str) -> str:
    value = raw.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError("must be an absolute http(s) URL, e.g. https://cds.example.org")
    if parts.query or parts.fragment:
        raise ValueError("must not contain a query or fragment")
    return value


def _database_url(raw: str) -> str:
    value = raw.strip()
    if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
        raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
    return value


SIGNING_ALGORITHMS = ("ES256", "ES384", "ES512", "RS256", "RS384", "RS512")


def _jwt_algorithms(raw: str) -> tuple[str, ...]:
    items = tuple(item.upper() for item in _csv(raw))
    if not items:
        raise ValueError("name at least one algorithm, e.g. ES384,RS384")
    for item in items:
        if item == "NONE" or item.startswith("HS"):
            raise ValueError(f"{item} is never accepted (CDS Hooks forbids none and HMAC)")
        if item not in SIGNING_ALGORITHMS:
            raise ValueError(f"{item} is not one of {', '.join(SIGNING_ALGORITHMS)}")
    return items


def _spec_version(raw: str) -> str:
    value = raw.strip()
    if value and not re.fullmatch(r"STU[1-9]|\d+\.\d+(\.\d+)?", value):
        raise ValueError("must be empty (not advertised), STU1, STU2, STU3 or a version number such as 2.0.1")
    return value


def _redis_url(raw: str) -> str:
    value = raw.strip()
    if value and not value.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("must be a redis://, rediss:// or unix:// URL (or empty: the database is used)")
    return value


def _log_level(raw: str) -> str:
    value = raw.strip().upper()
    if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
    return value


@dataclass(frozen=True)
class Settings:
    """Effective configuration. Build with `Settings.from_env()` or `Settings(...)` in tests."""

    database_url: str = field(
        default="sqlite:///var/cdshooks.db",
        metadata={"parse": _database_url, "help": "Store for issued cards and feedback (SQLite file, "
                  "relative to the working directory, or PostgreSQL).", "secret": True},
    )
    public_base_url: str = field(
        default="http://127.0.0.1:8080",
        metadata={"parse": _base_url, "help": "Externally visible base URL of this service "
                  "(discovery is at <base>/cds-services); used for JWT audience checks behind proxies."},
    )
    fhir_timeout: float = field(
        default=1.5,
        metadata={"parse": _positive_float, "help": "Timeout in seconds of one FHIR request to fhirServer."},
    )
    fhir_budget: float = field(
        default=2.0,
        metadata={"parse": _positive_float, "help": "Overall seconds a hook call may spend fetching missing "
                  "prefetch from fhirServer; past it reads stop, and the call answers with the data it has (412 when "
                  "a required key is among what is missing)."},
    )
    fhir_max_pages: int = field(
        default=5,
        metadata={"parse": _positive_int, "help": "Most pages followed (Bundle.link next) per prefetch key."},
    )
    fhir_concurrency: int = field(
        default=12,
        metadata={"parse": _positive_int, "help": "Most concurrent FHIR requests per hook call (the default fetches "
                  "every prefetch key at once); one fhirServer holds at most twice this many of a worker's fetch "
                  "threads (4 × this)."},
    )
    fhir_max_response_bytes: int = field(
        default=32 * 1024 * 1024,
        metadata={"parse": _positive_int, "help": "Largest FHIR response body read from fhirServer, in bytes "
                  "(larger: the key counts as not fetched; the connection is closed at once)."},
    )
    fhir_allowlist: tuple[str, ...] = field(
        default=("loopback",),
        metadata={"parse": _url_list, "help": "Comma-separated fhirServer base URL prefixes the service may "
                  "call; `loopback` = any http(s) URL on 127.0.0.0/8, localhost or [::1]; `*` = any "
                  "(development only)."},
    )
    cors_origins: tuple[str, ...] = field(
        default=("*",),
        metadata={"parse": _url_list, "help": "Comma-separated origins allowed by CORS; `*` (the development "
                  "default) allows any origin without credentials in development mode only: with client "
                  "authentication on it allows none, so list the browser origins (`null` is never allowed)."},
    )
    max_body_bytes: int = field(
        default=10 * 1024 * 1024,
        metadata={"parse": _positive_int, "help": "Largest accepted request body in bytes (larger: 413)."},
    )
    max_cards: int = field(
        default=5,
        metadata={"parse": _positive_int, "help": "Most cards returned by one hook call."},
    )
    appropriate_order_cards: bool = field(
        default=False,
        metadata={"parse": _bool, "help": "Also send an info card confirming an order the ACR rates usually "
                  "appropriate (by default such an order gets its rating only)."},
    )
    pama_qcdsm_id: str = field(
        default="bonemets-cds",
        metadata={"parse": _text, "help": "The decision support mechanism identifier written on every rating "
                  "(Argonaut `pama-rating-qcdsm-consulted`, required by the guide): a qualified CDSM's G-code "
                  "where one is assigned, else this service's name."},
    )
    system_actions_in_extension: bool = field(
        default=False,
        metadata={"parse": _bool, "help": "Also mirror systemActions under response `extension.systemActions` "
                  "(the public CDS Hooks sandbox's PAMA screen reads only that)."},
    )
    discovery_version: str = field(
        default="",
        metadata={"parse": _spec_version, "help": "CDS Hooks version advertised as `version` on every discovery entry "
                  "(a CDS Hooks 3.0 field, e.g. STU2 for the 2.0 this service implements); empty: not sent, as 2.0 "
                  "defines no such field."},
    )
    knowledge_dir: str = field(
        default="",
        metadata={"parse": str.strip, "help": "Optional directory of YAML files overriding the shipped "
                  "knowledge (parameters, value sets, procedures, ACR table, medications, report phrases)."},
    )
    pseudonym_key: str = field(
        default="",
        metadata={"parse": str.strip, "help": "Secret for the keyed hash (HMAC-SHA256) that replaces patient ids "
                  "in the store; empty: a random key per process (hashes then do not match across restarts).",
                  "secret": True},
    )
    allow_unauthenticated: bool = field(
        default=False,
        metadata={"parse": _bool, "help": "Development mode: accept calls without a client JWT (fhirServer "
                  "then limited to CDSHOOKS_FHIR_ALLOWLIST). Never on a network."},
    )
    clients_file: str = field(
        default="",
        metadata={"parse": str.strip, "help": "JSON or YAML file of the trusted CDS clients (issuer, JWK set, "
                  "allowed fhirServers; see Security). Required unless authentication is off."},
    )
    jwt_algorithms: tuple[str, ...] = field(
        default=("ES384", "RS384"),
        metadata={"parse": _jwt_algorithms, "help": "Comma-separated JWT signature algorithms accepted; any of "
                  "ES256, ES384, ES512, RS256, RS384, RS512 (none and HMAC never)."},
    )
    jwt_leeway: int = field(
        default=30,
        metadata={"parse": _seconds, "help": "Seconds of clock skew tolerated when checking JWT exp, iat and nbf."},
    )
    jwt_max_lifetime: int = field(
        default=3600,
        metadata={"parse": _positive_int, "help": "Longest accepted JWT lifetime (exp - iat) in seconds; a jti is "
                  "remembered until its token expires."},
    )
    jwks_timeout: float = field(
        default=3.0,
        metadata={"parse": _positive_float, "help": "Timeout in seconds of one JWK set download (jwks_url, jku)."},
    )
    jwks_max_age: float = field(
        default=3600.0,
        metadata={"parse": _positive_float, "help": "Seconds a downloaded JWK set is used before it is downloaded "
                  "again."},
    )
    jwks_refresh_interval: float = field(
        default=60.0,
        metadata={"parse": _positive_float, "help": "Least seconds between two downloads of one JWK set when a "
                  "token names an unknown kid (no fetch storms)."},
    )
    redis_url: str = field(
        default="",
        metadata={"parse": _redis_url, "help": "Redis for the JWT replay cache shared by all workers; empty: the "
                  "database (CDSHOOKS_DATABASE_URL) holds it.", "secret": True},
    )
    max_json_depth: int = field(
        default=64,
        metadata={"parse": _positive_int, "help": "Deepest JSON nesting accepted in a request body outside `prefetch` "
                  "(deeper: 400); prefetch resources are bounded by the JSON parser (about 1,000 levels)."},
    )
    max_prefetch_entries: int = field(
        default=10_000,
        metadata={"parse": _positive_int, "help": "Most FHIR resources accepted in one request's prefetch, Bundle "
                  "entries counted one by one (more: 413)."},
    )
    store_user_comments: bool = field(
        default=False,
        metadata={"parse": _bool, "help": "Store the free-text userComment of feedback as sent (it may identify a "
                  "patient); off: only its length is kept, as `[comment withheld: N characters]`."},
    )
    silent_topics: tuple[str, ...] = field(
        default=(),
        metadata={"parse": _csv, "help": "Comma-separated card topics run in silent mode: evaluated and recorded in "
                  "the store as \"would have shown\", never sent (a card file's `mode: silent` does the same); "
                  "an unknown topic stops start-up."},
    )
    repeat_window_days: float = field(
        default=0.0,
        metadata={"parse": _non_negative_float, "help": "Days after a card was overridden during which the same "
                  "topic is not shown again for the same patient unless the evidence it rests on changed (the "
                  "suppression is recorded); 0: off. Needs one store shared by all replicas."},
    )
    store_user_ids: bool = field(
        default=False,
        metadata={"parse": _bool, "help": "Store the ordering clinician (`context.userId`) as sent, for the "
                  "per-orderer report; off: a keyed hash of it (CDSHOOKS_PSEUDONYM_KEY)."},
    )
    log_level: str = field(
        default="INFO",
        metadata={"parse": _log_level, "help": "Log level: DEBUG, INFO, WARNING or ERROR."},
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = env_name(f.name)
            if name in env:
                values[f.name] = _parse(f, name, env[name])
        return cls(**values)

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def described(self) -> list[tuple[str, str, bool]]:
        """(variable, effective value, is-secret) for check-config."""
        out = []
        for f in fields(self):
            value = getattr(self, f.name)
            shown = ",".join(value) if isinstance(value, tuple) else str(value)
            out.append((env_name(f.name), shown, bool(f.metadata.get("secret"))))
        return out


def env_name(field_name: str) -> str:
    return PREFIX + field_name.upper()


def _parse(f: Any, name: str, raw: str) -> Any:
    parser: Callable[[str], Any] = f.metadata["parse"]
    try:
        return parser(raw)
    except (ValueError, TypeError) as exc:
        default = _shown_default(f.default)
        hint = "unset it to leave it empty" if f.default == "" else f"unset it to use the default, {default}"
        raise SettingsError(f"{name}={raw!r}: {exc}; {hint}") from None


# CDSHOOKS_ names read by the test suite, not by the service: not reported as unknown
NOT_SETTINGS = frozenset({"CDSHOOKS_REQUIRE_SERVICES", "CDSHOOKS_TEST_POSTGRES", "CDSHOOKS_TEST_REDIS"})


def unknown_names(environ: Mapping[str, str] | None = None) -> list[str]:
    """One line per `CDSHOOKS_*` variable that is no setting (a misspelling is otherwise silently ignored),
    with the nearest setting name when there is one."""
    env = os.environ if environ is None else environ
    known = [env_name(f.name) for f in fields(Settings)]
    out = []
    for name in sorted(env):
        if not name.startswith(PREFIX) or name in known or name in NOT_SETTINGS:
            continue
        near = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
        hint = f"; did you mean {near[0]}?" if near else "; see the README's Configuration table"
        out.append(f"{name} is not a setting and is ignored{hint}")
    return out


def documentation() -> list[tuple[str, str, str]]:
    """(variable, default, meaning) for every setting, for the README table."""
    rows = []
    for f in fields(Settings):
        rows.append((env_name(f.name), _shown_default(f.default), f.metadata["help"]))
    return rows


def _shown_default(default: Any) -> str:
    if isinstance(default, bool):
        return "1" if default else "0"
    if isinstance(default, tuple):
        return ",".join(default) or "(empty)"
    return str(default) if default != "" else "(empty)"


def redact_url(url: str) -> str:
    """Hide a password in a database URL."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
