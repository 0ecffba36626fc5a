"""The card catalog: every topic of the contract has an entry, and every entry renders to a conformant card.

Each entry and each of its variants is rendered with its own `example_values` (worst-case lengths), so a
summary that grows past the CDS Hooks limit, a placeholder without a value or a broken suggestion fails
here rather than in a hook call. A broken catalog must stop loading with a message naming the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from cdshooks.catalog.loader import CardSpec, CatalogError, load_catalog
from cdshooks.catalog.render import CardRenderer
from cdshooks.clinical.findings import Finding
from cdshooks.fhir.record import Record
from cdshooks.protocol.conformance import card_problems
from cdshooks.protocol.response import Card

ARCHITECTURE = Path(__file__).resolve().parents[2] / "shared" / "design" / "architecture.md"
ORDER = ("order-select", "order-sign")
PATIENT = ("patient-view",)

# The contract of architecture.md "Card topics" with the hooks each entry serves.
EXPECTED_HOOKS: dict[str, set[str]] = {
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
    "progression-not-flare": {*PATIENT},
}
CONTRACT = frozenset(EXPECTED_HOOKS)
# topics added after the architecture contract (added, never renamed): the quiet R02 confirmation card
EXPECTED_HOOKS["acr-usually-appropriate"] = {*ORDER}
TOPICS = frozenset(EXPECTED_HOOKS)

REASON_CODE = [{"text": "bone pain"}]
DRAFT = {"resourceType": "ServiceRequest", "id": "d1", "status": "draft", "intent": "order", "reasonCode": REASON_CODE}
DRAFT_REF = "ServiceRequest/d1"
MAX_SUMMARY = 139

CATALOG = load_catalog()


def fake_codes(procedure: str) -> list[tuple[list[dict[str, str]], str]]:
    return [([{"system": "http://www.ama-assn.org/go/cpt", "code": "00000"}], "Test order")]


def record() -> Record:
    return Record.build("p1", [], draft_orders=[dict(DRAFT)])


def cases() -> list[tuple[str, str | None]]:
    """(topic, variant) for every entry: the base texts and each variant."""
    return [(topic, variant) for topic, spec in sorted(CATALOG.items()) for variant in (None, *spec.variants)]


def render(spec: CardSpec, variant: str | None) -> Card | None:
    values: dict[str, Any] = dict(spec.example_values)
    if variant is not None:
        values["variant"] = variant
    finding = Finding(spec.topic, values=values, order_ids=(DRAFT_REF,), suggestions=tuple(spec.suggestions))
    return CardRenderer(CATALOG, procedure_orders=fake_codes)(finding, record())


def architecture_topics(text: str) -> set[str]:
    """Backticked kebab-case codes of the 'Card topics' section (hook names excluded)."""
    match = re.search(r"^## Card topics.*?(?=^## |\Z)", text, flags=re.MULTILINE | re.DOTALL)
    assert match, "architecture.md has no 'Card topics' section"
    codes = set(re.findall(r"`([a-z0-9]+(?:-[a-z0-9]+)+)`", match.group(0)))
    return codes - {*ORDER, *PATIENT}


def test_catalog_topics_are_the_contract() -> None:
    assert set(CATALOG) == TOPICS
    assert len(CONTRACT) == 25 and CONTRACT < TOPICS


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
        actions = suggestion["actions"]
        create = actions[-1]
        assert create["type"] == "create"
        assert create["resource"]["resourceType"] == "ServiceRequest"
        assert create["resource"]["status"] == "draft"
        assert create["resource"]["reasonCode"] == REASON_CODE
        if suggestion_spec.action == "replace":
            assert actions[0] == {"type": "delete", "description": actions[0]["description"], "resourceId": DRAFT_REF}
            assert len(actions) == 2
        else:
            assert len(actions) == 1


@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_entry_metadata(topic: str) -> None:
    spec = CATALOG[topic]
    assert spec.evidence, f"{topic}: no evidence"
    assert set(spec.hooks) == EXPECTED_HOOKS[topic]
    assert spec.indicator in {"info", "warning"}  # no seed rule justifies critical
    if spec.indicator == "warning" and set(spec.hooks) & set(ORDER):
        assert 2 <= len(spec.override_reasons) <= 4, f"{topic}: order-time warning needs override reasons"
    for reason in spec.override_reasons:
        assert re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", reason.code), reason.code


# --- a broken catalog stops loading and names the file -------------------------------------------------

def valid_entry(topic: str = "test-topic") -> dict[str, Any]:
    return {
        "topic": topic,
        "title": "Test topic",
        "hooks": ["patient-view"],
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
