"""The topic registry: each card topic declared once, next to its rule.

A topic is a code (the card catalog entry `cards/<code>.yaml`), the typed values its rule hands to the card
(a frozen dataclass per topic, fields = the card's `{placeholders}`), and the suggestion ids it may offer.
A rule is a pure function of the facts and the parameters, registered with the hooks it serves and the
topics it may emit:

    FLARE = Topic("bone-scan-flare", FlareValues, suggestions=("follow-up-bone-scan",))

    @rule(RESULT_HOOKS, emits=(FLARE,))
    def bone_scan_flare(facts, params): ...
        return [FLARE.finding(FlareValues(...), suggestions=("follow-up-bone-scan",))]

The hooks a topic serves are those of the rules that emit it. Every rule module under
`cdshooks.clinical.rules` is imported by `registry()`, so a new topic needs no list edited elsewhere;
start-up checks registry against catalog (cdshooks.catalog.check) and stops on any mismatch.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import datetime
from functools import cache
from typing import Any, Generic, Literal, TypeVar, get_args, get_origin, get_type_hints

from cdshooks.clinical.facts import DraftOrder, PatientFacts
from cdshooks.clinical.findings import CardValues, Finding

ORDER_HOOKS = ("order-select", "order-sign")
RESULT_HOOKS = ("patient-view",)
ALL_HOOKS = (*ORDER_HOOKS, *RESULT_HOOKS)

Params = Mapping[str, float]


V = TypeVar("V", bound=CardValues)


@dataclass(frozen=True)
class Topic(Generic[V]):
    code: str
    values: type[V]
    suggestions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not is_dataclass(self.values) or not issubclass(self.values, CardValues):
            raise TypeError(f"{self.code}: values must be a CardValues dataclass")

    def finding(self, values: V, *, orders: Iterable[DraftOrder] = (), suggestions: tuple[str, ...] = (),
                recency: datetime | None = None) -> Finding:
        if not isinstance(values, self.values):
            raise TypeError(f"{self.code}: values must be {self.values.__name__}")
        unknown = [s for s in suggestions if s not in self.suggestions]
        if unknown:
            raise ValueError(f"{self.code}: undeclared suggestions {unknown}")
        drafts = tuple(orders)
        return Finding(topic=self.code, values=values, order_ids=tuple(o.ref for o in drafts), orders=drafts,
                       suggestions=suggestions, recency=recency)

    def field_names(self) -> set[str]:
        return {f.name for f in fields(self.values)}

    def variants(self) -> tuple[str, ...] | None:
        """The variant names the values type allows (None: any string, i.e. not narrowed)."""
        hint = get_type_hints(self.values).get("variant")
        names = _literal_strings(hint)
        return tuple(names) if names is not None else None


def _literal_strings(hint: Any) -> list[str] | None:
    if hint is None:
        return None
    if get_origin(hint) is Literal:
        return [a for a in get_args(hint) if isinstance(a, str)]
    args = get_args(hint)
    if not args:
        return None
    found: list[str] = []
    narrowed = False
    for arg in args:
        if arg is type(None):
            continue
        inner = _literal_strings(arg)
        if inner is None:
            return None
        narrowed = True
        found.extend(inner)
    return found if narrowed else []


RuleFunction = Callable[..., list[Finding]]


@dataclass(frozen=True)
class RuleSpec:
    function: RuleFunction
    hooks: tuple[str, ...]
    emits: tuple[Topic[Any], ...]
    rank: int  # evaluation order: lower first (emergencies first, then the ACR rating's own cards)
    uses_acr: bool = False
    # the codes of `emits`, which the engine checks every finding against (once here, not per call)
    topic_codes: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "topic_codes", frozenset(t.code for t in self.emits))

    @property
    def name(self) -> str:
        return f"{self.function.__module__.rsplit('.', 1)[-1]}.{self.function.__name__}"


_RULES: list[RuleSpec] = []


def rule(hooks: tuple[str, ...], *, emits: tuple[Topic[Any], ...], rank: int = 50,
         uses_acr: bool = False) -> Callable[[RuleFunction], RuleFunction]:
    """Register a rule: the hooks it runs on, the topics it may emit. `uses_acr` passes the ACR table lookup
    as keyword `acr`."""
    if not hooks or any(h not in ALL_HOOKS for h in hooks):
        raise ValueError(f"hooks must be a non-empty subset of {ALL_HOOKS}")
    if not emits:
        raise ValueError("a rule emits at least one topic")

    def register(function: RuleFunction) -> RuleFunction:
        _RULES.append(RuleSpec(function, tuple(hooks), tuple(emits), rank, uses_acr))
        return function

    return register


@dataclass(frozen=True)
class Registry:
    topics: Mapping[str, Topic[Any]]
    rules: tuple[RuleSpec, ...]

    def rules_for(self, hook: str) -> tuple[RuleSpec, ...]:
        return tuple(r for r in self.rules if hook in r.hooks)

    def hooks_of(self, topic: str) -> tuple[str, ...]:
        served = {h for r in self.rules if any(t.code == topic for t in r.emits) for h in r.hooks}
        return tuple(h for h in ALL_HOOKS if h in served)


@cache
def registry() -> Registry:
    """Every topic and rule: imports each module of `cdshooks.clinical.rules` (sorted by name)."""
    from cdshooks.clinical import rules as package

    for module in sorted(m.name for m in pkgutil.iter_modules(package.__path__)):
        importlib.import_module(f"{package.__name__}.{module}")
    ordered = tuple(sorted(_RULES, key=lambda r: r.rank))  # stable: registration order inside a rank
    return Registry(topics_of(ordered), ordered)


def topics_of(rules: Iterable[RuleSpec]) -> dict[str, Topic[Any]]:
    """The topics the rules emit, by code; two different declarations of one code are our bug."""
    topics: dict[str, Topic[Any]] = {}
    for spec in rules:
        for topic in spec.emits:
            if topics.setdefault(topic.code, topic) is not topic:
                raise ValueError(f"topic {topic.code!r} declared twice ({spec.name})")
    return topics


__all__ = ["ALL_HOOKS", "ORDER_HOOKS", "RESULT_HOOKS", "CardValues", "Params", "PatientFacts", "Registry",
           "RuleSpec", "Topic", "registry", "rule"]
