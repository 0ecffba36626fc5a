"""Words without English: how a rule names a judgement the card catalog words.

A rule never writes a sentence or a judgement word ("site not stated", an MD Anderson category, "none
documented"). It hands over a `Phrase` — a key into the catalog's phrase book (`cards/_phrases.yaml`), with
the values the phrase shows — or a `Listing` of several values. The catalog renders both, so a clinician
edits every user-visible word without touching Python.

Each key a rule can use is declared once with `phrase_key(...)` at import time, with the argument names its
wording may use; start-up then refuses a phrase book that lacks a declared key, holds a key no rule uses, or
whose wording uses an argument the rule does not hand over (cdshooks.catalog.check).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, Union

from cdshooks.clinical.frozen import quick_init

# the keys rules may use -> the argument names each one hands over
_DECLARED: dict[str, frozenset[str]] = {}


@dataclass(frozen=True)
class PhraseKey:
    key: str
    args: frozenset[str] = frozenset()

    def __call__(self, **args: Shown) -> Phrase:
        if args.keys() != self.args:  # a keys view compares as a set
            raise TypeError(f"phrase {self.key!r} takes {sorted(self.args)}, got {sorted(args)}")
        return Phrase(self.key, tuple(sorted(args.items())))


def phrase_key(key: str, *args: str) -> PhraseKey:
    """Declare a key of the phrase book (at import time) and the argument names its wording may use."""
    wanted = frozenset(args)
    if _DECLARED.get(key, wanted) != wanted:
        raise ValueError(f"phrase {key!r} declared twice with different arguments")
    _DECLARED[key] = wanted
    return PhraseKey(key, wanted)


def declared_phrases() -> Mapping[str, frozenset[str]]:
    return dict(_DECLARED)


@quick_init  # rules build several per call
@dataclass(frozen=True)
class Phrase:
    """A wording of the phrase book, by key, with the values it shows."""

    key: str
    args: tuple[tuple[str, Shown], ...] = ()


@quick_init
@dataclass(frozen=True)
class Listing:
    """Several values shown as one: joined the way the phrase book's `join-<style>` entry says."""

    items: tuple[Shown, ...] = field(default_factory=tuple)
    style: Literal["comma", "and", "or", "semicolon", "plus"] = "comma"


# what a card value may be: chart labels (str), numbers, dates, or words from the phrase book
Shown = Union[str, int, float, date, datetime, Phrase, Listing, None]  # noqa: UP007 (forward references)
