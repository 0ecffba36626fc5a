"""A 200 answer of a service call, judged by every card, suggestion, action, link and Coding rule.

The rules themselves are the service's own (`cdshooks.protocol.conformance`, which tags each problem with its
requirement id); this module drops the project's stricter house rules, applies the 3.0 ballot's changes, adds
the extension and markdown checks, and marks as exercised the requirements whose elements the answer holds
(a link rule passes only when a link was seen).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from cdshooks.conformance_kit.client import Exchange
from cdshooks.conformance_kit.context import Context
from cdshooks.conformance_kit.requirements import B, R
from cdshooks.conformance_kit.results import Status
from cdshooks.protocol.conformance import response_problems

ACTION_SELECTION = {"all", "any", "at-most-one"}
_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(\s[^<>]*)?/?>")

# element seen in the answer -> requirements it exercises
EXERCISES: dict[str, tuple[str, ...]] = {
    "response": (R(74), R(3)),
    "card": (R(83), R(87), R(88), R(90), R(105)),
    "card.uuid": (R(80),),
    "detail": (R(85),),
    "source.url": (R(107),),
    "source.icon": (R(111),),
    "topic": (R(115), R(216), R(217)),
    "suggestions": (R(92), R(93), R(95), R(117), R(122)),
    "suggestion.uuid": (R(119),),
    "isRecommended": (R(121),),
    "actions": (R(124), R(127), R(128)),
    "create": (R(131),),
    "update": (R(132),),
    "delete": (R(133), R(134)),
    "resourceId": (R(135),),
    "overrideReasons": (R(98), R(100), R(216), R(217)),
    "links": (R(103), R(138), R(139), R(142)),
    "absolute-link": (R(147),),
    "appContext": (R(144),),
    "autolaunchable": (R("#link.autolaunchable"),),
    "systemActions": (R(75), R(127), R(128)),
    "extension": (R(214), R(215)),
    "actionSelectionBehavior": (B("#suggestion.actionSelectionBehavior"),),
}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _objects(body: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, object) of every CDS Hooks object in the answer (not inside FHIR resources)."""
    yield "response", body
    for i, card in enumerate(_dicts(body.get("cards"))):
        yield f"cards[{i}]", card
        if isinstance(card.get("source"), dict):
            yield f"cards[{i}].source", card["source"]
        for j, suggestion in enumerate(_dicts(card.get("suggestions"))):
            yield f"cards[{i}].suggestions[{j}]", suggestion
            for k, action in enumerate(_dicts(suggestion.get("actions"))):
                yield f"cards[{i}].suggestions[{j}].actions[{k}]", action
        for j, link in enumerate(_dicts(card.get("links"))):
            yield f"cards[{i}].links[{j}]", link
    for i, action in enumerate(_dicts(body.get("systemActions"))):
        yield f"systemActions[{i}]", action


def elements(body: dict[str, Any]) -> set[str]:
    """Which kinds of element the answer holds (keys of EXERCISES)."""
    seen = {"response"}
    for path, obj in _objects(body):
        leaf = path.rsplit(".", 1)[-1]
        if "extension" in obj:
            seen.add("extension")
        if leaf.startswith("cards["):
            seen.add("card")
            seen.update(name for name in ("detail", "suggestions", "overrideReasons", "links") if name in obj)
            if "uuid" in obj:
                seen.add("card.uuid")
        elif leaf == "source":
            seen.update(f"source.{name}" for name in ("url", "icon") if name in obj)
            if "topic" in obj:
                seen.add("topic")
        elif leaf.startswith("suggestions["):
            seen.update(name for name in ("isRecommended", "actionSelectionBehavior", "actions") if name in obj)
            if "uuid" in obj:
                seen.add("suggestion.uuid")
        elif leaf.startswith(("actions[", "systemActions[")):
            seen.add("systemActions" if leaf.startswith("systemActions") else "actions")
            kind = obj.get("type")
            if kind in ("create", "update", "delete"):
                seen.add(kind)
            if "resourceId" in obj:
                seen.add("resourceId")
        elif leaf.startswith("links["):
            seen.update(name for name in ("appContext", "autolaunchable") if name in obj)
            if obj.get("type") == "absolute":
                seen.add("absolute-link")
    return seen


def check_answer(ctx: Context, exchange: Exchange, body: Any) -> None:
    """Record every rule against one decoded 200 answer."""
    problems = [p for p in response_problems(body) if p.requirement]  # house rules ("") are not the spec's
    if ctx.spec == "3.0":  # the ballot makes description optional outside suggestions (cds-resp-5)
        problems = [p for p in problems if not (p.requirement == R(128) and p.startswith("systemActions["))]
    for problem in problems:
        ctx.record(problem.requirement, Status.FAIL, str(problem), exchange)
    if not isinstance(body, dict):
        return
    for path, obj in _objects(body):
        _extension(ctx, exchange, path, obj)
        if path.startswith("cards[") and "." not in path and isinstance(obj.get("detail"), str):
            tag = _HTML_TAG.search(obj["detail"])
            if tag:
                ctx.record(R(85), Status.WARN, f"{path}.detail holds raw HTML ({tag.group(0)[:40]}): clients may "
                           "show it as text; use markdown", exchange)
        if "actionSelectionBehavior" in obj:
            value = obj["actionSelectionBehavior"]
            rid = B("#suggestion.actionSelectionBehavior")
            if not (isinstance(value, str) and value in ACTION_SELECTION):
                ctx.record(rid, Status.FAIL, f"{path}.actionSelectionBehavior: must be all, any or at-most-one",
                           exchange)
            else:
                ctx.record(rid, Status.WARN, f"{path}.actionSelectionBehavior: services SHALL NOT send it unless the "
                           "client documents support", exchange)
    for element in elements(body):
        for rid in EXERCISES[element]:
            ctx.record(rid, Status.PASS, f"checked ({element})", exchange)


def _extension(ctx: Context, exchange: Exchange, path: str, obj: dict[str, Any]) -> None:
    if "extension" not in obj:
        return
    value = obj["extension"]
    if not isinstance(value, dict):
        if path != "response":  # response_problems reports the response-level one
            ctx.record(R(214), Status.FAIL, f"{path}.extension: must be an object", exchange)
        return
    for name in value:
        if "." not in str(name):
            ctx.record(R(215), Status.WARN, f"{path}.extension.{name}: not a reverse-domain name", exchange)
