"""Helpers for the knowledge-book tests: the text of a page as a reader sees it."""

from __future__ import annotations

import re
from datetime import date
from html.parser import HTMLParser

BOOK_DATE = date(2026, 6, 1)
_BLOCKS = frozenset({"p", "li", "td", "th", "tr", "div", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "br", "section",
                     "article", "header", "footer", "ul", "ol", "table", "nav", "main"})


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip += tag in {"style", "script"}
        if tag in _BLOCKS:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in {"style", "script"}
        if tag in _BLOCKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def page_text(html: str) -> str:
    """What a reader sees: the text of the page, tags dropped, entities decoded, whitespace collapsed."""
    parser = _Text()
    parser.feed(html)
    return squash("".join(parser.parts))


def squash(text: str) -> str:
    return " ".join(text.split())


def plain(card_text: str) -> str:
    """Card wording as a reader sees it: Markdown emphasis and placeholder braces dropped."""
    return squash(re.sub(r"[*`{}]", "", card_text))
