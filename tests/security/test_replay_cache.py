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


def test_unreachable_redis_refuses_with_503(make_app: AppFactory, signer: Signer) -> None:
    app = make_app(redis_url="redis://127.0.0.1:1/0")
    response = app.test_client().get("/cds-services", headers=signer.bearer())
    assert response.status_code == 503
    assert response.get_json()["resourceType"] == "OperationOutcome"


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
