"""CDS Hooks 2.0 response objects: Card, Source, Suggestion, Action, Link, Coding.

`to_json()` omits optional fields that are None or empty (the spec forbids null and empty values), the one
exception being the `cards` array itself. Invariants are checked on the JSON by
`cdshooks.protocol.conformance`, the same checker `cdshooks replay` applies to any service's answers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from cdshooks.protocol.conformance import is_empty

Indicator = Literal["info", "warning", "critical"]
ActionType = Literal["create", "update", "delete"]
LinkType = Literal["absolute", "smart"]
SelectionBehavior = Literal["at-most-one", "any"]

INDICATOR_RANK: dict[str, int] = {"critical": 0, "warning": 1, "info": 2}


def new_uuid() -> str:
    return str(uuid.uuid4())


def prune(value: Any) -> Any:
    """Drop None and empty strings/lists/dicts, recursively."""
    if isinstance(value, dict):
        return _pruned_dict(value)
    if isinstance(value, list):
        return _pruned_list(value)
    return value


# The two halves of `prune`, calling each other directly: a scalar is checked where it stands (no call per value, no
# generator per list), which makes pruning an action's whole FHIR resource about twice as fast.
def _pruned_dict(value: dict[Any, Any]) -> dict[Any, Any]:
    out = {}
    for key, item in value.items():
        if isinstance(item, dict):
            item = _pruned_dict(item)
            if not item:
                continue
        elif isinstance(item, list):
            item = _pruned_list(item)
            if not item:
                continue
        elif item is None or item == "":
            continue
        out[key] = item
    return out


def _pruned_list(value: list[Any]) -> list[Any]:
    out = []
    for item in value:
        if isinstance(item, dict):
            item = _pruned_dict(item)
            if not item:
                continue
        elif isinstance(item, list):
            item = _pruned_list(item)
            if not item:
                continue
        elif is_empty(item):  # in a list, a scalar equal to [] or {} is dropped too (as `prune` always did)
            continue
        out.append(item)
    return out


def _present(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields that have a value (None, "", [] and {} left out): a response object's own fields, whose nested
    objects were pruned by their own `to_json` (pruning them again would walk every draft resource once per level)."""
    return {key: value for key, value in fields.items() if not is_empty(value)}


@dataclass(frozen=True)
class Coding:
    system: str
    code: str
    display: str | None = None

    def to_json(self) -> dict[str, Any]:
        return _present({"system": self.system, "code": self.code, "display": self.display})


@dataclass(frozen=True)
class Source:
    label: str
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None

    def to_json(self) -> dict[str, Any]:
        return _present({
            "label": self.label,
            "url": self.url,
            "icon": self.icon,
            "topic": self.topic.to_json() if self.topic else None,
        })


@dataclass(frozen=True)
class Action:
    type: ActionType
    description: str
    resource: dict[str, Any] | None = None
    resourceId: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The action's JSON, built once (the call checks it, then sends it): read-only."""
        return self._json

    @cached_property
    def _json(self) -> dict[str, Any]:
        return _present({
            "type": self.type,
            "description": self.description,
            "resource": prune(self.resource) if self.resource is not None else None,
            "resourceId": self.resourceId,
        })


@dataclass(frozen=True)
class Suggestion:
    label: str
    actions: tuple[Action, ...] = ()
    uuid: str = field(default_factory=new_uuid)
    isRecommended: bool | None = None

    def to_json(self) -> dict[str, Any]:
        return _present({
            "label": self.label,
            "uuid": self.uuid,
            "isRecommended": self.isRecommended,
            "actions": [a.to_json() for a in self.actions],
        })


@dataclass(frozen=True)
class Link:
    label: str
    url: str
    type: LinkType = "absolute"
    appContext: str | None = None
    autolaunchable: bool | None = None

    def to_json(self) -> dict[str, Any]:
        return _present({
            "label": self.label,
            "url": self.url,
            "type": self.type,
            "appContext": self.appContext,
            "autolaunchable": self.autolaunchable,
        })


@dataclass(frozen=True)
class Card:
    summary: str
    indicator: Indicator
    source: Source
    detail: str | None = None
    suggestions: tuple[Suggestion, ...] = ()
    selectionBehavior: SelectionBehavior | None = None
    overrideReasons: tuple[Coding, ...] = ()
    links: tuple[Link, ...] = ()
    uuid: str = field(default_factory=new_uuid)
    # CDS Hooks `extension`: named properties under reverse-domain keys (cdshooks.governance.extensions)
    extension: dict[str, Any] | None = None

    @property
    def topic(self) -> str | None:
        return self.source.topic.code if self.source.topic else None

    def to_json(self) -> dict[str, Any]:
        """The card's JSON, built once (the call checks it, then sends it): read-only."""
        return self._json

    @cached_property
    def _json(self) -> dict[str, Any]:
        return _present({
            "uuid": self.uuid,
            "summary": self.summary,
            "detail": self.detail,
            "indicator": self.indicator,
            "source": self.source.to_json(),
            "suggestions": [s.to_json() for s in self.suggestions],
            "selectionBehavior": self.selectionBehavior if self.suggestions else None,
            "overrideReasons": [r.to_json() for r in self.overrideReasons],
            "links": [link.to_json() for link in self.links],
            "extension": prune(self.extension) if self.extension is not None else None,
        })


@dataclass(frozen=True)
class HookResponse:
    cards: tuple[Card, ...] = ()
    system_actions: tuple[Action, ...] = ()
    mirror_in_extension: bool = False

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"cards": [c.to_json() for c in self.cards]}
        if self.system_actions:
            actions = [a.to_json() for a in self.system_actions]
            body["systemActions"] = actions
            if self.mirror_in_extension:
                body["extension"] = {"systemActions": actions}
        return body
