"""One topic, one place: the registry (rules, hooks, typed values) and the card catalog agree, and every
disagreement stops start-up with a message naming the file and the key — never a card dropped at run time."""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml
from click.testing import CliRunner

from cdshooks import create_app
from cdshooks.catalog.check import load_cards, problems
from cdshooks.catalog.loader import CardSpec, CatalogError, Variant, catalog_dir, load_catalog
from cdshooks.catalog.phrases import PhraseBook, load_phrases
from cdshooks.cli import main
from cdshooks.clinical.findings import CardValues
from cdshooks.clinical.topics import ORDER_HOOKS, RESULT_HOOKS, Registry, RuleSpec, Topic, registry, topics_of
from cdshooks.clinical.wording import Phrase, phrase_key
from cdshooks.replay import load_fixture
from cdshooks.settings import Settings
from tests.conftest import REPO

CATALOG = load_catalog()
PHRASES = load_phrases()
FLARE_FIXTURE = (REPO / "fixtures" / "patient-view"
                 / "bone-scan-flare--possible-docetaxel-trastuzumab-text-coded-scan.json")


def _with_card(topic: str, **changes: Any) -> dict[str, CardSpec]:
    return {**CATALOG, topic: dataclasses.replace(CATALOG[topic], **changes)}


def test_the_shipped_rules_cards_and_phrases_agree() -> None:
    assert problems(CATALOG, PHRASES, registry()) == []


def test_each_topic_serves_the_hooks_of_its_rules() -> None:
    reg = registry()
    assert set(reg.hooks_of("bone-scan-flare")) == set(RESULT_HOOKS)
    assert set(reg.hooks_of("spinal-cord-compression-mri-spine")) == {*ORDER_HOOKS, *RESULT_HOOKS}
    assert set(reg.hooks_of("acr-usually-not-appropriate")) == set(ORDER_HOOKS)
    assert all(reg.hooks_of(code) for code in reg.topics)


def test_a_placeholder_the_rule_does_not_hand_over_fails() -> None:
    spec = CATALOG["classic-bone-scan-stage-iv"]
    catalog = _with_card(spec.topic, detail=spec.detail + " Seen by {radiologist}.")
    assert problems(catalog, PHRASES, registry()) == [
        "classic-bone-scan-stage-iv.yaml: {radiologist}: not a value of ClassicValues (the rule hands over "
        "['bone_scan'])"]


def test_a_value_no_template_uses_fails() -> None:
    spec = CATALOG["elevated-alp-workup"]
    catalog = _with_card(spec.topic, summary="Work up a high ALP", detail="**Why:** ALP is high.",
                         suggestions={k: s.model_copy(update={"label": "Add a bone scan"})
                                      for k, s in spec.suggestions.items()})
    assert problems(catalog, PHRASES, registry()) == [
        "elevated-alp-workup.yaml: AlpValues.alp: handed over by the rule but used by no template of the card"]


def test_a_variant_the_values_cannot_name_fails() -> None:
    spec = CATALOG["bone-scan-flare"]
    catalog = _with_card(spec.topic, variants={**spec.variants, "certain": Variant(summary="Flare, certainly")})
    [problem] = problems(catalog, PHRASES, registry())
    assert problem.startswith("bone-scan-flare.yaml: variants.certain: FlareValues.variant cannot name it")


def test_suggestions_of_rule_and_card_must_match() -> None:
    spec = CATALOG["elevated-alp-workup"]
    assert problems(_with_card(spec.topic, suggestions={}), PHRASES, registry()) == [
        "elevated-alp-workup.yaml: suggestions: 'add-bone-scan' is offered by the rule but the card has no such "
        "suggestion"]


@dataclass(frozen=True, kw_only=True)
class _Values(CardValues):
    variant: Literal["a"] | None = None
    thing: str


def _rule(facts: object, params: object) -> list[Any]:
    return []


def test_a_topic_without_a_card_and_a_card_without_a_rule_fail() -> None:
    new = Topic("brand-new-topic", _Values)
    reg = registry()
    extra = Registry(topics_of((*reg.rules, RuleSpec(_rule, RESULT_HOOKS, (new,), 99))),
                     (*reg.rules, RuleSpec(_rule, RESULT_HOOKS, (new,), 99)))
    assert problems(CATALOG, PHRASES, extra)[0].startswith("brand-new-topic.yaml: missing: topic 'brand-new-topic' "
                                                           "has a rule (test_topics._rule) but no card")
    without = Registry({k: v for k, v in reg.topics.items() if k != "orthopedic-evaluation"},
                       tuple(r for r in reg.rules if r.function.__name__ != "orthopedic_evaluation"))
    assert problems(CATALOG, PHRASES, without) == [
        "orthopedic-evaluation.yaml: topic: no rule emits 'orthopedic-evaluation' (a card without a rule)"]


def test_a_topic_declared_twice_is_refused() -> None:
    one, two = Topic("twice", _Values), Topic("twice", _Values)
    with pytest.raises(ValueError, match="declared twice"):
        topics_of((RuleSpec(_rule, RESULT_HOOKS, (one,), 1), RuleSpec(_rule, RESULT_HOOKS, (two,), 2)))


def test_a_rule_can_only_offer_declared_suggestions_and_its_own_values() -> None:
    topic = Topic("t", _Values, suggestions=("add-x",))
    assert topic.finding(_Values(thing="x"), suggestions=("add-x",)).topic == "t"
    with pytest.raises(ValueError, match="undeclared suggestions"):
        topic.finding(_Values(thing="x"), suggestions=("add-y",))
    with pytest.raises(TypeError, match="values must be _Values"):
        topic.finding(CardValues())  # type: ignore[arg-type]


