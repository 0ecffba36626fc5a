"""Verify the client JWT of a CDS Hooks call (CDS Hooks 2.0 "Trusting CDS Clients" and its best practices).

Order of checks (cheap and key-free first; the replay cache last so rejected tokens never use it up):
1. `Authorization: Bearer <compact JWS>`;
2. header: `typ` JWT, `kid` present, `alg` in the allowed set (none and HMAC refused before anything else);
3. `iss` registered; a `jku`, if any, on that client's allowlist;
4. the key: the client's JWK set (file or URL), else the allowlisted `jku` set; refreshed at most once per
   interval on an unknown kid; key type and curve must fit `alg`;
5. signature, `aud` = public URL of the endpoint called, `exp`/`iat` (and `nbf` if present) with leeway,
   `jti` required (PyJWT);
6. lifetime `exp - iat` capped; `tenant` when the client lists tenants;
7. `jti` not seen before within its lifetime.

`AuthError.reason` says what failed, for the log: fixed wording only. Nothing a caller controls is echoed (an
unregistered `iss`, a `kid` or a `jku` could carry anything, patient ids included); `AuthError.issuer` is set
only to a registered issuer.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cdshooks.auth.clients import Client, ClientRegistry, normalize_url
from cdshooks.auth.jwks import Key, KeyStore
from cdshooks.store.replay_cache import ReplayCache

MAX_TOKEN_CHARS = 16 * 1024
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_CURVES = {"ES256": ec.SECP256R1, "ES384": ec.SECP384R1, "ES512": ec.SECP521R1}
_JWA_NAMES = frozenset({"none", "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512",
                        "ES256K", "PS256", "PS384", "PS512", "EdDSA", "Ed25519", "Ed448"})


def _shown(alg: str) -> str:
    """`alg` for the log: a standard name as is, anything else replaced."""
    return alg if alg in _JWA_NAMES else "(non-standard)"


class AuthError(Exception):
    """The call is not authenticated. `reason` is for the log only (the client gets a generic 401)."""

    def __init__(self, reason: str, issuer: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.issuer = issuer


@dataclass(frozen=True)
class Verified:
    client: Client
    kid: str
    tenant: str | None


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise AuthError("no Authorization header")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise AuthError("Authorization is not a Bearer token")
    token = token.strip()
    if not token:
        raise AuthError("empty Bearer token")
    if len(token) > MAX_TOKEN_CHARS:
        raise AuthError("Bearer token too long")
    if not _COMPACT_JWS.fullmatch(token):
        raise AuthError("Bearer token is not a compact JWS (header.payload.signature)")
    return token


def _key_fits(key: Key, alg: str) -> bool:
    if key.alg is not None and key.alg != alg:
        return False
    if alg.startswith("ES"):
        return isinstance(key.key, ec.EllipticCurvePublicKey) and isinstance(key.key.curve, _CURVES[alg])
    return isinstance(key.key, rsa.RSAPublicKey) and key.key.key_size >= 2048


class JwtVerifier:
    def __init__(
        self,
        registry: ClientRegistry,
        keys: KeyStore,
        replay: ReplayCache,
        *,
        algorithms: Sequence[str] = ("ES384", "RS384"),
        leeway: int = 30,
        max_lifetime: int = 3600,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry = registry
        self.keys = keys
        self.replay = replay
        self.algorithms = frozenset(algorithms)
        self.leeway = leeway
        self.max_lifetime = max_lifetime
        self._time = wall_clock
        # JWK sets from files are read now: a bad one stops start-up
        for client in registry.clients:
            keys.source(client.jwks_file if client.jwks_file else str(client.jwks_url))

    def verify(self, authorization: str | None, audience: str) -> Verified:
        """The client of a valid token for `audience`; AuthError otherwise (ReplayCacheUnavailable passes)."""
        token = bearer_token(authorization)
        header = self._header(token)
        alg, kid = header["alg"], header["kid"]
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise AuthError(f"payload unreadable ({type(exc).__name__})") from None
        iss = unverified.get("iss")
        if not isinstance(iss, str) or not iss:
            raise AuthError("no iss claim")
        client = self.registry.get(iss)
        if client is None:
            raise AuthError("iss not registered")
        key = self._key(client, header, kid)
        if not _key_fits(key, alg):
            raise AuthError(f"the key named by kid does not fit alg {alg}", client.issuer)
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=[alg], audience=audience, issuer=client.issuer, leeway=self.leeway,
                options={"require": ["iss", "aud", "exp", "iat", "jti"], "verify_signature": True},
            )
        except jwt.PyJWTError as exc:
            raise AuthError(_decode_reason(exc), client.issuer) from None
        now = self._time()
        exp, iat = claims["exp"], claims["iat"]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (exp, iat)):
            raise AuthError("exp and iat must be numbers", client.issuer)
        if iat > now + self.leeway:
            raise AuthError("iat in the future", client.issuer)
        if exp - iat > self.max_lifetime:
            raise AuthError(f"lifetime over {self.max_lifetime} s", client.issuer)
        jti = claims["jti"]
        if not isinstance(jti, str) or not jti or len(jti) > 512:
            raise AuthError("jti must be a non-empty string", client.issuer)
        tenant = claims.get("tenant")
        if client.tenants and tenant not in client.tenants:
            raise AuthError("tenant missing or not listed for this client", client.issuer)
        if not self.replay.first_use(client.issuer, jti, float(exp) + self.leeway, now, float(iat)):
            raise AuthError("jti replayed (or issued before the replay cache's memory began)", client.issuer)
        return Verified(client, kid, tenant if isinstance(tenant, str) else None)

    def _header(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthError(f"header unreadable ({type(exc).__name__})") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or not alg:
            raise AuthError("no alg")
        if alg.lower() == "none" or alg.upper().startswith("HS"):
            raise AuthError(f"alg {_shown(alg)} is never accepted (none or HMAC)")
        if alg not in self.algorithms:
            raise AuthError(f"alg {_shown(alg)} not allowed")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.upper() != "JWT":
            raise AuthError("typ is not JWT")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError("no kid")
        if "crit" in header:
            raise AuthError("crit header parameters are not supported")
        return header

    def _key(self, client: Client, header: dict[str, Any], kid: str) -> Key:
        jku_source = None
        if "jku" in header:
            try:
                jku = normalize_url(header["jku"])
            except ValueError:
                raise AuthError("jku is not a URL", client.issuer) from None
            if jku not in client.jku_allowlist:
                raise AuthError("jku not on this client's allowlist", client.issuer)
            jku_source = self.keys.source(jku)
        own = self.keys.source(client.jwks_file if client.jwks_file else str(client.jwks_url))
        key = own.get(kid)
        if key is None and jku_source is not None:
            key = jku_source.get(kid)
        if key is None:
            raise AuthError("unknown kid", client.issuer)
        return key


def _decode_reason(exc: jwt.PyJWTError) -> str:
    reasons: list[tuple[type[jwt.PyJWTError], str]] = [
        (jwt.ExpiredSignatureError, "expired (exp)"),
        (jwt.ImmatureSignatureError, "not yet valid (iat or nbf in the future)"),
        (jwt.InvalidAudienceError, "aud is not this endpoint"),
        (jwt.InvalidIssuerError, "iss mismatch"),
        (jwt.MissingRequiredClaimError, "required claim missing"),
        (jwt.InvalidSignatureError, "signature invalid"),
    ]
    for kind, reason in reasons:
        if isinstance(exc, kind):
            if isinstance(exc, jwt.MissingRequiredClaimError):
                return f"required claim {exc.claim} missing"
            return reason
    return f"token invalid ({type(exc).__name__})"
