"""JWK sets of the trusted clients: from a file or a URL, cached, refreshed without fetch storms.

- A file is read at start-up (a bad one stops start-up) and read again, at most once per refresh interval,
  when a token names a kid it does not hold (keys rotated on disk).
- A URL is downloaded on first use with a timeout, without redirects and with a size cap; it is downloaded
  again when older than `max_age`, or when a token names an unknown kid, but never more than once per
  `refresh_interval`: a stream of tokens with made-up kids costs at most one download per interval. A failed
  download keeps the keys already held.
- Only signature keys are kept: symmetric (`oct`) keys, keys with `use` other than `sig`, keys without `kid`
  and keys PyJWT cannot load are skipped; private parts, if a file carries them, are dropped.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt import PyJWK
from jwt.exceptions import PyJWTError

log = logging.getLogger(__name__)

MAX_JWKS_BYTES = 256 * 1024

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


class JwksError(ValueError):
    """A JWK set cannot be used (message names the problem, never key material)."""


@dataclass(frozen=True)
class Key:
    kid: str
    key: PublicKey
    alg: str | None  # the JWK's own `alg`, if it names one


def parse_jwks(data: Any) -> dict[str, Key]:
    """Usable signature keys of a JWK set, by kid. JwksError when the set holds none."""
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise JwksError("not a JWK set (a JSON object with a `keys` array)")
    keys: dict[str, Key] = {}
    for jwk in data["keys"]:
        if not isinstance(jwk, dict):
            continue
        kid, kty, use = jwk.get("kid"), jwk.get("kty"), jwk.get("use", "sig")
        if not isinstance(kid, str) or not kid or kid in keys or use != "sig" or kty not in {"EC", "RSA"}:
            continue
        try:
            loaded = PyJWK(jwk).key
        except (PyJWTError, ValueError, TypeError, KeyError):
            continue
        if isinstance(loaded, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            loaded = loaded.public_key()
        if not isinstance(loaded, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
            continue
        alg = jwk.get("alg")
        keys[kid] = Key(kid, loaded, alg if isinstance(alg, str) else None)
    if not keys:
        raise JwksError("the JWK set holds no usable signature key (EC or RSA, with kid, use sig)")
    return keys


def load_jwks_file(path: Path) -> dict[str, Key]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise JwksError(f"{path}: cannot be read ({type(exc).__name__})") from None
    if len(raw) > MAX_JWKS_BYTES:
        raise JwksError(f"{path}: larger than {MAX_JWKS_BYTES} bytes")
    return parse_jwks_bytes(raw, str(path))


def parse_jwks_bytes(raw: bytes, where: str) -> dict[str, Key]:
    """A JWK set from raw JSON bytes; errors name `where` (a path or URL)."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise JwksError(f"{where}: not valid JSON") from None
    try:
        return parse_jwks(data)
    except JwksError as exc:
        raise JwksError(f"{where}: {exc}") from None


class KeySource:
    """One JWK set (file or URL) with its cache and refresh rules. Thread-safe."""

    def __init__(
        self,
        location: str | Path,
        *,
        session: requests.Session,
        timeout: float,
        max_age: float,
        refresh_interval: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.location = location
        self._is_file = isinstance(location, Path)
        self._session = session
        self._timeout = timeout
        self._max_age = max_age
        self._interval = refresh_interval
        self._now = monotonic
        self._lock = threading.Lock()
        self._keys: dict[str, Key] = {}
        self._loaded_at: float | None = None  # last successful load
        self._tried_at: float | None = None  # last attempt, successful or not
        self.fetches = 0
        if self._is_file:
            self._keys = load_jwks_file(Path(location))
            self._loaded_at = self._tried_at = self._now()

    def get(self, kid: str) -> Key | None:
        """The key for `kid`, loading or refreshing the set when the rules allow it."""
        key = self._keys.get(kid)
        if key is not None and not self._stale():
            return key
        with self._lock:
            key = self._keys.get(kid)
            if key is not None and not self._stale():
                return key
            if self._may_try():
                self._refresh()
            return self._keys.get(kid)

    def _stale(self) -> bool:
        if self._loaded_at is None:
            return True
        return not self._is_file and self._now() - self._loaded_at > self._max_age

    def _may_try(self) -> bool:
        return self._tried_at is None or self._now() - self._tried_at >= self._interval

    def _refresh(self) -> None:
        self._tried_at = self._now()
        self.fetches += 1
        try:
            keys = load_jwks_file(Path(self.location)) if self._is_file else self._download()
        except JwksError as exc:
            log.warning("JWK set not refreshed; keeping the keys held", extra={"event": "jwks", "reason": str(exc)})
            return
        self._keys = keys
        self._loaded_at = self._tried_at

    def _download(self) -> dict[str, Key]:
        url = str(self.location)
        try:
            with self._session.get(url, timeout=self._timeout, allow_redirects=False, stream=True,
                                   headers={"Accept": "application/json, application/jwk-set+json"}) as response:
                if response.status_code != 200:
                    raise JwksError(f"{url}: HTTP {response.status_code}")
                body = b""
                for chunk in response.iter_content(16384):
                    body += chunk
                    if len(body) > MAX_JWKS_BYTES:
                        raise JwksError(f"{url}: larger than {MAX_JWKS_BYTES} bytes")
        except requests.RequestException as exc:
            raise JwksError(f"{url}: {type(exc).__name__}") from None
        return parse_jwks_bytes(body, url)


class KeyStore:
    """Key sources by location, shared by clients' jwks_file / jwks_url and allowlisted jku URLs."""

    def __init__(
        self,
        *,
        timeout: float,
        max_age: float,
        refresh_interval: float,
        session: requests.Session | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if session is None:
            session = requests.Session()
            session.trust_env = False
        self._session = session
        self._options: dict[str, Any] = {"timeout": timeout, "max_age": max_age,
                                         "refresh_interval": refresh_interval, "monotonic": monotonic}
        self._sources: dict[str, KeySource] = {}
        self._lock = threading.Lock()

    def source(self, location: str | Path) -> KeySource:
        name = str(location)
        found = self._sources.get(name)
        if found is not None:
            return found
        with self._lock:
            found = self._sources.get(name)
            if found is None:
                found = KeySource(location, session=self._session, **self._options)
                self._sources[name] = found
            return found

    def close(self) -> None:
        self._session.close()
