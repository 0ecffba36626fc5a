"""The multi-replica path: two server processes (two workers each) on one PostgreSQL store and one Redis jti
cache, behind one public URL. Cards are issued through both; 2,000 feedback items are posted at concurrency
16, each twice, alternating servers; nothing may be lost or duplicated and the report must be exact.

Needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 (see ../shared/knowledge/test-infrastructure.md).
Where they are absent the tests skip with a message; with CDSHOOKS_REQUIRE_SERVICES=1 (set by .ci/run) they
fail instead, so CI cannot silently skip them.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from sqlalchemy import create_engine, func, select

from cdshooks.analytics.report import build_report
from cdshooks.replay import load_fixture, shift_dates
from cdshooks.store.tables import feedback, issued_cards
from tests.conftest import REPO
from tests.integration.conftest import BIN, COMMAND_SECONDS, _start, _stop, _unavailable, free_port, wait_until

pytestmark = pytest.mark.integration

PUBLIC = "https://cds.example.org"
ISSUER = "https://ehr.example.org"
REDIS = os.environ.get("CDSHOOKS_TEST_REDIS", "redis://127.0.0.1:6379/11")
ORDER_SELECT = "bone-mets-imaging-order-select"
ITEMS = 2000
CONCURRENCY = 16
CARD_FIXTURE = REPO / "fixtures" / "order-select" / "acr-usually-not-appropriate--mri-cap-text-only.json"


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    import redis

    try:
        client = redis.Redis.from_url(REDIS, socket_timeout=2)
        client.ping()
    except Exception:  # no Redis here
        _unavailable("Redis")
    client.flushdb()
    yield REDIS
    client.flushdb()
    client.close()


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


def token(key: ec.EllipticCurvePrivateKey, path: str) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": PUBLIC + path, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
    return jwt.encode(claims, key, algorithm="ES384", headers={"kid": "scale-1", "typ": "JWT"})


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory, postgres_url: str, redis_url: str,
            key: ec.EllipticCurvePrivateKey) -> Iterator[list[str]]:
    executable = BIN / "cdshooks"
    if not executable.exists():
        pytest.skip(f"the project is not installed in this environment ({executable} missing)")
    folder = tmp_path_factory.mktemp("scale")
    jwk = ECAlgorithm.to_jwk(key.public_key(), as_dict=True) | {"kid": "scale-1", "alg": "ES384"}
    (folder / "keys.json").write_text(json.dumps({"keys": [jwk]}))
    (folder / "clients.yaml").write_text(f"clients:\n  - issuer: {ISSUER}\n    jwks_file: keys.json\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDSHOOKS_")}
    env |= {"CDSHOOKS_DATABASE_URL": postgres_url, "CDSHOOKS_REDIS_URL": redis_url,
            "CDSHOOKS_PUBLIC_BASE_URL": PUBLIC, "CDSHOOKS_CLIENTS_FILE": str(folder / "clients.yaml"),
            "CDSHOOKS_PSEUDONYM_KEY": "scale-test-key", "CDSHOOKS_LOG_LEVEL": "WARNING"}
    refused = subprocess.run([str(executable), "serve", "--port", "1"], env=env, capture_output=True, text=True,
                             timeout=COMMAND_SECONDS)
    assert refused.returncode == 2 and "cdshooks db upgrade" in refused.stderr  # schema behind: says what to run
    upgraded = subprocess.run([str(executable), "db", "upgrade"], env=env, capture_output=True, text=True,
                              timeout=COMMAND_SECONDS)
    assert upgraded.returncode == 0, upgraded.stderr
    processes = []
    urls = []
    try:
        for _ in range(2):
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            processes.append(_start([str(executable), "serve", "--host", "127.0.0.1", "--port", str(port),
                                     "--workers", "2", "--threads", "4"], folder, env, f"{url}/healthz",
                                    "cdshooks serve"))
            urls.append(url)
        yield urls
    finally:
        for process in processes:
            _stop(process)


def test_jti_replay_is_refused_across_servers(servers: list[str], key: ec.EllipticCurvePrivateKey) -> None:
    headers = {"Authorization": f"Bearer {token(key, '/cds-services')}"}
    assert requests.get(f"{servers[0]}/cds-services", headers=headers, timeout=10).status_code == 200
    assert requests.get(f"{servers[1]}/cds-services", headers=headers, timeout=10).status_code == 401


def _feedback_items(cards: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """ITEMS distinct items over the issued cards: accepted with the card's suggestion, or overridden."""
    base = datetime(2030, 1, 1, tzinfo=UTC)  # after issue time: positive delays
    items = []
    for i in range(ITEMS):
        card, suggestion = cards[i % len(cards)]
        item: dict[str, Any] = {"card": card, "outcomeTimestamp": (base + timedelta(seconds=i)).isoformat()}
        if i % 4 == 0:
            item |= {"outcome": "accepted", "acceptedSuggestions": [{"id": suggestion}]}
        else:
            code = ("problem-solving", "clinician-judgement", "other-tests-unavailable")[i % 3]
            item |= {"outcome": "overridden",
                     "overrideReason": {"reason": {"system": "https://bonemets-cds.org/fhir/CodeSystem/override-reason",
                                                   "code": code, "display": code}}}
        items.append(item)
    return items


