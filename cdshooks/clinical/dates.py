"""Typed access to dates the caller has already checked (mypy cannot narrow `x.when` inside a filter)."""

from __future__ import annotations

from datetime import datetime


def known_date(when: datetime | None) -> datetime:
    """`when`, which the caller has already filtered to be present: the key of a sort or max over dated items.
    None here is a bug in the caller and fails as comparing None with a datetime would (TypeError)."""
    if when is None:
        raise TypeError("an undated item where only dated items were selected")
    return when
