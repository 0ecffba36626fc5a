"""`cdshooks knowledge`: the shipped or overridden knowledge as a book; a bad override stops it like the service."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from cdshooks.cli import main
from cdshooks.knowledge_book import Book, BookError, book_date, build_book, render_html, render_markdown
from cdshooks.knowledge_book.sources import cards_directory, content_hash, rules_doc_path
from tests.knowledge_book.book_helpers import BOOK_DATE, page_text

EPOCH = "1780272000"  # 2026-06-01T00:00:00Z

SITE_VALUESETS = """
valuesets:
  VS_BONE_PAIN:
    description: Site list of bone pain codes (R01, R10).
    source: local terminology service
    codes:
      - {system: http://snomed.info/sct, code: '999000111', display: "Site bone pain code", status: UNVERIFIED}
"""


@pytest.fixture
def override_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "site-knowledge"
    directory.mkdir()
    (directory / "parameters.yaml").write_text("parameters:\n  P_FLARE_MIN_DAYS: 21\n", encoding="utf-8")
    (directory / "valuesets.yaml").write_text(SITE_VALUESETS, encoding="utf-8")
    return directory


def test_an_override_changes_the_book_and_its_content_hash(override_dir: Path, book: Book, markdown: str,
                                                           html: str) -> None:
    shipped = book
    book = build_book(override_dir, today=BOOK_DATE)
    assert book.stamp.content_hash != shipped.stamp.content_hash
    assert book.stamp.knowledge_dir == str(override_dir)
    assert book.stamp.overridden == ("parameters.yaml", "valuesets.yaml")
    overridden_md, overridden_html = render_markdown(book), page_text(render_html(book))
    assert "| `P_FLARE_MIN_DAYS` | 21 days | LOCAL OVERRIDE |" in overridden_md
    assert "| `P_FLARE_MIN_DAYS` | 14 days | SOURCED |" in markdown
    assert "P_FLARE_MIN_DAYS 21 days LOCAL OVERRIDE" in overridden_html
    assert "999000111" in overridden_md and "Site bone pain code" in overridden_html
    assert "999000111" not in markdown and "999000111" not in html
    assert str(override_dir) in overridden_md and f"sha256:{book.stamp.content_hash}" in overridden_html
    flare = next(t for t in book.topics if t.code == "bone-scan-flare")
    assert next(p for p in flare.parameters if p.name == "P_FLARE_MIN_DAYS").value == 21


def test_the_content_hash_follows_the_card_catalog(tmp_path: Path, book: Book) -> None:
    cards = tmp_path / "cards"
    shutil.copytree(cards_directory(), cards)
    assert content_hash(book.files, cards, rules_doc_path()) == book.stamp.content_hash  # same names and bytes
    path = cards / "bone-scan-flare.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("title: Possible flare on bone scan", "title: Possible <b>flare</b> & more"),
                    encoding="utf-8")
    after = build_book(None, cards_dir=cards, today=BOOK_DATE)
    assert after.stamp.content_hash != book.stamp.content_hash
    page = render_html(after)
    assert "Possible &lt;b&gt;flare&lt;/b&gt; &amp; more" in page and "<b>flare</b>" not in page


def test_cli_writes_html_and_markdown_with_the_source_date(tmp_path: Path, markdown: str) -> None:
    out_html, out_md = tmp_path / "book.html", tmp_path / "book.md"
    result = CliRunner().invoke(main, ["knowledge", "--html", str(out_html), "--markdown", str(out_md)],
                                env={"SOURCE_DATE_EPOCH": EPOCH, "CDSHOOKS_KNOWLEDGE_DIR": ""})
    assert result.exit_code == 0, result.output
    assert out_md.read_text(encoding="utf-8") == markdown  # same content, same date: the same book
    assert out_html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert f"wrote {out_html}" in result.output


def test_cli_markdown_to_standard_output_reads_the_knowledge_dir_setting(override_dir: Path) -> None:
    result = CliRunner().invoke(main, ["knowledge", "--markdown", "-"],
                                env={"SOURCE_DATE_EPOCH": EPOCH, "CDSHOOKS_KNOWLEDGE_DIR": str(override_dir)})
    assert result.exit_code == 0, result.output
    assert result.output.startswith("# Clinical knowledge book")
    assert "| `P_FLARE_MIN_DAYS` | 21 days | LOCAL OVERRIDE |" in result.output


def test_cli_refuses_a_broken_override_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "parameters.yaml").write_text("parameters:\n  P_FLARE_MIN_DAYS: {value: soon}\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["knowledge", "--markdown", "-"], env={"CDSHOOKS_KNOWLEDGE_DIR": str(tmp_path)})
    assert result.exit_code == 2
    assert "parameters.yaml" in result.output and "P_FLARE_MIN_DAYS" in result.output


def test_cli_needs_an_output_and_only_one_standard_output() -> None:
    assert CliRunner().invoke(main, ["knowledge"]).exit_code == 2
    both = CliRunner().invoke(main, ["knowledge", "--html", "-", "--markdown", "-"])
    assert both.exit_code == 2 and "standard output" in both.output


def test_book_date_comes_from_source_date_epoch() -> None:
    assert book_date({"SOURCE_DATE_EPOCH": EPOCH}) == date(2026, 6, 1)
    with pytest.raises(BookError, match="SOURCE_DATE_EPOCH"):
        book_date({"SOURCE_DATE_EPOCH": "yesterday"})