def test_cards_and_feedback_through_two_servers(servers: list[str], key: ec.EllipticCurvePrivateKey,
                                                postgres_url: str) -> None:
    fixture = load_fixture(CARD_FIXTURE)
    shift = (datetime.now(UTC).date() - fixture.as_of.date()).days if fixture.as_of else 0
    path = f"/cds-services/{ORDER_SELECT}"
    issued: list[tuple[str, str]] = []
    topics: Counter[str] = Counter()
    session = requests.Session()
    for n in range(40):
        body = shift_dates(fixture.request, shift) | {"hookInstance": str(uuid.uuid4())}
        response = session.post(f"{servers[n % 2]}{path}", json=body, timeout=20,
                                headers={"Authorization": f"Bearer {token(key, path)}"})
        assert response.status_code == 200, response.text
        for card in response.json()["cards"]:
            topics[card["source"]["topic"]["code"]] += 1
            issued.append((card["uuid"], card["suggestions"][0]["uuid"] if card.get("suggestions") else "none"))
    assert "acr-usually-not-appropriate" in topics
    engine = create_engine(postgres_url)

    def all_written() -> str | None:  # issued cards are written in the background
        with engine.connect() as conn:
            written = conn.execute(select(func.count()).select_from(issued_cards)).scalar_one()
        return None if written == len(issued) else f"{written} of {len(issued)} issued cards written"

    wait_until(all_written, "issued cards in PostgreSQL")

    items = _feedback_items([c for c in issued if c[1] != "none"])
    feedback_path = f"/cds-services/{ORDER_SELECT}/feedback"

    def post(job: tuple[int, dict[str, Any]]) -> int:
        n, item = job
        response = requests.post(f"{servers[n % 2]}{feedback_path}", json={"feedback": [item]}, timeout=30,
                                 headers={"Authorization": f"Bearer {token(key, feedback_path)}"})
        return response.status_code

    jobs = list(enumerate(items + items))  # every item twice, the copy through the other server half the time
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        statuses = Counter(pool.map(post, jobs))
    elapsed = time.perf_counter() - started
    print(f"\nfeedback: {len(jobs)} posts through 2 servers in {elapsed:.1f} s = {len(jobs) / elapsed:.0f} posts/s")
    assert statuses == Counter({200: len(jobs)})

    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(feedback)).scalar_one()
        distinct = conn.execute(select(func.count(func.distinct(feedback.c.item_key)))).scalar_one()
        unknown = conn.execute(select(func.count()).where(feedback.c.known_card.is_(False))).scalar_one()
    assert (stored, distinct, unknown) == (ITEMS, ITEMS, 0)  # none lost, none duplicated, all joined

    latest: dict[str, dict[str, Any]] = {}
    for item in items:  # timestamps increase with i: the last item per card is its outcome
        latest[item["card"]] = item
    report = build_report(engine, threshold=0.5, min_shown=1)
    by_topic = {t.topic: t for t in report.topics}
    topic_of = {}
    with engine.connect() as conn:
        topic_of = {r.card_uuid: r.topic for r in conn.execute(select(issued_cards.c.card_uuid, issued_cards.c.topic))}
    for topic, shown in topics.items():
        outcomes = Counter(o["outcome"] for c, o in latest.items() if topic_of[c] == topic)
        stats = by_topic[topic]
        assert (stats.shown, stats.accepted, stats.overridden) == (shown, outcomes["accepted"], outcomes["overridden"])
        reasons = Counter(o["overrideReason"]["reason"]["display"] for c, o in latest.items()
                          if topic_of[c] == topic and o["outcome"] == "overridden")
        assert stats.override_reasons == dict(reasons)
    assert report.feedback_items == ITEMS
    cli = subprocess.run([str(BIN / "cdshooks"), "report", "--json"], capture_output=True, text=True,
                         timeout=COMMAND_SECONDS,
                         env={k: v for k, v in os.environ.items() if not k.startswith("CDSHOOKS_")}
                         | {"CDSHOOKS_DATABASE_URL": postgres_url})
    assert cli.returncode == 0, cli.stderr
    assert {t["topic"]: t["shown"] for t in json.loads(cli.stdout)["topics"]} == dict(topics)
    engine.dispose()
