"""The engine's last line of defence: a rule or the facts builder that raises is logged and skipped; the
call still answers 200 with what the other rules found."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cdshooks import create_app
from cdshooks.clinical import engine
from cdshooks.clinical.findings import Finding
from cdshooks.clinical.rules.appropriateness import NOT_APPROPRIATE
from cdshooks.clinical.topics import ORDER_HOOKS, Registry, RuleSpec, registry
from cdshooks.replay import load_fixture, topics_of
from cdshooks.settings import Settings
from tests.conftest import REPO

FIXTURE = REPO / "fixtures" / "order-select" / "acr-usually-not-appropriate--mri-cap-text-only.json"


def _call(tmp_path: Path) -> tuple[int, list[str]]:
    fixture = load_fixture(FIXTURE)
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/e.db", allow_unauthenticated=True),
                     clock=lambda: fixture.as_of)  # type: ignore[arg-type, return-value]
    try:
        response = app.test_client().post(f"/cds-services/{fixture.service_id}", json=fixture.request)
        return response.status_code, topics_of(response.get_json())
    finally:
        app.extensions["cdshooks"].close()


def test_a_failing_rule_is_skipped_and_logged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              caplog: pytest.LogCaptureFixture) -> None:
    def broken(facts: object, params: object) -> list[object]:
        raise TypeError("odd data")

    real = registry()
    first = RuleSpec(broken, ORDER_HOOKS, (NOT_APPROPRIATE,), rank=0)
    monkeypatch.setattr(engine, "registry", lambda: Registry(real.topics, (first, *real.rules)))
    caplog.set_level(logging.ERROR, logger="cdshooks")
    status, topics = _call(tmp_path)
    assert status == 200 and "acr-usually-not-appropriate" in topics
    assert any(r.getMessage() == "rule failed; skipped" and getattr(r, "reason", "") == "test_engine_safety.broken"
               for r in caplog.records)


def test_a_rule_emitting_an_undeclared_topic_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    """A rule may only emit the topics it declares: anything else is our bug, logged, and the finding dropped."""
    def stray(facts: object, params: object) -> list[Finding]:
        return [Finding(topic="bone-scan-flare")]

    real = registry()
    first = RuleSpec(stray, ORDER_HOOKS, (NOT_APPROPRIATE,), rank=0)
    monkeypatch.setattr(engine, "registry", lambda: Registry(real.topics, (first, *real.rules)))
    caplog.set_level(logging.ERROR, logger="cdshooks")
    status, topics = _call(tmp_path)
    assert status == 200 and "bone-scan-flare" not in topics and "acr-usually-not-appropriate" in topics
    assert any(getattr(r, "reason", "") == "test_engine_safety.stray" for r in caplog.records)


def test_facts_that_cannot_be_built_mean_no_guidance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    def broken(*args: object) -> object:
        raise ValueError("odd data")

    monkeypatch.setattr(engine, "build_facts", broken)
    caplog.set_level(logging.ERROR, logger="cdshooks")
    assert _call(tmp_path) == (200, [])
    assert any("facts could not be built" in r.getMessage() for r in caplog.records)
