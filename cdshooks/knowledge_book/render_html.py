"""The book as one self-contained HTML page: inline CSS, no script, no external asset; print-ready.

Card wording and rule summaries are Markdown, rendered with markdown-it (raw HTML in the data is escaped, unsafe
link schemes are refused). The output is also well-formed XML, so any XML parser can check it.
"""

from __future__ import annotations

import re
from typing import Any

from markdown_it import MarkdownIt
from markupsafe import Markup, escape

from cdshooks.knowledge_book.collect import Book
from cdshooks.knowledge_book.templating import PLACEHOLDER, environment, procedure_label

_MD = MarkdownIt("commonmark", {"html": False, "typographer": False}).enable("table")
_URL = re.compile(r"https?://[^\s<>\"']+")
_TRAILING = ".,;:)]"
# placeholders travel through markdown-it as these brackets (never in card text), then become <span>s
_OPEN, _CLOSE = "\u27e6", "\u27e7"
_MARKED = re.compile(f"{_OPEN}(\\w+){_CLOSE}")


def markdown(text: str | None) -> Markup:
    return Markup(_MD.render(text or ""))


def markdown_anchored(text: str | None) -> Markup:
    """Markdown whose headings get GitHub-style ids ("## Section map" -> id="section-map"), so the links of a
    document written for the repository (docs/clinical-rules.md) also work inside the book. Render each such
    document once per page (ids must stay unique)."""
    tokens = _MD.parse(text or "")
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and i + 1 < len(tokens):
            token.attrSet("id", slug(tokens[i + 1].content))
    return Markup(_MD.renderer.render(tokens, _MD.options, {}))


def slug(heading: str) -> str:
    kept = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return re.sub(r" ", "-", kept)


def markdown_inline(text: str | None) -> Markup:
    return Markup(_MD.renderInline(text or ""))


def card_markdown(text: str | None, *, inline: bool = False) -> Markup:
    """Card wording: Markdown with its `{placeholders}` shown as marked fields."""
    marked = PLACEHOLDER.sub(lambda m: f"{_OPEN}{m.group(1)}{_CLOSE}", text or "")
    rendered = _MD.renderInline(marked) if inline else _MD.render(marked)
    return Markup(_MARKED.sub(r'<span class="ph">\1</span>', rendered))


def linkify(text: Any) -> Markup:
    """Plain text, escaped, with its web addresses as links."""
    source = "" if text is None else str(text)
    out: list[str] = []
    last = 0
    for match in _URL.finditer(source):
        url = match.group(0)
        while url and url[-1] in _TRAILING and not (url[-1] == ")" and url.count("(") >= url.count(")")):
            url = url[:-1]
        out.append(str(escape(source[last:match.start()])))
        out.append(f'<a href="{escape(url)}">{escape(url)}</a>')
        last = match.start() + len(url)
    out.append(str(escape(source[last:])))
    return Markup("".join(out))


def wbr(identifier: Any) -> Markup:
    """An identifier (P_FLARE_MIN_DAYS, VS_BONE_PAIN) that may wrap after its underscores, never mid-word."""
    return Markup("_<wbr />".join(str(escape(part)) for part in str(identifier).split("_")))


def render_html(book: Book) -> str:
    env = environment(html=True)
    env.filters.update(md=markdown, md_anchored=markdown_anchored, md_inline=markdown_inline, card_md=card_markdown,
                       linkify=linkify, wbr=wbr)
    env.globals["procedure_label"] = procedure_label(book)
    return env.get_template("book.html.j2").render(book=book)
