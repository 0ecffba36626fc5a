"""The knowledge book holds all of the shipped knowledge, in Markdown and in HTML, and the HTML is a sound page."""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET

import yaml

from cdshooks.catalog.loader import load_catalog
from cdshooks.clinical.knowledge import KNOWLEDGE_DIR, default_knowledge
from cdshooks.clinical.topics import registry
from cdshooks.knowledge_book import Book, collect_topics, render_markdown
from cdshooks.knowledge_book.collect import package_version
from cdshooks.knowledge_book.render_html import card_markdown, linkify, wbr
from cdshooks.knowledge_book.render_markdown import cell
from cdshooks.knowledge_book.templating import number
from tests.knowledge_book.book_helpers import BOOK_DATE, page_text, plain, squash


def _tree(html: str) -> ET.Element:
    return ET.fromstring(html)


def _by_id(root: ET.Element, ident: str) -> ET.Element:
    found = root.find(f".//*[@id='{ident}']")
    assert found is not None, ident
    return found


def _text(element: ET.Element) -> str:
    return squash("".join(element.itertext()))


# ------------------------------------------------------------------------------------------ card topics


def test_every_topic_appears_with_every_variant_summary_and_detail(book: Book, html_text: str, markdown: str) -> None:
    catalog = load_catalog()
    assert [t.code for t in book.topics] == list(catalog)
    for code, spec in catalog.items():
        assert f'<a id="topic-{code}"></a>' in markdown and spec.title in markdown
        texts = [(spec.summary, spec.detail)] + [(v.summary, v.detail) for v in spec.variants.values()]
        for summary, detail in texts:
            if summary:
                assert f"**Summary:** {summary}" in markdown, (code, summary)
                assert plain(summary) in html_text, (code, summary)
            if detail:
                for line in detail.splitlines():
                    assert f"> {line}".rstrip() in markdown, (code, line)
        for name in spec.variants:
            assert f"Variant `{name}`" in markdown, (code, name)


def test_each_topic_section_has_hooks_trigger_suggestions_overrides_links_and_evidence(book: Book, html: str) -> None:
    root = _tree(html)
    for topic in book.topics:
        section = _text(_by_id(root, topic.anchor))
        spec = topic.card
        for hook in registry().hooks_of(spec.topic):
            assert f"({hook})" in section
        assert squash(re.sub(r"[`]", "", topic.source.trigger.split(".")[0])) in section
        for suggestion in spec.suggestions.values():
            assert plain(suggestion.label) in section
        for reason in spec.override_reasons:
            assert reason.display in section and reason.code in section
        assert spec.source_label in section
        for link in spec.links:
            assert link.label in section
        for item in spec.evidence:
            assert squash(item) in section
        for placeholder, example in spec.example_values.items():
            assert placeholder in section and squash(str(example)) in section


def test_topics_carry_their_rules_parameters_and_value_sets_from_the_data(book: Book) -> None:
    topics = {t.code: t for t in book.topics}
    flare = topics["bone-scan-flare"]
    assert flare.source.rules == ("R13", "R20")
    assert [s.id for s in flare.rule_sections] == ["R13", "R20"]
    assert {"P_FLARE_MIN_DAYS", "P_FLARE_MAX_DAYS", "P_FLARE_REIMAGE_DAYS"} <= {p.name for p in flare.parameters}
    assert "VS_BONE_METS" in {v.name for v in flare.valuesets}  # its source cites R13
    # named in the card's header comment, not by a rule citation
    assert "P_POSTCHEMO_FN_DAYS" in {p.name for p in topics["bone-scan-false-negative-after-chemo"].parameters}
    # the ACR cards build on the R01 scenario: its windows and value sets decide whether they fire
    not_appropriate = topics["acr-usually-not-appropriate"]
    assert not_appropriate.builds_on == ("R01",)
    assert "P_SCENARIO_REQUIRE_NEOADJUVANT" in {p.name for p in not_appropriate.parameters}
    assert "VS_BREAST_CANCER" in {v.name for v in not_appropriate.valuesets}
    # the rule ids come before the header's first parenthesis, not from the references inside it
    assert topics["progression-not-flare"].source.rules == ("R27",)
    assert topics["bone-scan-lytic-limitation"].source.rules == ("R08", "R23")
    assert topics["no-suspicion-survey-not-indicated"].source.rules == ("R01",)