# --- the phrase book --------------------------------------------------------------------------------------

def test_phrase_book_must_hold_every_key_a_rule_uses_and_no_other() -> None:
    book = dict(PHRASES.phrases)
    del book["site-not-stated"]
    book["never-used"] = "words"
    found = problems(CATALOG, PhraseBook(book, PHRASES.joins), registry())
    assert "_phrases.yaml: phrases.site-not-stated: missing (a rule uses it)" in found
    assert "_phrases.yaml: phrases.never-used: no rule uses it" in found


def test_a_phrase_may_only_use_the_values_its_rule_hands_over() -> None:
    book = {**PHRASES.phrases, "since": "{what} since {date}"}
    assert problems(CATALOG, PhraseBook(book, PHRASES.joins), registry()) == [
        "_phrases.yaml: phrases.since: {date} is not handed over by the rule (it gives ['day', 'what'])"]


def test_phrases_and_listings_are_worded_by_the_book() -> None:
    key = phrase_key("since", "what", "day")
    assert PHRASES.text(key(what="Back pain", day="2026-05-01")) == "Back pain since 2026-05-01"
    with pytest.raises(TypeError, match="takes"):
        key(what="Back pain")
    assert PHRASES.text(Phrase("and-more", (("count", 2), ("first", "ALT high")))) == "ALT high (+2 more)"


# --- start-up refuses a broken or mismatched catalog, naming file and key -----------------------------------

def _override(tmp_path: Path, name: str, data: Any) -> Path:
    cards = tmp_path / "knowledge" / "cards"
    cards.mkdir(parents=True)
    (cards / name).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return tmp_path / "knowledge"


def _start(tmp_path: Path, knowledge: Path) -> None:
    create_app(Settings(database_url=f"sqlite:///{tmp_path}/s.db", allow_unauthenticated=True,
                        knowledge_dir=str(knowledge)))


def test_an_unknown_card_key_stops_start_up(tmp_path: Path) -> None:
    data = yaml.safe_load((catalog_dir() / "bone-scan-flare.yaml").read_text(encoding="utf-8"))
    data["linkz"] = data.pop("links")
    with pytest.raises(CatalogError, match=r"bone-scan-flare\.yaml: linkz: unknown key"):
        _start(tmp_path, _override(tmp_path, "bone-scan-flare.yaml", data))


def test_a_broken_phrase_override_stops_start_up_and_serve(tmp_path: Path) -> None:
    knowledge = _override(tmp_path, "_phrases.yaml", {"phrases": {"since": "{what} from {date}"}})
    with pytest.raises(CatalogError, match=r"_phrases\.yaml: phrases\.since: \{date\} is not handed over"):
        _start(tmp_path, knowledge)
    result = CliRunner().invoke(main, ["serve", "--allow-unauthenticated"],
                                env={"CDSHOOKS_KNOWLEDGE_DIR": str(knowledge),
                                     "CDSHOOKS_DATABASE_URL": f"sqlite:///{tmp_path}/s.db"})
    assert result.exit_code == 2
    assert "phrases.since" in result.output


def test_an_unknown_override_phrase_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=r"phrases\.site-not-stayted: unknown key"):
        load_cards(_override(tmp_path, "_phrases.yaml", {"phrases": {"site-not-stayted": "x"}}))


def test_a_site_rewords_a_phrase_without_python(tmp_path: Path) -> None:
    knowledge = _override(tmp_path, "_phrases.yaml", {"phrases": {
        "mda-progression-unless-flare": "MDA progression, provided flare has been excluded"}})
    fixture = load_fixture(FLARE_FIXTURE)
    texts = []
    for override in (None, knowledge):
        app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/w.db", allow_unauthenticated=True,
                                  knowledge_dir=str(override or "")), clock=lambda: fixture.as_of)
        try:
            body = app.test_client().post(f"/cds-services/{fixture.service_id}", json=fixture.request).get_json()
        finally:
            app.extensions["cdshooks"].close()
        [card] = [c for c in body["cards"] if c["source"]["topic"]["code"] == "bone-scan-flare"]
        texts.append(card["detail"])
    assert "MDA progressive disease, but only once a flare is excluded" in texts[0]
    assert "MDA progression, provided flare has been excluded" in texts[1]


def test_a_site_replaces_a_whole_card(tmp_path: Path) -> None:
    shutil.copytree(catalog_dir(), tmp_path / "k" / "cards", ignore=shutil.ignore_patterns("_*"))
    path = tmp_path / "k" / "cards" / "orthopedic-evaluation.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["title"] = "Refer to orthopaedics"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    assert load_cards(tmp_path / "k").catalog["orthopedic-evaluation"].title == "Refer to orthopaedics"


def test_action_descriptions_are_worded_by_the_book_and_checked(tmp_path: Path) -> None:
    assert PHRASES.action("update", draft="ServiceRequest/1", order="Bone scan") == (
        "Change the draft order ServiceRequest/1 to Bone scan")
    assert PHRASES.action("rate", rating="Not appropriate", draft="ServiceRequest/1") == (
        "Record the appropriateness rating 'Not appropriate' on ServiceRequest/1")
    knowledge = _override(tmp_path, "_phrases.yaml", {"actions": {
        "update": "Switch {draft} to {study}", "delete": "Drop {draft}", "create": "New: {order}",
        "rate": "{draft}: {rating}"}})
    with pytest.raises(CatalogError, match=r"actions\.update: \{study\} is not known"):
        load_cards(knowledge)
