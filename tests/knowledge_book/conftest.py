"""The book built once for this folder's tests from the shipped knowledge, with a fixed date."""

from __future__ import annotations

import pytest

from cdshooks.knowledge_book import Book, build_book, render_html, render_markdown
from tests.knowledge_book.book_helpers import BOOK_DATE, page_text


@pytest.fixture(scope="package")
def book() -> Book:
    return build_book(None, today=BOOK_DATE)


@pytest.fixture(scope="package")
def html(book: Book) -> str:
    return render_html(book)


@pytest.fixture(scope="package")
def markdown(book: Book) -> str:
    return render_markdown(book)


@pytest.fixture(scope="package")
def html_text(html: str) -> str:
    return page_text(html)