def test_collect_topics_is_the_catalog_with_hooks_rules_and_a_plain_trigger() -> None:
    sources = collect_topics()
    assert len(sources) == len(load_catalog())
    for source in sources:
        assert source.hooks == registry().hooks_of(source.code) and source.hooks and source.rules, source.code
        assert source.trigger and not source.trigger.startswith("Rule"), source.code


# ------------------------------------------------------------------------------------------ knowledge


def test_every_value_set_code_appears_with_its_display(book: Book, html_text: str, markdown: str) -> None:
    kb = default_knowledge()
    for name in kb.valueset_names:
        vs = kb.valueset(name)
        assert f'<a id="{name.lower().replace("_", "-")}"></a>' in markdown, name
        for entry in vs.codes:
            assert f"`{entry.code}`" in markdown, (name, entry.code)
            assert entry.code in html_text, (name, entry.code)
            if entry.display:
                assert entry.display.replace("|", "\\|") in markdown, (name, entry.display)
                assert squash(entry.display) in html_text, (name, entry.display)
        for prefix in vs.prefixes:
            assert f"`{prefix.prefix}`" in markdown and prefix.prefix in html_text, (name, prefix.prefix)


def test_every_procedure_and_medication_code_appears(html_text: str, markdown: str) -> None:
    procedures = yaml.safe_load((KNOWLEDGE_DIR / "procedures.yaml").read_text(encoding="utf-8"))["procedures"]
    for cls, entry in procedures.items():
        assert f"`{cls}`" in markdown and cls in html_text
        for code in entry.get("codes") or ():
            assert f"`{code['code']}`" in markdown and code["code"] in html_text, (cls, code)
    medications = yaml.safe_load((KNOWLEDGE_DIR / "medications.yaml").read_text(encoding="utf-8"))["medications"]
    for name, agent in medications.items():
        codes = [agent["ingredient_code"]] if agent.get("ingredient_code") else []
        for code in codes + list(agent.get("products") or ()):
            assert f"`{code['code']}`" in markdown and code["code"] in html_text, (name, code)


def test_every_parameter_appears_with_value_unit_status_and_provenance(html_text: str, markdown: str) -> None:
    kb = default_knowledge()
    for name in kb.parameters:
        info = kb.parameter_info(name)
        value, provenance = number(info["value"]), squash(info["provenance"])
        row = f"| `{name}` | {value} {cell(info['unit'])} | {info['status']} |"
        ending = f"| {cell(provenance)} |"
        assert any(line.startswith(row) and line.endswith(ending) for line in markdown.splitlines()), name
        assert f"{name} {value} {info['unit']}".strip() in html_text, name
        assert provenance in html_text, name


def test_the_acr_table_lists_every_row_with_its_rating(book: Book, html: str, markdown: str) -> None:
    kb = default_knowledge()
    acr = book.file("acr_table.yaml")
    section = _text(_by_id(_tree(html), "part-acr"))
    assert kb.acr_scenario["topic"] in section and str(kb.acr_scenario["variant"]) in section
    for cls, row in acr["rows"].items():
        entry = kb.acr(cls)
        assert entry is not None
        assert row["acr_wording"] in section and cls in section and entry.pama_rating in section
        line = next(line for line in markdown.splitlines() if line.startswith(f"| {row['acr_wording']}"))
        assert f"`{cls}`" in line and f"`{entry.pama_rating}`" in line
    assert "Usually not appropriate" in section and "no-criteria-apply" in section


def test_the_shared_card_texts_and_report_phrases_are_included(book: Book, html_text: str) -> None:
    safety = book.catalog_texts["_safety.yaml"]["contrast"]
    assert "ACR–NKF 2020 consensus" in html_text and safety["labels"]["replace"].split("{")[0].strip() in html_text
    phrases = yaml.safe_load((KNOWLEDGE_DIR / "report_phrases.yaml").read_text(encoding="utf-8"))
    for name, entry in phrases.items():
        assert name in html_text
        for pattern in (entry.get("patterns") or []) if isinstance(entry, dict) else []:
            assert squash(pattern) in html_text, (name, pattern)


