"""Checks of CDS Hooks 2.0 JSON against the spec's service-side rules.

Pure functions over decoded JSON returning a list of problems (empty = conformant). The service runs
`card_problems` on every card before sending it; `cdshooks replay` runs `response_problems` on every
answer, ours or a remote service's. Invariant names follow the 3.0-ballot FHIRPath invariants where one
exists (cds-resp-1..7).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

INDICATORS = {"info", "warning", "critical"}
SELECTION_BEHAVIORS = {"at-most-one", "any"}
ACTION_TYPES = {"create", "update", "delete"}
LINK_TYPES = {"absolute", "smart"}
MAX_SUMMARY = 139


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def empty_values(value: Any, path: str = "") -> list[str]:
    """Paths of null or empty values (the spec forbids them; `cards: []` is allowed by the caller)."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            sub = f"{path}.{key}" if path else key
            if _is_empty(item):
                found.append(sub)
            else:
                found.extend(empty_values(item, sub))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            sub = f"{path}[{i}]"
            if _is_empty(item):
                found.append(sub)
            else:
                found.extend(empty_values(item, sub))
    return found


def _absolute_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return bool(parts.scheme and parts.netloc)


def _text(value: Any) -> bool:
    """A non-empty string."""
    return isinstance(value, str) and bool(value)


def coding_problems(coding: Any, path: str, display_required: bool = False) -> list[str]:
    if not isinstance(coding, dict):
        return [f"{path}: must be a Coding object"]
    out = []
    for key in ("system", "code"):
        if not _text(coding.get(key)):
            out.append(f"{path}.{key}: required string")
    if display_required and (not _text(coding.get("display"))):
        out.append(f"{path}.display: required for override reasons (cds-resp-4)")
    return out


def action_problems(action: Any, path: str) -> list[str]:
    if not isinstance(action, dict):
        return [f"{path}: must be an object"]
    out = []
    kind = action.get("type")
    if kind not in ACTION_TYPES:
        out.append(f"{path}.type: must be create, update or delete")
    if not _text(action.get("description")):
        out.append(f"{path}.description: required string (cds-resp-5)")
    resource = action.get("resource")
    if kind in {"create", "update"} and (not isinstance(resource, dict) or "resourceType" not in resource):
        out.append(f"{path}.resource: {kind} needs a whole FHIR resource")
    if kind == "update" and isinstance(resource, dict) and not resource.get("id"):
        out.append(f"{path}.resource.id: update needs the resource id")
    if kind == "delete":
        ref = action.get("resourceId")
        if not isinstance(ref, str) or "/" not in ref:
            out.append(f"{path}.resourceId: delete needs a relative reference Type/id (cds-resp-2)")
        if resource is not None:
            out.append(f"{path}.resource: delete must not carry a resource (cds-resp-2)")
    return out


def link_problems(link: Any, path: str) -> list[str]:
    if not isinstance(link, dict):
        return [f"{path}: must be an object"]
    out = []
    if not _text(link.get("label")):
        out.append(f"{path}.label: required string")
    if not _absolute_url(link.get("url")):
        out.append(f"{path}.url: required absolute URL")
    if link.get("type") not in LINK_TYPES:
        out.append(f"{path}.type: must be absolute or smart")
    if "appContext" in link and link.get("type") != "smart":
        out.append(f"{path}.appContext: only on smart links (cds-resp-3)")
    if "autolaunchable" in link and not isinstance(link["autolaunchable"], bool):
        out.append(f"{path}.autolaunchable: must be a boolean")
    return out


def suggestion_problems(suggestion: Any, path: str) -> list[str]:
    if not isinstance(suggestion, dict):
        return [f"{path}: must be an object"]
    out = []
    if not _text(suggestion.get("label")):
        out.append(f"{path}.label: required string")
    if not _text(suggestion.get("uuid")):
        out.append(f"{path}.uuid: every suggestion carries a uuid (needed for feedback)")
    if "isRecommended" in suggestion and not isinstance(suggestion["isRecommended"], bool):
        out.append(f"{path}.isRecommended: must be a boolean")
    actions = suggestion.get("actions", [])
    if not isinstance(actions, list):
        out.append(f"{path}.actions: must be an array")
    else:
        for i, action in enumerate(actions):
            out.extend(action_problems(action, f"{path}.actions[{i}]"))
    return out


