"""The JWT replay cache: has this (issuer, jti) been seen within its lifetime? Shared by every worker.

- Redis (`CDSHOOKS_REDIS_URL`): `SET key 1 NX EX ttl`, atomic across processes and hosts.
- Otherwise the store's database: a table with the hashed (issuer, jti) as primary key and its expiry;
  an insert that conflicts is a replay (told by `INSERT … ON CONFLICT DO NOTHING RETURNING`, not by the
  driver's rowcount, which psycopg reports as -1). Rows whose expiry has passed are purged now and then, and an
  expired row never blocks a new token that reuses its jti.

Keys are SHA-256 hashes of issuer and jti: bounded size, and no token content in the database or Redis.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from typing import Protocol

from sqlalchemy import Engine, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from cdshooks.store.tables import jwt_replay

PURGE_EVERY_SECONDS = 60.0


class ReplayCacheUnavailable(RuntimeError):
    """The cache cannot answer; the caller must refuse the token (fail closed)."""


class ReplayCache(Protocol):
    def first_use(self, issuer: str, jti: str, expires_at: float, now: float) -> bool:
        """Record (issuer, jti) until `expires_at`; False when it was already recorded and not expired."""
        ...

    def close(self) -> None: ...


def jti_key(issuer: str, jti: str) -> str:
    return hashlib.sha256(f"{issuer}\0{jti}".encode()).hexdigest()


class SqlReplayCache:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._purged_at = 0.0
        self._lock = threading.Lock()  # the table comes with the store's schema (migration 0002)

    def _insert_ignore(self) -> object:
        if self._engine.dialect.name == "postgresql":
            return postgresql.insert(jwt_replay).on_conflict_do_nothing(index_elements=["jti_key"])
        return sqlite.insert(jwt_replay).on_conflict_do_nothing(index_elements=["jti_key"])

    def first_use(self, issuer: str, jti: str, expires_at: float, now: float) -> bool:
        key = jti_key(issuer, jti)
        now_s = math.floor(now)
        try:
            with self._engine.begin() as conn:
                # an expired row of the same jti no longer counts
                conn.execute(delete(jwt_replay).where(jwt_replay.c.jti_key == key, jwt_replay.c.expires_at < now_s))
                # RETURNING tells a new row from a conflict on every driver (`rowcount` is -1 on psycopg)
                inserted = conn.execute(self._insert_ignore().returning(jwt_replay.c.jti_key),  # type: ignore[attr-defined]
                                        {"jti_key": key, "expires_at": math.ceil(expires_at)}).first()
        except SQLAlchemyError as exc:
            raise ReplayCacheUnavailable(f"replay table not reachable ({type(exc).__name__})") from None
        self._purge(now_s)
        return inserted is not None

    def _purge(self, now_s: int) -> None:
        if time.monotonic() - self._purged_at < PURGE_EVERY_SECONDS or not self._lock.acquire(blocking=False):
            return
        try:
            self._purged_at = time.monotonic()
            with self._engine.begin() as conn:
                conn.execute(delete(jwt_replay).where(jwt_replay.c.expires_at < now_s))
        except SQLAlchemyError:
            pass  # purging is opportunistic; the next call tries again
        finally:
            self._lock.release()

    def close(self) -> None:
        """The engine belongs to the store, which disposes of it."""


class RedisReplayCache:
    def __init__(self, url: str, prefix: str = "cdshooks:jti:") -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._prefix = prefix
        self._errors: tuple[type[Exception], ...] = (redis.RedisError,)

    def first_use(self, issuer: str, jti: str, expires_at: float, now: float) -> bool:
        ttl = max(1, math.ceil(expires_at - now))
        try:
            return bool(self._redis.set(self._prefix + jti_key(issuer, jti), b"1", nx=True, ex=ttl))
        except self._errors as exc:
            raise ReplayCacheUnavailable(f"redis not reachable ({type(exc).__name__})") from None

    def close(self) -> None:
        self._redis.close()
