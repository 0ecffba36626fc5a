"""The card catalog: every topic of the contract has an entry, and every entry renders to a conformant card.

Each entry and each of its variants is rendered with its own `example_values` (worst-case lengths), so a
summary that grows past the CDS Hooks limit, a placeholder without a value or a broken suggestion fails
here rather than in a hook call. A broken catalog must stop loading with a message naming the file.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from cdshooks.catalog.loader import CardSpec, CatalogError, load_catalog, worst_case_values
from cdshooks.catalog.orders import procedure_orders
from cdshooks.catalog.phrases import default_phrases
from cdshooks.catalog.render import CardRenderer, fill, shorten
from cdshooks.catalog.safety import ContrastPolicy, advises_contrast_ct, names_contrast_ct, renal_variant
from cdshooks.clinical.facts import DraftOrder
from cdshooks.clinical.findings import CardValues, Finding
from cdshooks.clinical.knowledge import default_knowledge
from cdshooks.clinical.topics import registry
from cdshooks.protocol.conformance import card_problems
from cdshooks.protocol.response import Card

ARCHITECTURE = Path(__file__).resolve().parents[2] / "shared" / "design" / "architecture.md"
ORDER = ("order-select", "order-sign")
PATIENT = ("patient-view",)

# The contract of architecture.md "Card topics" with the hooks each entry serves (topics added later are outside
# it: their hooks are declared once, with their rule, and checked against the card by tests/test_topics.py).
CONTRACT_HOOKS: dict[str, set[str]] = {
    "acr-usually-not-appropriate": {*ORDER},
    "no-suspicion-survey-not-indicated": {*ORDER},
    "visceral-suspicion-bone-scan-alone": {*ORDER},
    "cns-symptoms-mri-brain": {*ORDER, *PATIENT},
    "aggressive-subtype-pet-ct": {*ORDER},
    "renal-impairment-contrast": {*ORDER},
    "radiograph-survey-insensitive": {*ORDER},
    "bone-scan-lytic-limitation": {*ORDER},
    "post-chemo-bone-scan-timing": {*ORDER},
    "flare-window-bone-scan": {*ORDER},
    "bma-prerequisites": {*ORDER},
    "discordant-ct-positive-bone-scan-negative": {*PATIENT},
    "bone-scan-false-negative-after-chemo": {*PATIENT},
    "bone-scan-flare": {*PATIENT},
    "negative-bone-scan-persistent-pain-mri": {*PATIENT},
    "negative-bone-scan-visceral-suspicion-ct": {*PATIENT},
    "indeterminate-focus-correlative-imaging": {*PATIENT},
    "elevated-alp-workup": {*PATIENT},
    "bone-mets-no-bma": {*PATIENT},
    "receptor-retest-biopsy": {*PATIENT},
    "osteopenia-ct-sensitivity": {*PATIENT},
    "classic-bone-scan-stage-iv": {*PATIENT},
    "recurrence-after-treated-mets": {*PATIENT},
    "orthopedic-evaluation": {*PATIENT},
    # added after the second clinical review (clinical-rules.md §7.3)
    "spinal-cord-compression-mri-spine": {*ORDER, *PATIENT},
    "hypercalcaemia-of-malignancy": {*ORDER, *PATIENT},
    "progression-not-flare": {*PATIENT},
}
CRITICAL = frozenset({"spinal-cord-compression-mri-spine", "hypercalcaemia-of-malignancy"})
CONTRACT = frozenset(CONTRACT_HOOKS)

REASON_CODE = [{"text": "bone pain"}]
DRAFT = {"resourceType": "ServiceRequest", "id": "d1", "status": "draft", "intent": "order", "reasonCode": REASON_CODE}
DRAFT_REF = "ServiceRequest/d1"
MAX_SUMMARY = 139

CATALOG = load_catalog()
TOPICS = frozenset(CATALOG)


def fake_codes(procedure: str) -> list[tuple[list[dict[str, str]], str]]:
    return [([{"system": "http://www.ama-assn.org/go/cpt", "code": "00000"}], "Test order")]


PATIENT_REF = "Patient/p1"
DRAFT_ORDER = DraftOrder(DRAFT_REF, True, "Draft order", procedure_class="BONE_SCAN_WB", resource=DRAFT)
PHRASES = default_phrases()


def typed(topic: str, values: dict[str, Any], variant: str | None) -> CardValues:
    """The topic's typed values from a card's example values (every field is a placeholder of the card)."""
    kind = registry().topics[topic].values
    return kind(**{k: v for k, v in values.items() if k != "variant"}, variant=variant)


def cases() -> list[tuple[str, str | None]]:
    """(topic, variant) for every entry: the base texts and each variant."""
    return [(topic, variant) for topic, spec in sorted(CATALOG.items()) for variant in (None, *spec.variants)]


def render(spec: CardSpec, variant: str | None) -> Card | None:
    finding = Finding(spec.topic, values=typed(spec.topic, dict(spec.example_values), variant), order_ids=(DRAFT_REF,),
                      orders=(DRAFT_ORDER,), suggestions=tuple(spec.suggestions))
    return CardRenderer(CATALOG, fake_codes, PHRASES)(finding, PATIENT_REF)


def architecture_topics(text: str) -> set[str]:
    """Backticked kebab-case codes of the 'Card topics' section (hook names excluded)."""
    match = re.search(r"^## Card topics.*?(?=^## |\Z)", text, flags=re.MULTILINE | re.DOTALL)
    assert match, "architecture.md has no 'Card topics' section"
    codes = set(re.findall(r"`([a-z0-9]+(?:-[a-z0-9]+)+)`", match.group(0)))
    return codes - {*ORDER, *PATIENT}


def test_catalog_topics_are_the_contract() -> None:
    assert len(CONTRACT) == 24 + 3 and CONTRACT <= TOPICS  # topics are added, never renamed or removed


@pytest.mark.skipif(not ARCHITECTURE.is_file(), reason="shared design folder not present")
def test_catalog_topics_match_architecture() -> None:
    assert architecture_topics(ARCHITECTURE.read_text(encoding="utf-8")) == CONTRACT


@pytest.mark.parametrize(("topic", "variant"), cases())
def test_entry_renders_conformant_card(topic: str, variant: str | None) -> None:
    spec = CATALOG[topic]
    card = render(spec, variant)
    assert isinstance(card, Card), f"{topic}/{variant}: renderer returned no card"
    body = card.to_json()
    assert card_problems(body) == []
    assert len(body["summary"]) <= MAX_SUMMARY, body["summary"]
    for field in ("summary", "detail"):
        assert "{" not in body[field] and "}" not in body[field], f"{topic}/{variant}: unfilled {field}"
    assert body["source"]["topic"]["code"] == topic
    assert body["indicator"] == spec.indicator


@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_suggestions_replace_or_add_the_draft(topic: str) -> None:
    spec = CATALOG[topic]
    card = render(spec, None)
    assert card is not None
    rendered = card.to_json().get("suggestions", [])
    assert len(rendered) == len(spec.suggestions)
    for suggestion_spec, suggestion in zip(spec.suggestions.values(), rendered, strict=True):
        assert len(suggestion["label"]) <= 60, suggestion["label"]
        [action] = suggestion["actions"]
        resource = action["resource"]
        assert resource["resourceType"] == "ServiceRequest" and resource["status"] == "draft"
        assert resource["reasonCode"] == REASON_CODE
        if suggestion_spec.action == "replace":  # the draft itself changes to the better order (Argonaut PAMA)
            assert action["type"] == "update" and resource["id"] == DRAFT["id"]
        else:
            assert action["type"] == "create" and "id" not in resource


@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_entry_metadata(topic: str) -> None:
    spec = CATALOG[topic]
    assert spec.evidence, f"{topic}: no evidence"
    hooks = set(registry().hooks_of(topic))
    assert hooks == CONTRACT_HOOKS.get(topic, hooks)
    # only the two emergencies of clinical-rules.md §7.3 are critical; no seed rule justifies it otherwise
    assert spec.indicator == "critical" if topic in CRITICAL else spec.indicator in {"info", "warning"}
    if spec.indicator in {"warning", "critical"} and hooks & set(ORDER):
        assert 2 <= len(spec.override_reasons) <= 4, f"{topic}: order-time warning needs override reasons"
    for reason in spec.override_reasons:
        assert re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", reason.code), reason.code


# --- a broken catalog stops loading and names the file -------------------------------------------------

def valid_entry(topic: str = "test-topic") -> dict[str, Any]:
    return {
        "topic": topic,
        "title": "Test topic",
        "indicator": "info",
        "summary": "Check {order}",
        "detail": "**Why:** {order} is a test.",
        "source": {"label": "Test source"},
        "evidence": ["seed 000"],
        "example_values": {"order": "Whole-body bone scan"},
    }


def write(directory: Path, name: str, entry: dict[str, Any]) -> None:
    (directory / name).write_text(yaml.safe_dump(entry, sort_keys=False), encoding="utf-8")


def test_valid_minimal_entry_loads(tmp_path: Path) -> None:
    write(tmp_path, "test-topic.yaml", valid_entry())
    assert set(load_catalog(tmp_path)) == {"test-topic"}


def _missing_indicator(entry: dict[str, Any]) -> None:
    del entry["indicator"]


def _unknown_indicator(entry: dict[str, Any]) -> None:
    entry["indicator"] = "urgent"


def _placeholder_without_example(entry: dict[str, Any]) -> None:
    entry["summary"] = "Check {order} against {lab_value}"


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (_missing_indicator, "indicator"),
        (_unknown_indicator, "indicator"),
        (_placeholder_without_example, "lab_value"),
    ],
)
def test_broken_entry_names_the_file(
    tmp_path: Path, breakage: Callable[[dict[str, Any]], None], expected: str
) -> None:
    write(tmp_path, "a-good-one.yaml", valid_entry("a-good-one"))
    entry = valid_entry()
    breakage(entry)
    write(tmp_path, "test-topic.yaml", entry)
    with pytest.raises(CatalogError) as excinfo:
        load_catalog(tmp_path)
    assert "test-topic.yaml" in str(excinfo.value)
    assert expected in str(excinfo.value)


def test_file_name_must_be_the_topic(tmp_path: Path) -> None:
    write(tmp_path, "other-name.yaml", valid_entry("test-topic"))
    with pytest.raises(CatalogError) as excinfo:
        load_catalog(tmp_path)
    assert "other-name.yaml" in str(excinfo.value)
    assert "test-topic" in str(excinfo.value)


# --- catalog-wide safety (issue 10): override reasons, worst-case summaries, sources, contrast -----------------

@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_every_card_has_override_reasons(topic: str) -> None:
    """Analytics group overrides by reason: every card, of any hook and indicator, offers fitting reasons."""
    reasons = CATALOG[topic].override_reasons
    assert 2 <= len(reasons) <= 5, f"{topic}: needs 2-5 override reasons"
    assert len({r.code for r in reasons}) == len(reasons)
    assert all(len(r.display) <= 70 for r in reasons)


# summaries owned by other helpers of issue 10 (their wording is being rewritten in parallel): known to exceed the
# limit with worst-case values; the merge must shorten them (this list must then be emptied)
OTHERS_TOO_LONG: set[tuple[str, str | None]] = set()  # every summary fits now


def _worst_case_cases() -> list[Any]:
    return [pytest.param(t, v, marks=pytest.mark.xfail(reason="summary owned by another helper; shorten at merge"))
            if (t, v) in OTHERS_TOO_LONG else (t, v) for t, v in cases()]


@pytest.mark.parametrize(("topic", "variant"), _worst_case_cases())
def test_summary_fits_with_worst_case_values(topic: str, variant: str | None,
                                             caplog: pytest.LogCaptureFixture) -> None:
    """Filled with the longest realistic values (cdshooks/catalog/worst_case_values.yaml), every summary of every
    variant stays under 140 characters on its own: `shorten()` is never needed, so no clause is ever cut."""
    spec = CATALOG[topic]
    values = worst_case_values(spec)
    missing = {n for n in spec.placeholders() if n not in values} - {"variant"}
    assert not missing, f"{topic}: no worst-case value for {sorted(missing)}"
    summary, _ = spec.texts(variant)
    filled = fill(summary, values)
    assert len(filled) <= MAX_SUMMARY, f"{topic}/{variant}: {len(filled)} chars: {filled}"
    with caplog.at_level(logging.WARNING, logger="cdshooks.catalog.render"):
        assert shorten(filled, topic) == filled
    assert "card summary shortened" not in caplog.text


def test_worst_case_values_are_longer_than_the_examples() -> None:
    """The worst case must really be worse: a catalog-wide check that the file is used and not a copy."""
    longer = [t for t, spec in CATALOG.items()
              if len(fill(spec.summary, worst_case_values(spec))) > len(fill(spec.summary, spec.example_values))]
    assert len(longer) >= len(CATALOG) // 2


INTERNAL_NAME = re.compile(r"\bseeds?\s*\d+|\b\d{3}_[0-9a-f]{6,}|\.(txt|md|ya?ml|json)\b|clinical-rules|"
                           r"DESIGN DEFAULT", re.IGNORECASE)
# aggregator, Q&A and wiki hosts: never shown to clinicians as a source (cite the guideline or paper instead)
DENIED_HOSTS = ("gighz.com", "droracle.ai", "allexperts.com", "radiopaedia.org", "cld.bz", "mussenhealth.us",
                "seekhealthz.com", "scribd.com", "researcher.life", "paperexplained.cn", "wikipedia.org")
URL = re.compile(r"https?://[^\s)\"'>\]]+")


def _host(url: str) -> str:
    return re.sub(r"^https?://", "", url).split("/")[0].lower()


@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_source_label_names_a_guideline_not_a_file(topic: str) -> None:
    spec = CATALOG[topic]
    assert not INTERNAL_NAME.search(spec.source_label), f"{topic}: internal name in label {spec.source_label!r}"
    assert not INTERNAL_NAME.search(" ".join(link.label for link in spec.links))


@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_no_url_points_to_an_aggregator(topic: str) -> None:
    spec = CATALOG[topic]
    urls = [u for u in (spec.source_url, *(link.url for link in spec.links)) if u]
    for text in (*spec.templates(), *spec.evidence):
        urls += URL.findall(text)
    bad = [u for u in urls if any(_host(u) == h or _host(u).endswith("." + h) for h in DENIED_HOSTS)]
    assert not bad, f"{topic}: aggregator / Q&A links {bad}"


@pytest.mark.parametrize(("label", "denied"), [
    ("ACR suspected-metastasis scenario, reviewed in seed 002", True),
    ("Management of breast cancer (000_7136461e1a5e09ee.txt)", True),
    ("ACR Appropriateness Criteria: Imaging of Invasive Breast Cancer (Variant 11)", False),
    ("ASCO–CCO 2017 bone-modifying agents update", False),
])
def test_internal_name_check_can_fail(label: str, denied: bool) -> None:
    assert bool(INTERNAL_NAME.search(label)) is denied


# --- contrast and kidneys: one safety net for every card (clinical-rules.md §7.2 R07) -------------------------

KB = default_knowledge()
REAL_ORDERS = procedure_orders(KB)
POLICY = ContrastPolicy(KB, REAL_ORDERS)
RENAL = "eGFR 24 mL/min/1.73 m² (low) on 2026-05-28"
CONTRAST_CLASSES = sorted(c for c in KB.procedure_classes if KB.procedure_field(c, "iodinated_contrast") is True)


def _contrast_cases() -> list[tuple[str, str | None, dict[str, Any]]]:
    """Every topic and variant with all its suggestions; the renal card once per contrast class it may name."""
    out = []
    for topic, variant in cases():
        extra = [{"order_class": c} for c in CONTRAST_CLASSES] if topic == "renal-impairment-contrast" else [{}]
        out.extend((topic, variant, e) for e in extra)
    return out


def _created(card: Card) -> list[dict[str, Any]]:
    return [a["resource"] for s in card.to_json().get("suggestions", []) for a in s["actions"] if a["type"] == "create"]


def _render_real(topic: str, variant: str | None, extra: dict[str, Any], risk: str | None,
                 only: tuple[str, ...] = ()) -> Card:
    spec = CATALOG[topic]
    values: dict[str, Any] = {**spec.example_values, **extra}
    finding = Finding(topic, values=typed(topic, values, variant), order_ids=(DRAFT_REF,), orders=(DRAFT_ORDER,),
                      suggestions=only or tuple(spec.suggestions), contrast_risk=risk)
    card = CardRenderer(CATALOG, REAL_ORDERS, PHRASES, contrast=POLICY)(finding, PATIENT_REF)
    assert isinstance(card, Card), f"{topic}/{variant}: no card"
    return card


@pytest.mark.parametrize(("topic", "variant", "extra"), _contrast_cases())
def test_no_card_suggests_iodinated_contrast_with_renal_impairment(topic: str, variant: str | None,
                                                                   extra: dict[str, Any]) -> None:
    card = _render_real(topic, variant, extra, RENAL)
    for order in _created(card):
        match = KB.classify_procedure(order["code"])
        assert match is None or match.iodinated_contrast is not True, f"{topic}: suggests {order['code']['text']}"
    assert card_problems(card.to_json()) == []


def test_the_contrast_net_changes_cards_and_says_why() -> None:
    """Without renal risk some cards do suggest contrast CT (so the walk above can fail); with it they offer the
    non-contrast alternative and the detail explains it in the catalog's words (cards/_safety.yaml)."""
    changed = 0
    for topic, variant, extra in _contrast_cases():
        plain = _render_real(topic, variant, extra, None)
        if not any((m := KB.classify_procedure(o["code"])) and m.iodinated_contrast for o in _created(plain)):
            continue
        changed += 1
        safe = _render_real(topic, variant, extra, RENAL).to_json()
        assert "**Kidneys:** " + RENAL in safe["detail"], topic
        assert "ACR–NKF 2020" in safe["detail"]
    assert changed >= 5


