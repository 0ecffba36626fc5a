"""The JWT replay cache: has this (issuer, jti) been seen within its lifetime? Shared by every worker.

- Redis (`CDSHOOKS_REDIS_URL`): `SET key 1 NX EX ttl`, atomic across processes and hosts. Redis keeps
  nothing on disk, so a restart (or a flush, or eviction) forgets every jti: Redis also holds an epoch mark,
  the moment its memory began, set when it is found missing. A token issued before the epoch (less a 5 s
  grace for clock differences) may have been used before the memory was lost and is refused (clients
  mint a new JWT per call: only tokens in flight
  across a Redis restart are affected). During a Redis outage the database table answers instead (tokens
  issued before the outage began are refused: Redis alone knew them), and after it, tokens issued before
  the recovery are checked in both (the database alone knew those).
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
# tokens issued this little before Redis's memory began still pass (clients mint a token right before each
# call; the clocks of client and Redis differ slightly). DESIGN DEFAULT.
EPOCH_GRACE_SECONDS = 5.0


class ReplayCacheUnavailable(RuntimeError):
    """The cache cannot answer; the caller must refuse the token (fail closed)."""


class ReplayCache(Protocol):
    def first_use(self, issuer: str, jti: str, expires_at: float, now: float, issued_at: float | None = None) -> bool:
        """Record (issuer, jti) until `expires_at`; False when it was already recorded and not expired (or,
        for a cache that can forget, when the token was issued before the cache's memory began)."""
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

    def first_use(self, issuer: str, jti: str, expires_at: float, now: float, issued_at: float | None = None) -> bool:
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
    def __init__(self, url: str, prefix: str = "cdshooks:jti:", fallback: SqlReplayCache | None = None) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._prefix = prefix
        self._epoch_key = prefix + "epoch"
        self._errors: tuple[type[Exception], ...] = (redis.RedisError,)
        self._fallback = fallback
        self._outage_since: float | None = None  # this process saw Redis fail from then on
        self._recovered_at: float | None = None  # ... and answer again then
        self._state = threading.Lock()

    def first_use(self, issuer: str, jti: str, expires_at: float, now: float, issued_at: float | None = None) -> bool:
        ttl = max(1, math.ceil(expires_at - now))
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.get(self._epoch_key)
            pipe.set(self._prefix + jti_key(issuer, jti), b"1", nx=True, ex=ttl)
            epoch_raw, fresh = pipe.execute()
            epoch = float(epoch_raw) if epoch_raw is not None else self._mark_epoch(now)
        except self._errors as exc:
            return self._during_outage(issuer, jti, expires_at, now, issued_at, exc)
        except ValueError:  # an epoch mark that is not a number: start a new one
            epoch = self._mark_epoch(now, replace=True)
            fresh = True
        recovered_at = self._recovered(now)
        if issued_at is not None and issued_at < math.floor(epoch) - EPOCH_GRACE_SECONDS:
            return False  # issued before Redis's memory began: it may have been used already
        if not fresh:
            return False
        if self._fallback is not None and recovered_at is not None and issued_at is not None \
                and issued_at < recovered_at:
            # issued while Redis was out: the database may have recorded it then
            return self._fallback.first_use(issuer, jti, expires_at, now, issued_at)
        return True

    def _mark_epoch(self, now: float, replace: bool = False) -> float:
        """Redis had no epoch mark: its memory begins now (first writer wins across replicas)."""
        try:
            seconds, micros = self._redis.time()
            moment = seconds + micros / 1e6
        except self._errors:
            moment = now
        self._redis.set(self._epoch_key, repr(moment), nx=not replace)
        stored = self._redis.get(self._epoch_key)
        return float(stored) if stored is not None else moment

    def _recovered(self, now: float) -> float | None:
        with self._state:
            if self._outage_since is not None:
                self._outage_since, self._recovered_at = None, now
            return self._recovered_at

    def _during_outage(self, issuer: str, jti: str, expires_at: float, now: float, issued_at: float | None,
                       exc: Exception) -> bool:
        if self._fallback is None:
            raise ReplayCacheUnavailable(f"redis not reachable ({type(exc).__name__})") from None
        with self._state:
            if self._outage_since is None:
                self._outage_since = now
            since = self._outage_since
        if issued_at is not None and issued_at < math.floor(since):
            return False  # Redis alone knew whether this one was used
        return self._fallback.first_use(issuer, jti, expires_at, now, issued_at)

    def close(self) -> None:
        self._redis.close()
