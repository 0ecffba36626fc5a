"""Knowledge version on every output: one version + content hash, on every card, every rating, every stored row,
printed by `cdshooks knowledge --version`, the same hash as the knowledge book's stamp."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cdshooks.catalog.loader import CatalogError, catalog_dir
from cdshooks.catalog.ratings import CONSULT_URL, RATING_URL, Consult, rated
from cdshooks.cli import main
from cdshooks.governance.extensions import KNOWLEDGE_KEY, KNOWLEDGE_URL, knowledge_fhir_extension
from cdshooks.governance.knowledge_version import KnowledgeVersion, knowledge_version
from cdshooks.knowledge_book.sources import cards_directory, content_hash, load_knowledge_files, rules_doc_path
from tests.governance.conftest import NO_BMA, NOT_APPROPRIATE, AppFactory, call, card_rows, rating_rows

SHIPPED = knowledge_version()


def _knowledge_extension(resource: dict[str, Any]) -> dict[str, str]:
    found = [e for e in resource.get("extension", []) if e.get("url") == KNOWLEDGE_URL]
    assert len(found) == 1, resource.get("extension")
    return {sub["url"]: sub["valueString"] for sub in found[0]["extension"]}


def test_cli_prints_the_version_and_the_hash_of_the_knowledge_book() -> None:
    result = CliRunner().invoke(main, ["knowledge", "--version"])
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"\d+\.\d+\.\d+", SHIPPED.version) and re.fullmatch(r"[0-9a-f]{64}", SHIPPED.hash)
    assert result.output.splitlines()[:2] == [f"knowledge {SHIPPED.version}", f"sha256 {SHIPPED.hash}"]
    # one hashing function: the book's stamp shows the same hash the cards carry
    assert content_hash(load_knowledge_files(None), cards_directory(), rules_doc_path()) == SHIPPED.hash


def _override(tmp_path: Path) -> Path:
    folder = tmp_path / "site"
    (folder / "cards").mkdir(parents=True)
    return folder


def test_the_hash_changes_with_any_knowledge_card_phrase_or_override_file(tmp_path: Path) -> None:
    folder = _override(tmp_path)
    assert knowledge_version(folder) == SHIPPED  # an empty override changes nothing
    phrases = (catalog_dir() / "_phrases.yaml").read_text(encoding="utf-8")
    (folder / "cards" / "_phrases.yaml").write_text(phrases, encoding="utf-8")  # the phrase book, overridden
    with_phrases = knowledge_version(folder)
    assert with_phrases.hash != SHIPPED.hash and with_phrases.version == SHIPPED.version
    (folder / "cards" / "_phrases.yaml").write_text(phrases.replace("\n", "\n\n", 1), encoding="utf-8")
    assert knowledge_version(folder).hash != with_phrases.hash  # a one-byte edit
    (folder / "parameters.yaml").write_text("parameters:\n  P_FLARE_MIN_DAYS: 21\n", encoding="utf-8")
    assert knowledge_version(folder).hash not in {SHIPPED.hash, with_phrases.hash}
    cards = tmp_path / "cards"
    shutil.copytree(catalog_dir(), cards)
    (cards / "bone-scan-flare.yaml").write_text((cards / "bone-scan-flare.yaml").read_text() + "\n", encoding="utf-8")
    from cdshooks.governance.knowledge_version import content_hash as hashed
    from cdshooks.governance.knowledge_version import knowledge_sources

    assert hashed(knowledge_sources(None, cards)) != SHIPPED.hash  # a shipped card file edited


def test_a_site_version_file_replaces_the_shipped_version_and_is_validated(tmp_path: Path) -> None:
    folder = _override(tmp_path)
    (folder / "VERSION").write_text("1.4.0+site.2\n", encoding="utf-8")
    assert knowledge_version(folder).version == "1.4.0+site.2"
    (folder / "VERSION").write_text("version two\n", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"VERSION: knowledge version 'version two' is not a semantic version"):
        knowledge_version(folder)


def test_every_card_and_every_rating_carries_the_version(gov_app: AppFactory) -> None:
    app = gov_app()
    order = call(app, NOT_APPROPRIATE)
    review = call(app, NO_BMA)
    cards = order["cards"] + review["cards"]
    assert cards and all(card["extension"][KNOWLEDGE_KEY] == SHIPPED.to_json() for card in cards)
    rated_orders = [a["resource"] for a in order["systemActions"]]
    rated_orders += [a["resource"] for card in order["cards"] for s in card.get("suggestions", [])
                     for a in s["actions"] if a["type"] == "update"]
    assert len(rated_orders) >= 2  # the rating of the draft and the rated better order of a suggestion
    for resource in rated_orders:
        urls = [e["url"] for e in resource["extension"]]
        assert RATING_URL in urls and CONSULT_URL in urls
        assert _knowledge_extension(resource) == {"version": SHIPPED.version, "hash": SHIPPED.hash}


def test_rating_again_replaces_the_knowledge_extension() -> None:
    old = KnowledgeVersion("0.9.0", "0" * 64)
    first = rated({"resourceType": "ServiceRequest", "id": "x"}, "appropriate",
                  Consult("q", extra=(knowledge_fhir_extension(old),)))
    again = rated(first, "not-appropriate", Consult("q", extra=(knowledge_fhir_extension(SHIPPED),)))
    assert _knowledge_extension(again) == {"version": SHIPPED.version, "hash": SHIPPED.hash}


def test_the_store_records_the_version_with_each_card_and_rating(gov_app: AppFactory) -> None:
    app = gov_app()
    call(app, NOT_APPROPRIATE)
    cards, ratings = card_rows(app), rating_rows(app)
    assert cards and ratings
    assert {(r.knowledge_version, r.knowledge_hash) for r in cards + ratings} == {(SHIPPED.version, SHIPPED.hash)}
    assert ratings[0].rating == "not-appropriate" and ratings[0].consult_id.startswith("urn:uuid:")
