"""Fixture replay: send CDS Hooks requests in-process or to a running service, check and print the answers.

A fixture is a CDS Hooks request JSON file. It may carry, under `extension["org.bonemets-cds.fixture"]`:
`service` (the service id; default: the service for the request's hook), `asOf` (the instant the
fixture's dates were written for), `description`, and `expect` with any of `status`, `topics` (present),
`absentTopics`, `ratings` (`ServiceRequest/id` -> rating code). That extension is removed before sending.

In-process, the service clock is pinned to `--as-of`, else the fixture's `asOf`, else now. Against a
remote service (`--url`) the clock cannot be pinned, so every FHIR date in the fixture is shifted by the
whole days between `asOf` and today: dates never rot.
"""

from __future__ import annotations

import copy
import json
import re
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from cdshooks.protocol.conformance import response_problems
from cdshooks.services import BY_HOOK, BY_ID

FIXTURE_EXTENSION = "org.bonemets-cds.fixture"
RATING_URL = "http://fhir.org/argonaut/Extension/pama-rating"

_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})((T\d{2}:\d{2}(:\d{2}(\.\d+)?)?)(Z|[+-]\d{2}:\d{2})?)?$")


@dataclass(frozen=True)
class Fixture:
    request: dict[str, Any]
    service_id: str
    as_of: datetime | None
    description: str
    expect: dict[str, Any]


class ServiceUnreachable(RuntimeError):
    """No service listens at the replay URL (connection refused, unknown host): the message says what to do."""


@dataclass
class Outcome:
    status: int
    body: Any
    elapsed_ms: float
    problems: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    error: str | None = None  # no answer at all (a time-out): not a spec problem of the service

    @property
    def failed(self) -> bool:
        return bool(self.problems or self.mismatches or self.error)

    def to_json(self, path: Path) -> dict[str, Any]:
        return {"fixture": str(path), "status": self.status, "response": self.body, "specProblems": self.problems,
                "expectationsNotMet": self.mismatches, "error": self.error}


