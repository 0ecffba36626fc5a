"""The jti replay cache is shared: across app instances on one database, and through Redis."""

from __future__ import annotations

import socket
import time
import uuid
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from cdshooks.store.replay_cache import (
    RedisReplayCache,
    ReplayCacheUnavailable,
    SqlReplayCache,
    jti_key,
    jwt_replay,
)
from cdshooks.store.schema import upgrade
from cdshooks.store.store import make_engine
from tests.security.conftest import AppFactory, Signer

REDIS_URL = "redis://127.0.0.1:6379/15"


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


needs_redis = pytest.mark.skipif(not _redis_answers(), reason="Redis does not answer on 127.0.0.1:6379 "
                                 "(start it with redis-server, see shared/knowledge/test-infrastructure.md)")


def _get(app: Flask, token: str) -> int:
    return app.test_client().get("/cds-services", headers={"Authorization": f"Bearer {token}"}).status_code


def test_replay_is_refused_by_another_app_on_the_same_database(make_app: AppFactory, signer: Signer) -> None:
    """Two workers (two app instances, two engines) share the database table."""
    first, second = make_app(), make_app()
    token = signer.token()
    assert _get(first, token) == 200
    assert _get(second, token) == 401
    other = signer.token()
    assert _get(second, other) == 200
    assert _get(first, other) == 401


@needs_redis
def test_replay_is_refused_by_another_app_through_redis(make_app: AppFactory, signer: Signer) -> None:
    first, second = make_app(redis_url=REDIS_URL), make_app(redis_url=REDIS_URL)
    token = signer.token()
    assert _get(first, token) == 200
    assert _get(second, token) == 401
    assert _get(first, token) == 401


@needs_redis
def test_redis_entry_expires_with_the_token() -> None:
    cache = RedisReplayCache(REDIS_URL)
    try:
        jti, now = str(uuid.uuid4()), time.time()
        assert cache.first_use("iss", jti, now + 1, now)
        assert not cache.first_use("iss", jti, now + 1, now)
        ttl = cache._redis.ttl("cdshooks:jti:" + jti_key("iss", jti))
        assert 0 < ttl <= 2
    finally:
        cache.close()


def test_unreachable_redis_falls_back_to_the_database(make_app: AppFactory, signer: Signer) -> None:
    app = make_app(redis_url="redis://127.0.0.1:1/0")
    token = signer.token()
    assert _get(app, token) == 200  # answered by the database table
    assert _get(app, token) == 401  # and a replay is still refused


def _sql_cache(tmp_path: Path) -> SqlReplayCache:
    engine = make_engine(f"sqlite:///{tmp_path}/fallback.db")
    upgrade(engine)
    return SqlReplayCache(engine)


@needs_redis
def test_a_redis_restart_does_not_let_used_tokens_replay(tmp_path: Path) -> None:
    """A restart (simulated by FLUSHDB: Redis keeps nothing on disk) forgets every jti; tokens issued before
    Redis's memory began are refused, tokens issued after it work."""
    import redis

    prefix = f"test:{uuid.uuid4().hex}:"
    cache = RedisReplayCache(REDIS_URL, prefix=prefix, fallback=_sql_cache(tmp_path))
    try:
        now = time.time()
        cache._redis.set(prefix + "epoch", repr(now - 3600))  # Redis has been up for an hour
        used = [str(uuid.uuid4()) for _ in range(5)]
        for jti in used:
            assert cache.first_use("iss", jti, now + 300, now, issued_at=now - 10)
        redis.Redis.from_url(REDIS_URL).flushdb()
        assert [cache.first_use("iss", jti, now + 300, now, issued_at=now - 10) for jti in used] == [False] * 5
        later = time.time() + 2
        assert cache.first_use("iss", str(uuid.uuid4()), later + 300, later, issued_at=later)
    finally:
        cache.close()


@needs_redis
def test_a_redis_outage_falls_back_and_recovers_without_replays(tmp_path: Path) -> None:
    import redis

    prefix = f"test:{uuid.uuid4().hex}:"
    cache = RedisReplayCache(REDIS_URL, prefix=prefix, fallback=_sql_cache(tmp_path))
    working = cache._redis
    try:
        t0 = time.time()
        working.set(prefix + "epoch", repr(t0 - 3600))
        before = str(uuid.uuid4())
        assert cache.first_use("iss", before, t0 + 300, t0, issued_at=t0 - 5)  # known to Redis only
        cache._redis = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)  # Redis is out
        t1 = t0 + 10
        assert not cache.first_use("iss", before, t0 + 300, t1, issued_at=t0 - 5)  # Redis alone knew it
        during = str(uuid.uuid4())
        assert cache.first_use("iss", during, t1 + 300, t1, issued_at=t1)  # the database answers
        assert not cache.first_use("iss", during, t1 + 300, t1 + 1, issued_at=t1)
        cache._redis = working  # Redis is back, with no memory of `during`
        t2 = t1 + 20
        assert not cache.first_use("iss", during, t1 + 300, t2, issued_at=t1)  # the database knew it
        fresh = str(uuid.uuid4())
        assert cache.first_use("iss", fresh, t2 + 300, t2, issued_at=t2 + 1)
        assert not cache.first_use("iss", fresh, t2 + 300, t2 + 2, issued_at=t2 + 1)
    finally:
        cache._redis = working
        cache.close()


def test_without_redis_and_database_the_call_is_refused_with_503(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/gone.db")
    upgrade(engine)
    fallback = SqlReplayCache(engine)
    with engine.begin() as conn:
        jwt_replay.drop(conn)
    cache = RedisReplayCache("redis://127.0.0.1:1/0", fallback=fallback)
    with pytest.raises(ReplayCacheUnavailable):
        cache.first_use("iss", "a", time.time() + 60, time.time(), issued_at=time.time())


def test_sql_cache_forgets_expired_entries(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/r.db")
    upgrade(engine)
    cache = SqlReplayCache(engine)
    now = 1_900_000_000.0
    assert cache.first_use("iss", "a", now + 60, now)
    assert not cache.first_use("iss", "a", now + 60, now + 30)
    assert cache.first_use("iss", "a", now + 200, now + 61)  # the old entry expired: not a replay
    assert cache.first_use("other-iss", "a", now + 60, now)  # jti is per issuer
    for i in range(5):
        cache.first_use("iss", f"old-{i}", now + 1, now)
    cache._purged_at = 0.0
    cache.first_use("iss", "late", now + 500, now + 100)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(jwt_replay)).scalar() == 2  # a (renewed), late
    engine.dispose()


def test_sql_cache_failure_is_reported(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/r.db")
    upgrade(engine)
    cache = SqlReplayCache(engine)
    with engine.begin() as conn:
        jwt_replay.drop(conn)
    with pytest.raises(ReplayCacheUnavailable):
        cache.first_use("iss", "a", 2.0, 1.0)
    engine.dispose()
