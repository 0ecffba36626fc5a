"""Response objects serialize per spec: optional empties omitted, uuids present, invariants hold."""

from __future__ import annotations

from cdshooks.protocol.conformance import card_problems, response_problems
from cdshooks.protocol.response import (
    Action,
    Card,
    Coding,
    HookResponse,
    Link,
    Source,
    Suggestion,
)


def _card(**kw: object) -> Card:
    base = {"summary": "Consider a bone scan", "indicator": "info", "source": Source(label="Test")}
    base.update(kw)
    return Card(**base)  # type: ignore[arg-type]


def test_minimal_card_omits_every_empty_optional_field() -> None:
    body = _card().to_json()
    assert set(body) == {"uuid", "summary", "indicator", "source"}
    assert body["source"] == {"label": "Test"}
    assert card_problems(body) == []


def test_no_guidance_is_an_empty_cards_array() -> None:
    assert HookResponse().to_json() == {"cards": []}


def test_suggestions_carry_selection_behavior_and_uuids() -> None:
    delete = Action("delete", "Remove the draft", resourceId="ServiceRequest/d1")
    create = Action("create", "New draft", resource={"resourceType": "ServiceRequest", "status": "draft"})
    card = _card(suggestions=(Suggestion("Replace", (delete, create)),), selectionBehavior="at-most-one")
    body = card.to_json()
    assert body["selectionBehavior"] == "at-most-one"
    assert body["suggestions"][0]["uuid"]
    assert body["suggestions"][0]["actions"][0] == {
        "type": "delete", "description": "Remove the draft", "resourceId": "ServiceRequest/d1"}
    assert card_problems(body) == []


def test_selection_behavior_dropped_without_suggestions() -> None:
    assert "selectionBehavior" not in _card(selectionBehavior="any").to_json()


def test_system_actions_top_level_and_optional_extension_mirror() -> None:
    update = Action("update", "Rating", resource={"resourceType": "ServiceRequest", "id": "d1"})
    plain = HookResponse(system_actions=(update,)).to_json()
    assert plain["systemActions"][0]["type"] == "update" and "extension" not in plain
    mirrored = HookResponse(system_actions=(update,), mirror_in_extension=True).to_json()
    assert mirrored["extension"]["systemActions"] == mirrored["systemActions"]
    assert response_problems(mirrored) == []


def test_topic_and_links_serialize() -> None:
    card = _card(
        source=Source(label="S", url="https://example.org", topic=Coding("https://x.org/t", "flare", "Flare")),
        links=(Link("Evidence", "https://example.org/e"),),
        overrideReasons=(Coding("https://x.org/o", "other", "Other reason"),),
    )
    body = card.to_json()
    assert body["source"]["topic"] == {"system": "https://x.org/t", "code": "flare", "display": "Flare"}
    assert body["links"] == [{"label": "Evidence", "url": "https://example.org/e", "type": "absolute"}]
    assert card.topic == "flare"
    assert card_problems(body) == []
