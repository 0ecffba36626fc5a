"""The book as one Markdown document (GitHub-flavoured tables), for review in a text editor or a diff."""

from __future__ import annotations

from typing import Any

from cdshooks.knowledge_book.collect import Book
from cdshooks.knowledge_book.templating import environment, procedure_label


def cell(value: Any) -> str:
    """Text for a table cell: one line, pipes escaped."""
    text = "" if value is None else " ".join(str(value).split())
    return text.replace("\\", "\\\\").replace("|", "\\|")


def code(value: Any) -> str:
    """Inline code that survives backticks and pipes inside it (e.g. a regex in a table cell)."""
    text = "" if value is None else " ".join(str(value).split())
    fence = "``" if "`" in text else "`"
    body = f" {text} " if fence == "``" or text.startswith("`") or text.endswith("`") else text
    return f"{fence}{body}{fence}".replace("|", "\\|")


def quote(text: str | None) -> str:
    """A block quote: every line prefixed with "> "."""
    return "\n".join(f"> {line}".rstrip() for line in (text or "").strip().splitlines())


def render_markdown(book: Book) -> str:
    env = environment(html=False)
    env.filters.update(cell=cell, code=code, quote=quote)
    env.globals["procedure_label"] = procedure_label(book)
    return env.get_template("book.md.j2").render(book=book)
