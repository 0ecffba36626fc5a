"""docs/clinical-rules.md covers every rule the cards and knowledge files cite, names real topics, and cites primary
sources rather than the project's seed files or aggregator sites."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from cdshooks.catalog.loader import load_catalog
from cdshooks.clinical.knowledge import KNOWLEDGE_DIR, default_knowledge
from cdshooks.knowledge_book.rules_doc import base_rule, load_rules_doc, rule_ids
from cdshooks.knowledge_book.sources import RULES_DOC, rules_doc_path
from tests.conftest import REPO

# a rule id, not an ICD-10-CM code (R51, R63.4) listed as a value-set member
CITED_RULE = re.compile(r"(?<!prefix: )(?<!code: )\bR\d\d[a-z]?\b(?!\.\d)")
# the project's seed documents and the secondary sites they came from are not sources to cite
NOT_A_SOURCE = re.compile(r"\bseeds? \d{3}\b|radiopaedia|droracle|gighz|allexperts|scilit|researcher\.life|seekhealthz|"
                          r"paperexplained|mussenhealth|cld\.bz|medicalalgorithms|/work/shared", re.IGNORECASE)


def _cited_rule_ids() -> dict[str, set[str]]:
    cited: dict[str, set[str]] = {}
    files = sorted((REPO / "cards").glob("*.yaml")) + sorted(KNOWLEDGE_DIR.glob("*.yaml"))
    for path in files:
        for rid in CITED_RULE.findall(path.read_text(encoding="utf-8")):
            cited.setdefault(rid, set()).add(path.name)
    return cited


def test_every_rule_cited_in_cards_or_knowledge_has_a_section() -> None:
    doc = load_rules_doc(rules_doc_path())
    cited = _cited_rule_ids()
    assert {"R01", "R13", "R27", "R15b", "R04a"} <= set(cited)
    missing = {rid: sorted(files) for rid, files in cited.items() if base_rule(rid) not in doc.sections}
    assert not missing, f"rules cited without a section in docs/{RULES_DOC}: {missing}"
    for rid in cited:  # a sub-rule (R04a, R15b) is described inside its base rule's section
        assert rid in doc.sections[base_rule(rid)].body or rid == base_rule(rid), rid


def test_the_cited_rule_pattern_skips_icd10_codes() -> None:
    text = "prefix: R51, status: X\ncode: R63.4, display\nRule R13 (see R04a); R15b"
    assert CITED_RULE.findall(text) == ["R13", "R04a", "R15b"]


def test_every_section_has_trigger_window_topics_and_primary_sources() -> None:
    doc = load_rules_doc(rules_doc_path())
    assert list(doc.sections) == sorted(doc.sections)
    for rid, section in doc.sections.items():
        assert section.title, rid
        assert "**Trigger:**" in section.body and "**Primary sources:**" in section.body, rid
        assert "**Card topics:**" in section.body, rid


def test_topics_named_by_the_rules_exist_and_every_topic_has_its_rules_summarised() -> None:
    doc = load_rules_doc(rules_doc_path())
    catalog = load_catalog()
    named = {code for section in doc.sections.values() for code in section.topics}
    assert named <= set(catalog), named - set(catalog)
    assert set(catalog) <= named, set(catalog) - named
    for section in doc.sections.values():
        for rid in section.builds_on:
            assert rid in doc.sections, (section.id, rid)


def test_parameters_named_in_the_rules_exist_with_the_stated_value() -> None:
    kb = default_knowledge()
    text = rules_doc_path().read_text(encoding="utf-8")
    named = re.findall(r"`(P_[A-Z0-9_]+)`(?: \(([\d.]+)(?: [^\d()]*)?\))?", text)
    assert named
    for name, value in named:
        assert name in kb.parameters, name
        if value:  # "`P_FLARE_MIN_DAYS` (14 days)" must match the shipped value
            assert float(value) == float(kb.param(name)), (name, value)


def test_rules_doc_cites_no_seed_file_or_aggregator_site() -> None:
    text = rules_doc_path().read_text(encoding="utf-8")
    assert not NOT_A_SOURCE.findall(text)


def test_rule_ids_reads_citations_in_order() -> None:
    assert rule_ids("Rules R13, R20 (§7.2 R13 flare) and R04a") == ("R13", "R20", "R04a")
    assert base_rule("R15b") == "R15"


def test_the_wheel_ships_the_rules_doc_where_the_book_looks_for_it() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    force = project["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert force[f"docs/{RULES_DOC}"] == f"cdshooks/docs/{RULES_DOC}"
    assert rules_doc_path() == REPO / "docs" / RULES_DOC  # a checkout: the repository's copy
    assert Path(rules_doc_path()).is_file()