# ------------------------------------------------------------------------------------------ the page


def test_stamp_names_version_content_hash_and_the_given_date(book: Book, html_text: str, markdown: str) -> None:
    stamp = book.stamp
    assert stamp.package_version == package_version() and re.fullmatch(r"[0-9a-f]{64}", stamp.content_hash)
    assert stamp.generated == BOOK_DATE and stamp.knowledge_dir is None
    for text in (html_text, markdown):
        assert f"sha256:{stamp.content_hash}" in text and "2026-06-01" in text
        assert f"cdshooks-bonemets {stamp.package_version}" in text


def test_html_is_well_formed_self_contained_and_every_internal_link_resolves(html: str) -> None:
    root = _tree(html)  # raises on anything that is not well-formed
    ids = [e.get("id") for e in root.iter() if e.get("id")]
    assert len(ids) == len(set(ids)), "duplicate ids"
    hrefs = [e.get("href") or "" for e in root.iter("a")]
    missing = {h for h in hrefs if h.startswith("#") and h[1:] not in set(ids)}
    assert not missing
    assert all(h.startswith(("#", "https://", "http://")) for h in hrefs), {h for h in hrefs if ":" not in h[:8]}
    assert not list(root.iter("script")) and not list(root.iter("link")) and not list(root.iter("img"))
    assert "@media print" in html and "break-before: page" in html


def test_contents_link_every_topic_and_the_sign_off(book: Book, html: str) -> None:
    root = _tree(html)
    nav = root.find(".//nav")
    assert nav is not None
    targets = {a.get("href") for a in nav.iter("a")}
    assert {f"#{t.anchor}" for t in book.topics} <= targets and "#signoff" in targets
    signoff = _text(_by_id(root, "signoff"))
    for label in ("Reviewer (name)", "Date", "Signature", book.stamp.content_hash):
        assert label in signoff


def test_markdown_links_resolve(markdown: str) -> None:
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', markdown))
    headings = {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
                for h in re.findall(r"^#+ (.+)$", markdown, re.MULTILINE)}
    links = set(re.findall(r"\]\(#([^)]+)\)", markdown))
    assert links and not links - anchors - headings


def test_rule_summaries_are_shown_inside_their_topics_and_every_rule_somewhere(book: Book, html: str,
                                                                              markdown: str) -> None:
    flare = _text(_by_id(_tree(html), "topic-bone-scan-flare"))
    assert "R13 — Flare" in flare and "Janicek MJ" in flare and "R20 — MD Anderson" in flare
    text = page_text(html)
    for section in book.rules.sections.values():
        assert f"{section.id} — {section.title}" in text and section.body in markdown, section.id
    # a rule no topic shows gets its own place in the rules chapter
    one_topic = dataclasses.replace(book, topics=book.topics[:1])
    assert {s.id for s in one_topic.rules_outside_topics} == set(book.rules.sections) - {"R01", "R02"}
    short = render_markdown(one_topic)
    for section in book.rules.sections.values():
        assert section.body in short, section.id


# ------------------------------------------------------------------------------------------ helpers


def test_card_markdown_escapes_html_and_marks_placeholders() -> None:
    out = card_markdown("**Why:** <script>x</script> & {agent} [x](javascript:alert(1))")
    assert "<script>" not in out and "&lt;script&gt;" in out and "&amp;" in out
    assert '<span class="ph">agent</span>' in out and 'href="javascript' not in out
    assert page_text(str(card_markdown("a {b} c", inline=True))) == "a b c"


def test_linkify_keeps_text_escaped_and_links_web_addresses() -> None:
    out = str(linkify("see https://example.org/a_(b)). <b>"))
    assert '<a href="https://example.org/a_(b)">' in out and out.endswith("</a>). &lt;b&gt;")
    assert str(wbr("P_A<B")) == "P_<wbr />A&lt;B"
