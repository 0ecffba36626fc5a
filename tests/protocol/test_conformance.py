"""Every service-side rule of the checklist is detected by the checker (the service and replay rely on it)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from cdshooks.protocol.conformance import card_problems, discovery_problems, response_problems
from tests.conftest import load_example

GOOD: dict[str, Any] = {
    "uuid": "4e0a3a1e-3283-4575-ab82-028d55fe2719",
    "summary": "Order a bone scan",
    "indicator": "warning",
    "source": {"label": "ACR", "url": "https://acsearch.acr.org", "topic": {"system": "https://x.org", "code": "t"}},
    "selectionBehavior": "at-most-one",
    "suggestions": [{
        "label": "Replace", "uuid": "e56e1945-20b3-4393-8503-a1a20fd73152",
        "actions": [{"type": "delete", "description": "remove", "resourceId": "ServiceRequest/1"},
                    {"type": "create", "description": "new", "resource": {"resourceType": "ServiceRequest"}}],
    }],
    "overrideReasons": [{"system": "https://x.org/o", "code": "c", "display": "Contraindicated"}],
    "links": [{"label": "App", "url": "https://app.example.org", "type": "smart", "appContext": "abc"}],
}


def test_good_card_passes() -> None:
    assert card_problems(GOOD) == []


def _broken(path: list[Any], value: Any) -> dict[str, Any]:
    card = copy.deepcopy(GOOD)
    target = card
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return card


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (["summary"], "x" * 140, "must be under 140"),
        (["summary"], KeyError, "summary: required"),
        (["summary"], "", "null or empty"),
        (["indicator"], "hard-stop", "indicator"),
        (["source", "label"], KeyError, "source.label"),
        (["source"], KeyError, "source: required"),
        (["source", "url"], "not-a-url", "source.url"),
        (["uuid"], KeyError, "uuid"),
        (["selectionBehavior"], KeyError, "cds-resp-6"),
        (["selectionBehavior"], "all", "cds-resp-6"),
        (["suggestions", 0, "label"], KeyError, "label"),
        (["suggestions", 0, "uuid"], KeyError, "uuid"),
        (["suggestions", 0, "actions", 0, "description"], KeyError, "cds-resp-5"),
        (["suggestions", 0, "actions", 0, "resourceId"], KeyError, "cds-resp-2"),
        (["suggestions", 0, "actions", 0, "type"], "remove", "type"),
        (["suggestions", 0, "actions", 1, "resource"], KeyError, "whole FHIR resource"),
        (["overrideReasons", 0, "display"], KeyError, "cds-resp-4"),
        (["links", 0, "type"], "absolute", "cds-resp-3"),
        (["links", 0, "url"], "relative/path", "absolute URL"),
        (["detail"], None, "null or empty"),
        (["links"], [], "null or empty"),
    ],
)
def test_each_rule_is_detected(path: list[Any], value: Any, expected: str) -> None:
    problems = card_problems(_broken(path, value))
    assert any(expected in p for p in problems), problems


def test_at_most_one_allows_one_recommended_suggestion_only() -> None:
    card = copy.deepcopy(GOOD)
    second = copy.deepcopy(card["suggestions"][0])
    second["uuid"] = "another"
    card["suggestions"][0]["isRecommended"] = True
    second["isRecommended"] = True
    card["suggestions"].append(second)
    assert any("cds-resp-1" in p for p in card_problems(card))
    card["selectionBehavior"] = "any"
    assert card_problems(card) == []


def test_update_action_needs_whole_resource_with_id() -> None:
    body = {"cards": [], "systemActions": [{"type": "update", "description": "d",
                                            "resource": {"resourceType": "ServiceRequest"}}]}
    assert any("resource.id" in p for p in response_problems(body))


def test_response_shape() -> None:
    assert response_problems({"cards": []}) == []
    assert response_problems({}) == ["response.cards: required array (use [] for no guidance)"]
    assert response_problems([]) == ["response: must be a JSON object"]
    assert any("non-empty" in p for p in response_problems({"cards": [], "systemActions": []}))
    dup = {"cards": [copy.deepcopy(GOOD), copy.deepcopy(GOOD)]}
    assert any("duplicate" in p for p in response_problems(dup))


def test_spec_example_responses() -> None:
    """The spec's own card examples pass, except where the spec itself omits what we require."""
    assert response_problems(load_example("10-response.json")) == []
    cards = load_example("17-response.json")["cards"]
    assert card_problems(cards[0]) == []
    assert card_problems(cards[1]) == ["card.uuid: every card carries a uuid (needed for feedback)"]
    # the spec's example 18 forgets the REQUIRED indicator
    assert card_problems(load_example("18-response.json")["cards"][0]) == [
        "card.indicator: must be info, warning or critical"]


def test_spec_example_discovery() -> None:
    assert discovery_problems(load_example("01-discovery.json")) == []
    assert discovery_problems({"services": [{"hook": "patient-view", "id": "x"}]}) == [
        "services[0].description: required string"]