def card_problems(card: Any, path: str = "card") -> list[str]:
    """Every rule a card must satisfy before it leaves the service."""
    if not isinstance(card, dict):
        return [f"{path}: must be an object"]
    out = [f"{p}: null or empty value" for p in empty_values(card, path)]
    summary = card.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        out.append(f"{path}.summary: required string")
    elif len(summary) > MAX_SUMMARY:
        out.append(f"{path}.summary: {len(summary)} characters, must be under 140")
    if not _text(card.get("uuid")):
        out.append(f"{path}.uuid: every card carries a uuid (needed for feedback)")
    if card.get("indicator") not in INDICATORS:
        out.append(f"{path}.indicator: must be info, warning or critical")
    if "detail" in card and not isinstance(card["detail"], str):
        out.append(f"{path}.detail: must be a markdown string")
    source = card.get("source")
    if not isinstance(source, dict):
        out.append(f"{path}.source: required object")
    else:
        if not _text(source.get("label")):
            out.append(f"{path}.source.label: required string")
        for key in ("url", "icon"):
            if key in source and not _absolute_url(source[key]):
                out.append(f"{path}.source.{key}: must be an absolute URL")
        if "topic" in source:
            out.extend(coding_problems(source["topic"], f"{path}.source.topic"))
    suggestions = card.get("suggestions")
    if suggestions is not None:
        if not isinstance(suggestions, list):
            out.append(f"{path}.suggestions: must be an array")
        else:
            behavior = card.get("selectionBehavior")
            if behavior not in SELECTION_BEHAVIORS:
                out.append(f"{path}.selectionBehavior: required with suggestions: at-most-one or any (cds-resp-6)")
            recommended = 0
            uuids = set()
            for i, suggestion in enumerate(suggestions):
                out.extend(suggestion_problems(suggestion, f"{path}.suggestions[{i}]"))
                if isinstance(suggestion, dict):
                    recommended += suggestion.get("isRecommended") is True
                    if suggestion.get("uuid") in uuids:
                        out.append(f"{path}.suggestions[{i}].uuid: duplicate")
                    uuids.add(suggestion.get("uuid"))
            if behavior == "at-most-one" and recommended > 1:
                out.append(f"{path}.suggestions: at most one isRecommended with at-most-one (cds-resp-1)")
    elif "selectionBehavior" in card:
        out.append(f"{path}.selectionBehavior: only with suggestions")
    reasons = card.get("overrideReasons")
    if reasons is not None:
        if not isinstance(reasons, list):
            out.append(f"{path}.overrideReasons: must be an array")
        else:
            for i, reason in enumerate(reasons):
                out.extend(coding_problems(reason, f"{path}.overrideReasons[{i}]", display_required=True))
    links = card.get("links")
    if links is not None:
        if not isinstance(links, list):
            out.append(f"{path}.links: must be an array")
        else:
            for i, link in enumerate(links):
                out.extend(link_problems(link, f"{path}.links[{i}]"))
    return out


def response_problems(body: Any) -> list[str]:
    """Problems of a whole service response body."""
    if not isinstance(body, dict):
        return ["response: must be a JSON object"]
    cards = body.get("cards")
    if not isinstance(cards, list):
        return ["response.cards: required array (use [] for no guidance)"]
    out = []
    uuids: set[str] = set()
    for i, card in enumerate(cards):
        out.extend(card_problems(card, f"cards[{i}]"))
        if isinstance(card, dict) and isinstance(card.get("uuid"), str):
            if card["uuid"] in uuids:
                out.append(f"cards[{i}].uuid: duplicate")
            uuids.add(card["uuid"])
    actions = body.get("systemActions")
    if actions is not None:
        if not isinstance(actions, list) or not actions:
            out.append("response.systemActions: must be a non-empty array when present")
        else:
            for i, action in enumerate(actions):
                out.extend(action_problems(action, f"systemActions[{i}]"))
    extension = body.get("extension")
    if extension is not None and not isinstance(extension, dict):
        out.append("response.extension: must be an object")
    return out


def discovery_problems(body: Any) -> list[str]:
    """Problems of a discovery document (GET /cds-services)."""
    if not isinstance(body, dict) or not isinstance(body.get("services"), list):
        return ["discovery: must be an object with a services array"]
    out = [f"{p}: null or empty value" for p in empty_values(body) if p != "services"]
    ids = set()
    for i, service in enumerate(body["services"]):
        path = f"services[{i}]"
        if not isinstance(service, dict):
            out.append(f"{path}: must be an object")
            continue
        for key in ("hook", "description", "id"):
            if not isinstance(service.get(key), str) or not service.get(key):
                out.append(f"{path}.{key}: required string")
        if (service.get("id"), service.get("hook")) in ids:
            out.append(f"{path}: duplicate id for the same hook")
        ids.add((service.get("id"), service.get("hook")))
        prefetch = service.get("prefetch")
        if prefetch is not None and (
            not isinstance(prefetch, dict) or not all(isinstance(v, str) for v in prefetch.values())
        ):
            out.append(f"{path}.prefetch: must map keys to query strings")
    return out
