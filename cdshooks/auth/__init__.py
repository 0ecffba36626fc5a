"""Client authentication: the trusted-clients registry, their JWK sets, and JWT verification."""

from cdshooks.auth.clients import Client, ClientRegistry, ClientsError, load_clients
from cdshooks.auth.jwt_check import AuthError, JwtVerifier, Verified

__all__ = ["AuthError", "Client", "ClientRegistry", "ClientsError", "JwtVerifier", "Verified", "load_clients"]
