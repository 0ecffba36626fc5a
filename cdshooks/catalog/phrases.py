"""The phrase book (`cards/_phrases.yaml`): every judgement word a rule hands to a card, by key.

Rules name wording with `cdshooks.clinical.wording.Phrase` (a key plus the values it shows) and `Listing`
(several values joined); this module turns them into text. A site may override single phrases in
`<CDSHOOKS_KNOWLEDGE_DIR>/cards/_phrases.yaml` (same keys; the file is merged key by key).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cdshooks.catalog.loader import CatalogError, catalog_dir, placeholders, read_yaml, schema_error
from cdshooks.clinical.wording import Listing, Phrase

PHRASES_FILE = "_phrases.yaml"


class Join(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    separator: str
    last: str | None = None  # between the last two items ("a, b or c"); the separator when absent


class ActionTexts(BaseModel):
    """The description of each action a suggestion carries (shown by some EHRs next to the button)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    update: str  # {draft} changed to {order}
    delete: str  # {draft} removed
    create: str  # {order} created
    rate: str  # the rating system action: {rating} written on {draft}


class PhraseFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    phrases: dict[str, str] = Field(default_factory=dict)
    joins: dict[str, Join] = Field(default_factory=dict)
    actions: ActionTexts | None = None


DEFAULT_ACTIONS = ActionTexts(update="{draft} -> {order}", delete="{draft} removed", create="{order}",
                              rate="{draft}: {rating}")


@dataclass(frozen=True)
class PhraseBook:
    phrases: Mapping[str, str]
    joins: Mapping[str, Join]
    actions: ActionTexts = DEFAULT_ACTIONS

    def action(self, kind: str, **values: str) -> str:
        template: str = getattr(self.actions, kind)
        return template.format_map(values)

    def text(self, value: Any) -> Any:
        """A card value as shown: phrases worded, listings joined, dates as ISO dates, the rest unchanged."""
        if isinstance(value, Phrase):
            template = self.phrases[value.key]
            return template.format_map({k: self.text(v) for k, v in value.args})
        if isinstance(value, Listing):
            items = [str(self.text(v)) for v in value.items if v is not None and v != ""]
            join = self.joins[value.style]
            if len(items) > 1 and join.last is not None:
                return join.separator.join(items[:-1]) + join.last + items[-1]
            return join.separator.join(items)
        if isinstance(value, datetime):
            return value.date().isoformat()
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, list | tuple | set | frozenset):
            return ", ".join(str(self.text(v)) for v in value)
        return value

    def arguments(self, key: str) -> set[str]:
        return placeholders(self.phrases[key])


def _parse(data: Any, where: str) -> PhraseFile:
    try:
        return PhraseFile.model_validate(data if data is not None else {})
    except ValidationError as exc:
        raise schema_error(where, exc) from None


def load_phrases(directory: Path | None = None, override_dir: str | Path | None = None) -> PhraseBook:
    shipped = (directory or catalog_dir()) / PHRASES_FILE
    book = _parse(read_yaml(shipped), PHRASES_FILE)
    if book.actions is None:
        raise CatalogError(f"{PHRASES_FILE}: actions: missing (the descriptions of suggestion actions)")
    phrases, joins, actions = dict(book.phrases), dict(book.joins), book.actions
    override = Path(override_dir) / "cards" / PHRASES_FILE if override_dir else None
    if override is not None and override.is_file():
        site = _parse(read_yaml(override), str(override))
        unknown = sorted((set(site.phrases) - set(phrases)) | (set(site.joins) - set(joins)))
        if unknown:
            raise CatalogError(f"{override}: phrases.{unknown[0]}: unknown key (no rule uses it)")
        phrases.update(site.phrases)
        joins.update(site.joins)
        actions = site.actions or actions
    for key, text in phrases.items():
        try:
            placeholders(text)
        except ValueError as exc:
            raise CatalogError(f"{PHRASES_FILE}: phrases.{key}: bad placeholder ({exc})") from None
    for kind, allowed in ACTION_VALUES.items():
        extra = placeholders(getattr(actions, kind)) - allowed
        if extra:
            raise CatalogError(f"{PHRASES_FILE}: actions.{kind}: {{{sorted(extra)[0]}}} is not known "
                               f"(use {sorted(allowed)})")
    return PhraseBook(phrases, joins, actions)


ACTION_VALUES = {"update": {"draft", "order"}, "delete": {"draft"}, "create": {"order"}, "rate": {"rating", "draft"}}


@cache
def default_phrases() -> PhraseBook:
    return load_phrases()


def worded(values: Any, book: PhraseBook | None = None) -> dict[str, Any]:
    """A finding's values with every phrase and listing worded (dates and numbers kept as they are)."""
    book = book or default_phrases()
    return {k: book.text(v) if isinstance(v, Phrase | Listing) else v for k, v in values.shown().items()}
