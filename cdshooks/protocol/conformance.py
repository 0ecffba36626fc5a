"""Checks of CDS Hooks 2.0 JSON against the spec's service-side rules.

Pure functions over decoded JSON returning a list of problems (empty = conformant). The service runs
`card_problems` on every card before sending it; `cdshooks replay` runs `response_problems` on every
answer, ours or a remote service's; `cdshooks check-service` reports them by requirement id. Invariant names
follow the 3.0-ballot FHIRPath invariants where one exists (cds-resp-1..7).

Each problem is a `Problem`: its message (a plain string) plus the id of the requirement it breaks, in the
Inferno catalogue's notation (`cds-hooks_2.0@83`, ../shared/knowledge/cds-hooks-conformance-checks.md), or a
spec anchor (`cds-hooks_2.0#link.autolaunchable`) for a rule the catalogue lacks. An empty id marks a rule of
this project only, stricter than the spec (a uuid on every card and suggestion, for feedback). Any JSON is
accepted as input: odd types are problems, never exceptions.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any
from urllib.parse import urlsplit

INDICATORS = {"info", "warning", "critical"}
SELECTION_BEHAVIORS = {"at-most-one", "any"}
ACTION_TYPES = {"create", "update", "delete"}
LINK_TYPES = {"absolute", "smart"}
MAX_SUMMARY = 139
SPEC = "cds-hooks_2.0"


class Problem(str):
    """A problem message; `requirement` is the id of the rule it breaks ("" = this project's own rule)."""

    requirement: str

    def __new__(cls, message: str, requirement: str = "") -> Problem:
        problem = super().__new__(cls, message)
        problem.requirement = requirement
        return problem


def _p(requirement: int | str, message: str) -> Problem:
    """A problem against CDS Hooks 2.0: an Inferno row number, or an anchor (`#link.autolaunchable`)."""
    rid = f"{SPEC}{requirement}" if isinstance(requirement, str) else f"{SPEC}@{requirement}"
    return Problem(message, rid)


def _own(message: str) -> Problem:
    return Problem(message, "")


def _one_of(value: Any, allowed: Collection[str]) -> bool:
    return isinstance(value, str) and value in allowed


def is_empty(value: Any) -> bool:
    """Null or empty: what CDS Hooks forbids in a response (and `cdshooks.protocol.response` leaves out)."""
    return value is None or value == "" or value == [] or value == {}


def empty_values(value: Any, path: str = "") -> list[str]:
    """Paths of null or empty values (the spec forbids them; `cards: []` is allowed by the caller)."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            if is_empty(item):
                found.append(sub)
            else:
                found.extend(empty_values(item, sub))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            sub = f"{path}[{i}]"
            if is_empty(item):
                found.append(sub)
            else:
                found.extend(empty_values(item, sub))
    return found


def _absolute_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return False
    return bool(parts.scheme and parts.netloc)


def _text(value: Any) -> bool:
    """A non-empty string."""
    return isinstance(value, str) and bool(value)


def coding_problems(coding: Any, path: str, display_required: bool = False, requirement: int = 115) -> list[Problem]:
    """A Coding (`requirement`: the rule naming the field that holds it: 115 topic, 98 override reasons)."""
    if not isinstance(coding, dict):
        return [_p(requirement, f"{path}: must be a Coding object")]
    out = []
    for key, rule in (("system", 217), ("code", 216)):
        if not _text(coding.get(key)):
            out.append(_p(rule, f"{path}.{key}: required string"))
    if display_required and (not _text(coding.get("display"))):
        out.append(_p(100, f"{path}.display: required for override reasons (cds-resp-4)"))
    return out


def action_problems(action: Any, path: str) -> list[Problem]:
    if not isinstance(action, dict):
        return [_p(124, f"{path}: must be an object")]
    out = []
    kind = action.get("type")
    if not _one_of(kind, ACTION_TYPES):
        out.append(_p(127, f"{path}.type: must be create, update or delete"))
    if not _text(action.get("description")):
        out.append(_p(128, f"{path}.description: required string (cds-resp-5)"))
    resource = action.get("resource")
    if _one_of(kind, ("create", "update")) and (not isinstance(resource, dict) or "resourceType" not in resource):
        out.append(_p(131 if kind == "create" else 132, f"{path}.resource: {kind} needs a whole FHIR resource"))
    if kind == "update" and isinstance(resource, dict) and not resource.get("id"):
        out.append(_p(132, f"{path}.resource.id: update needs the resource id"))
    if kind == "delete":
        ref = action.get("resourceId")
        if not isinstance(ref, str) or "/" not in ref:
            out.append(_p(134, f"{path}.resourceId: delete needs a relative reference Type/id (cds-resp-2)"))
        if resource is not None:
            out.append(_p(133, f"{path}.resource: delete must not carry a resource (cds-resp-2)"))
    elif "resourceId" in action and not isinstance(action["resourceId"], str):
        out.append(_p(135, f"{path}.resourceId: must be a string"))
    return out


def link_problems(link: Any, path: str) -> list[Problem]:
    if not isinstance(link, dict):
        return [_p(103, f"{path}: must be an object")]
    out = []
    if not _text(link.get("label")):
        out.append(_p(138, f"{path}.label: required string"))
    if not _absolute_url(link.get("url")):
        out.append(_p(139, f"{path}.url: required absolute URL"))
    if not _one_of(link.get("type"), LINK_TYPES):
        out.append(_p(142, f"{path}.type: must be absolute or smart"))
    if "appContext" in link and link.get("type") != "smart":
        out.append(_p(147, f"{path}.appContext: only on smart links (cds-resp-3)"))
    elif "appContext" in link and not isinstance(link["appContext"], str):
        out.append(_p(144, f"{path}.appContext: must be a string"))
    if "autolaunchable" in link and not isinstance(link["autolaunchable"], bool):
        out.append(_p("#link.autolaunchable", f"{path}.autolaunchable: must be a boolean"))
    return out


def suggestion_problems(suggestion: Any, path: str) -> list[Problem]:
    if not isinstance(suggestion, dict):
        return [_p(92, f"{path}: must be an object")]
    out = []
    if not _text(suggestion.get("label")):
        out.append(_p(117, f"{path}.label: required string"))
    if "uuid" in suggestion and not isinstance(suggestion["uuid"], str):
        out.append(_p(119, f"{path}.uuid: must be a string"))
    elif not _text(suggestion.get("uuid")):
        out.append(_own(f"{path}.uuid: every suggestion carries a uuid (needed for feedback)"))
    if "isRecommended" in suggestion and not isinstance(suggestion["isRecommended"], bool):
        out.append(_p(121, f"{path}.isRecommended: must be a boolean"))
    actions = suggestion.get("actions", [])
    if not isinstance(actions, list):
        out.append(_p(124, f"{path}.actions: must be an array"))
    else:
        for i, action in enumerate(actions):
            out.extend(action_problems(action, f"{path}.actions[{i}]"))
    return out


def card_problems(card: Any, path: str = "card") -> list[Problem]:
    """Every rule a card must satisfy before it leaves the service."""
    if not isinstance(card, dict):
        return [_p(74, f"{path}: must be an object")]
    out = [_p(3, f"{p}: null or empty value") for p in empty_values(card, path)]
    summary = card.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        out.append(_p(83, f"{path}.summary: required string"))
    elif len(summary) > MAX_SUMMARY:
        out.append(_p(83, f"{path}.summary: {len(summary)} characters, must be under 140"))
    if "uuid" in card and not isinstance(card["uuid"], str):
        out.append(_p(80, f"{path}.uuid: must be a string"))
    elif not _text(card.get("uuid")):
        out.append(_own(f"{path}.uuid: every card carries a uuid (needed for feedback)"))
    if not _one_of(card.get("indicator"), INDICATORS):
        out.append(_p(88 if "indicator" in card else 87, f"{path}.indicator: must be info, warning or critical"))
    if "detail" in card and not isinstance(card["detail"], str):
        out.append(_p(85, f"{path}.detail: must be a markdown string"))
    source = card.get("source")
    if not isinstance(source, dict):
        out.append(_p(90, f"{path}.source: required object"))
    else:
        if not _text(source.get("label")):
            out.append(_p(105, f"{path}.source.label: required string"))
        for key, rule in (("url", 107), ("icon", 111)):
            if key in source and not _absolute_url(source[key]):
                out.append(_p(rule, f"{path}.source.{key}: must be an absolute URL"))
        if "topic" in source:
            out.extend(coding_problems(source["topic"], f"{path}.source.topic"))
    out.extend(_suggestions_problems(card, path))
    reasons = card.get("overrideReasons")
    if reasons is not None:
        if not isinstance(reasons, list):
            out.append(_p(98, f"{path}.overrideReasons: must be an array"))
        else:
            for i, reason in enumerate(reasons):
                out.extend(coding_problems(reason, f"{path}.overrideReasons[{i}]", display_required=True,
                                           requirement=98))
    links = card.get("links")
    if links is not None:
        if not isinstance(links, list):
            out.append(_p(103, f"{path}.links: must be an array"))
        else:
            for i, link in enumerate(links):
                out.extend(link_problems(link, f"{path}.links[{i}]"))
    return out


def _suggestions_problems(card: dict[str, Any], path: str) -> list[Problem]:
    suggestions = card.get("suggestions")
    if suggestions is None:
        return [_own(f"{path}.selectionBehavior: only with suggestions")] if "selectionBehavior" in card else []
    if not isinstance(suggestions, list):
        return [_p(92, f"{path}.suggestions: must be an array")]
    out = []
    behavior = card.get("selectionBehavior")
    if not _one_of(behavior, SELECTION_BEHAVIORS):
        out.append(_p(95 if "selectionBehavior" in card else 93,
                      f"{path}.selectionBehavior: required with suggestions: at-most-one or any (cds-resp-6)"))
    recommended = 0
    uuids: set[str] = set()
    for i, suggestion in enumerate(suggestions):
        out.extend(suggestion_problems(suggestion, f"{path}.suggestions[{i}]"))
        if isinstance(suggestion, dict):
            recommended += suggestion.get("isRecommended") is True
            uuid = suggestion.get("uuid")
            if isinstance(uuid, str):
                if uuid in uuids:
                    out.append(_own(f"{path}.suggestions[{i}].uuid: duplicate"))
                uuids.add(uuid)
    if behavior == "at-most-one" and recommended > 1:
        out.append(_p(122, f"{path}.suggestions: at most one isRecommended with at-most-one (cds-resp-1)"))
    return out


def response_problems(body: Any) -> list[Problem]:
    """Problems of a whole service response body."""
    if not isinstance(body, dict):
        return [_p(74, "response: must be a JSON object")]
    cards = body.get("cards")
    if not isinstance(cards, list):
        return [_p(74, "response.cards: required array (use [] for no guidance)")]
    out = []
    uuids: set[str] = set()
    for i, card in enumerate(cards):
        out.extend(card_problems(card, f"cards[{i}]"))
        if isinstance(card, dict) and isinstance(card.get("uuid"), str):
            if card["uuid"] in uuids:
                out.append(_p(80, f"cards[{i}].uuid: duplicate"))
            uuids.add(card["uuid"])
    actions = body.get("systemActions")
    if actions is not None:
        if not isinstance(actions, list) or not actions:
            out.append(_p(75, "response.systemActions: must be a non-empty array when present"))
        else:
            for i, action in enumerate(actions):
                out.extend(action_problems(action, f"systemActions[{i}]"))
    extension = body.get("extension")
    if extension is not None and not isinstance(extension, dict):
        out.append(_p(214, "response.extension: must be an object"))
    return out


def discovery_problems(body: Any) -> list[Problem]:
    """Problems of a discovery document (GET /cds-services)."""
    if not isinstance(body, dict) or not isinstance(body.get("services"), list):
        return [_p(6, "discovery: must be an object with a services array")]
    out = [_p(3, f"{p}: null or empty value") for p in empty_values(body) if p != "services"]
    ids: set[tuple[str, str]] = set()
    for i, service in enumerate(body["services"]):
        path = f"services[{i}]"
        if not isinstance(service, dict):
            out.append(_p(6, f"{path}: must be an object"))
            continue
        for key, rule in (("hook", 7), ("description", 9), ("id", 10)):
            if not isinstance(service.get(key), str) or not service.get(key):
                out.append(_p(rule, f"{path}.{key}: required string"))
        pair = (str(service.get("id")), str(service.get("hook")))
        if pair in ids:
            out.append(_p(10, f"{path}: duplicate id for the same hook"))
        ids.add(pair)
        prefetch = service.get("prefetch")
        if prefetch is not None and (
            not isinstance(prefetch, dict) or not all(isinstance(v, str) for v in prefetch.values())
        ):
            out.append(_p(36, f"{path}.prefetch: must map keys to query strings"))
    return out
