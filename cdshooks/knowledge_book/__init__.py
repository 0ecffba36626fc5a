"""The knowledge book: the clinical knowledge as one document a clinical reviewer can read and sign.

`cdshooks knowledge --html FILE --markdown FILE` renders, from the files the service loads (the card catalog, the
knowledge YAML with any site override, and `docs/clinical-rules.md`): every card topic with its hooks, trigger,
card wording in every variant, suggestions, override reasons, sources, parameters and value sets; the rule
summaries; the ACR table; every value set, procedure and medication; and a stamp (package version, content hash of
all those files, generation date) with a sign-off block.

Modules: `sources` (where the inputs are, the content hash), `rules_doc` (the rule summaries), `collect` (the
book's data, with the `collect_topics()` adapter), `render_markdown`, `render_html`, `templating` and
`templates/`.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from cdshooks.catalog.loader import CatalogError
from cdshooks.clinical.knowledge import KnowledgeError
from cdshooks.knowledge_book.collect import Book, build_book, collect_topics
from cdshooks.knowledge_book.render_html import render_html
from cdshooks.knowledge_book.render_markdown import render_markdown


class BookError(RuntimeError):
    """The book cannot be made: a knowledge or catalog file is invalid, or an input or output file is unusable."""


def book_date(environ: dict[str, str] | None = None) -> date:
    """The date printed in the book: SOURCE_DATE_EPOCH (reproducible builds) when set, else today (UTC)."""
    value = (environ if environ is not None else dict(os.environ)).get("SOURCE_DATE_EPOCH", "").strip()
    if value:
        try:
            return datetime.fromtimestamp(int(value), tz=UTC).date()
        except (ValueError, OverflowError, OSError):
            raise BookError(f"SOURCE_DATE_EPOCH must be a Unix time in seconds (got {value!r})") from None
    return datetime.now(tz=UTC).date()


def write_book(knowledge_dir: str | None, *, html_file: Path | None = None, markdown_file: Path | None = None,
               today: date | None = None) -> Book:
    """Build the book once and write the requested renderings (a path of "-" writes to standard output)."""
    try:
        book = build_book(knowledge_dir or None, today=today or book_date())
    except (KnowledgeError, CatalogError, FileNotFoundError) as exc:
        raise BookError(str(exc)) from None
    for path, render in ((markdown_file, render_markdown), (html_file, render_html)):
        if path is None:
            continue
        text = render(book)
        if str(path) == "-":
            sys.stdout.write(text)
            continue
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise BookError(f"{path}: cannot write ({exc.strerror or exc})") from None
        print(f"wrote {path}", file=sys.stderr)
    return book


__all__ = ["Book", "BookError", "book_date", "build_book", "collect_topics", "render_html", "render_markdown",
           "write_book"]