def test_contrast_net_swaps_a_contrast_ct_for_its_non_contrast_alternative() -> None:
    only = ("replace-without-contrast",)
    card = _render_real("renal-impairment-contrast", None, {"order_class": "CT_CHEST_IV"}, RENAL, only).to_json()
    [suggestion] = card["suggestions"]
    assert suggestion["label"] == "Replace with CT chest without IV contrast"
    assert suggestion["actions"][-1]["resource"]["code"]["coding"][0]["code"] == "71250"
    other_region = _render_real("renal-impairment-contrast", None, {"order_class": "CT_OTHER_IV"}, RENAL,
                                only).to_json()
    assert "suggestions" not in other_region or not other_region["suggestions"]  # no safe equivalent known
    assert "no CT with IV contrast" in other_region["detail"]
    survey = _render_real("visceral-suspicion-bone-scan-alone", None, {}, RENAL).to_json()
    labels = [s["label"] for s in survey["suggestions"]]
    assert not any("IV contrast" in label for label in labels)
    swapped = "FDG-PET/CT skull base to mid-thigh instead of CT chest, abdomen and pelvis with IV contrast"
    assert swapped in survey["detail"]


@pytest.mark.parametrize(("topic", "variant", "extra"), _contrast_cases())
def test_no_card_text_advises_contrast_ct_unwarned_with_renal_impairment(topic: str, variant: str | None,
                                                                          extra: dict[str, Any]) -> None:
    """Not only suggestions: with renal risk no summary names a contrast CT, and a detail that names one (an
    option list, a "what to do") carries the kidneys note (clinical-rules.md §7.2 R07; acceptance review)."""
    card = _render_real(topic, variant, extra, RENAL).to_json()
    if topic == "renal-impairment-contrast":
        return  # the warning itself
    spec = CATALOG[topic]
    shown = renal_variant(spec.variants, variant) or variant
    template, _ = spec.texts(shown)  # the catalog's own wording (values built by rules are tested with them)
    assert not advises_contrast_ct(template), f"{topic}/{shown}: {template}"
    if names_contrast_ct(card["detail"]):
        assert "**Kidneys:** " + RENAL in card["detail"], f"{topic}/{variant}: contrast CT named without warning"


def test_the_renal_text_check_can_fail() -> None:
    """Without renal risk the visceral card does advise contrast CT in its summary (so the walk above bites),
    and with it the card switches to its renal wording and offers FDG-PET/CT."""
    plain = _render_real("negative-bone-scan-visceral-suspicion-ct", None, {}, None).to_json()
    assert advises_contrast_ct(plain["summary"])
    safe = _render_real("negative-bone-scan-visceral-suspicion-ct", None, {}, RENAL,
                        only=("add-fdg-petct",)).to_json()
    assert safe["summary"].startswith("Add body imaging without iodinated contrast")
    assert [s["label"] for s in safe["suggestions"]] == ["Add FDG-PET/CT (skull base to mid-thigh)"]
    acr = _render_real("acr-usually-not-appropriate", None, {}, RENAL).to_json()
    assert names_contrast_ct(acr["detail"]) and "**Kidneys:** " in acr["detail"]