def parse_as_of(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 date or date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def collect(paths: tuple[Path, ...] | list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*.json") if p.is_file()))
        else:
            found.append(path)
    return found


def load_fixture(path: Path) -> Fixture:
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"unreadable JSON: {type(exc).__name__}") from None
    if not isinstance(body, dict) or "hook" not in body:
        raise ValueError("not a CDS Hooks request (no 'hook')")
    request = copy.deepcopy(body)
    meta: dict[str, Any] = {}
    extension = request.get("extension")
    if isinstance(extension, dict) and isinstance(extension.get(FIXTURE_EXTENSION), dict):
        meta = extension.pop(FIXTURE_EXTENSION)
        if not extension:
            request.pop("extension")
    service_id = meta.get("service")
    if service_id is None:
        service = BY_HOOK.get(str(request.get("hook")))
        service_id = service.id if service else str(request.get("hook"))
    as_of = parse_as_of(meta["asOf"]) if isinstance(meta.get("asOf"), str) else None
    return Fixture(request, service_id, as_of, str(meta.get("description", "")), dict(meta.get("expect", {})))


def shift_dates(value: Any, days: int) -> Any:
    """Every FHIR date / dateTime string moved by `days` (other strings untouched)."""
    if days == 0:
        return value
    if isinstance(value, dict):
        return {k: shift_dates(v, days) for k, v in value.items()}
    if isinstance(value, list):
        return [shift_dates(v, days) for v in value]
    if isinstance(value, str):
        match = _DATE.match(value)
        if match:
            try:
                shifted = date.fromisoformat(match.group(1)) + timedelta(days=days)
            except ValueError:
                return value
            return shifted.isoformat() + (match.group(2) or "")
    return value


def check(fixture: Fixture, outcome: Outcome) -> None:
    """Fill `problems` (spec) and `mismatches` (fixture expectations)."""
    expected_status = int(fixture.expect.get("status", 200))
    if outcome.status != expected_status:
        outcome.mismatches.append(f"status {outcome.status}, expected {expected_status}")
    if outcome.status == 200:
        outcome.problems.extend(response_problems(outcome.body))
    elif not (isinstance(outcome.body, dict) and outcome.body.get("resourceType") == "OperationOutcome"):
        outcome.problems.append(f"HTTP {outcome.status} without an OperationOutcome body")
    if outcome.status != 200 or not isinstance(outcome.body, dict):
        return
    topics = set(topics_of(outcome.body))
    for topic in fixture.expect.get("topics", []):
        if topic not in topics:
            outcome.mismatches.append(f"expected topic {topic} missing")
    for topic in fixture.expect.get("absentTopics", []):
        if topic in topics:
            outcome.mismatches.append(f"topic {topic} present but must not be")
    ratings = ratings_of(outcome.body)
    for order, rating in fixture.expect.get("ratings", {}).items():
        got = ratings.get(order)
        if got != rating:
            outcome.mismatches.append(f"rating of {order}: {got or 'none'}, expected {rating or 'none'}")


def topics_of(body: dict[str, Any]) -> list[str]:
    out = []
    for card in body.get("cards", []):
        topic = card.get("source", {}).get("topic", {}) if isinstance(card, dict) else {}
        if isinstance(topic, dict) and topic.get("code"):
            out.append(topic["code"])
    return out


def ratings_of(body: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for action in body.get("systemActions", []) or []:
        resource = action.get("resource") if isinstance(action, dict) else None
        if not isinstance(resource, dict):
            continue
        for ext in resource.get("extension", []) or []:
            if isinstance(ext, dict) and ext.get("url") == RATING_URL:
                codings = ext.get("valueCodeableConcept", {}).get("coding", [])
                if codings:
                    out[f"{resource.get('resourceType')}/{resource.get('id')}"] = codings[0].get("code", "")
    return out


class InProcessSender:
    """Replays against an app built in this process, with its clock pinned per fixture."""

    def __init__(self) -> None:
        from cdshooks.app import create_app
        from cdshooks.settings import Settings

        self._tmp = tempfile.TemporaryDirectory(prefix="cdshooks-replay-")
        self._now = datetime.now(UTC)
        # in-process calls never cross a network: no client to authenticate
        settings = Settings.from_env().with_overrides(
            database_url=f"sqlite:///{self._tmp.name}/replay.db", log_level="WARNING", allow_unauthenticated=True
        )
        self._app = create_app(settings, clock=lambda: self._now)
        self._client = self._app.test_client()

    def send(self, fixture: Fixture, pinned: datetime | None) -> Outcome:
        self._now = pinned or fixture.as_of or datetime.now(UTC)
        started = time.perf_counter()
        response = self._client.post(f"/cds-services/{fixture.service_id}", json=fixture.request)
        elapsed = (time.perf_counter() - started) * 1000
        outcome = Outcome(response.status_code, response.get_json(silent=True), elapsed)
        check(fixture, outcome)
        return outcome

    def close(self) -> None:
        self._app.extensions["cdshooks"].close()
        self._tmp.cleanup()


@dataclass(frozen=True)
class TokenSigner:
    """Signs a CDS Hooks client JWT per call (iss, aud = audience base + path, iat, exp, jti; kid, typ JWT),
    so fixtures can be replayed against a service that authenticates its clients."""

    key_pem: bytes
    issuer: str
    kid: str
    algorithm: str = "ES384"
    audience_base: str | None = None  # the service's public base URL, when it differs from --url
    lifetime: int = 300
    jku: str | None = None  # the JWK set URL named in the header, if any

    def claims(self, base_url: str, path: str, **overrides: Any) -> dict[str, Any]:
        """The payload for a call to `path`; `overrides` replace standard claims (e.g. `aud`, `iat`, `exp`)."""
        now = int(time.time())
        return {"iss": self.issuer, "aud": (self.audience_base or base_url).rstrip("/") + path, "iat": now,
                "exp": now + self.lifetime, "jti": str(uuid.uuid4())} | overrides

    def headers(self) -> dict[str, str]:
        return {"kid": self.kid, "typ": "JWT"} | ({"jku": self.jku} if self.jku else {})

    def token(self, base_url: str, path: str, **overrides: Any) -> str:
        """A signed token for a call to `path` (see `claims`)."""
        import jwt
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        key = load_pem_private_key(self.key_pem, password=None)
        return jwt.encode(self.claims(base_url, path, **overrides), key, algorithm=self.algorithm,  # type: ignore[arg-type]
                          headers=self.headers())

    def header(self, base_url: str, path: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(base_url, path)}"}


class RemoteSender:
    """Replays against a running service; fixture dates are shifted to today."""

    def __init__(self, base_url: str, timeout: float = 10.0, signer: TokenSigner | None = None) -> None:
        self._base = base_url.rstrip("/")
        self._session = requests.Session()
        self._timeout = timeout
        self._signer = signer

    def send(self, fixture: Fixture, pinned: datetime | None) -> Outcome:
        request = fixture.request
        if fixture.as_of is not None:
            days = (datetime.now(UTC).date() - fixture.as_of.date()).days
            request = shift_dates(request, days)
        path = f"/cds-services/{fixture.service_id}"
        headers = self._signer.header(self._base, path) if self._signer else {}
        started = time.perf_counter()
        try:
            response = self._session.post(f"{self._base}{path}", json=request, timeout=self._timeout,
                                          headers=headers)
        except requests.Timeout:
            return Outcome(0, None, self._timeout * 1000, error=f"no answer within {self._timeout:.0f} s")
        except requests.ConnectionError:
            raise ServiceUnreachable(f"no service answers at {self._base} (connection failed): start it "
                                     "(`make run`) or correct --url") from None
        except requests.RequestException as exc:
            return Outcome(0, None, 0.0, error=f"request failed ({type(exc).__name__})")
        elapsed = (time.perf_counter() - started) * 1000
        try:
            body = response.json()
        except ValueError:
            body = None
        outcome = Outcome(response.status_code, body, elapsed)
        check(fixture, outcome)
        return outcome

    def close(self) -> None:
        self._session.close()


def describe(path: Path, fixture: Fixture, outcome: Outcome) -> str:
    """A readable account of one exchange."""
    service = BY_ID.get(fixture.service_id)
    hook = service.hook if service else "?"
    lines = [f"{path}  ->  {fixture.service_id} ({hook})  HTTP {outcome.status}  {outcome.elapsed_ms:.1f} ms"]
    if fixture.description:
        lines.append(f"  {fixture.description}")
    body = outcome.body if isinstance(outcome.body, dict) else {}
    if outcome.status == 200:
        cards = body.get("cards", [])
        if not cards:
            lines.append("  (no cards)")
        for card in cards:
            topic = card.get("source", {}).get("topic", {}).get("code", "-")
            lines.append(f"  [{card.get('indicator', '?')}] {topic}: {card.get('summary', '')}")
            suggestions = card.get("suggestions", [])
            if suggestions:
                labels = "; ".join(s.get("label", "?") for s in suggestions)
                lines.append(f"      suggestions ({card.get('selectionBehavior', '?')}): {labels}")
        for order, rating in ratings_of(body).items():
            lines.append(f"  rating: {order} = {rating}")
    elif body.get("resourceType") == "OperationOutcome":
        for issue in body.get("issue", []):
            lines.append(f"  {issue.get('code')}: {issue.get('diagnostics')}")
    if outcome.error:
        lines.append(f"  NO ANSWER: {outcome.error}")
    for item in outcome.problems:
        lines.append(f"  SPEC PROBLEM: {item}")
    for item in outcome.mismatches:
        lines.append(f"  EXPECTATION NOT MET: {item}")
    return "\n".join(lines)
