"""One knowledge boundary: every knowledge file, report phrases included, is loaded by the same loader, overridden
the same way (CDSHOOKS_KNOWLEDGE_DIR), checked against its schema (unknown keys refused) and refused at start-up
with a message naming the file and the key."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from cdshooks import create_app
from cdshooks.clinical.knowledge import (
    ENTRY_SECTIONS,
    KNOWLEDGE_DIR,
    REPORT_PHRASES_FILE,
    KnowledgeError,
    default_knowledge,
    load_knowledge,
    yaml_files,
)
from cdshooks.clinical.report_reading import (
    PHRASE_LISTS,
    SCOPE_WINDOWS,
    BoneMetResult,
    LesionCharacter,
    _grammar,
    read_report,
)
from cdshooks.replay import load_fixture, topics_of
from cdshooks.settings import Settings
from tests.conftest import REPO

LYTIC_FIXTURE = REPO / "fixtures" / "order-select" / "bone-scan-lytic-limitation--ct-report-conclusion-lytic.json"
BROKEN_MET = "met:\n  source: site radiologists\n  patterns: ['metasta\\w*', 'secondar(?:y|ies)', '(deposits']\n"


def _override(directory: Path, name: str, content: str) -> Path:
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text(content, encoding="utf-8")
    return path


def _shipped(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((KNOWLEDGE_DIR / name).read_text(encoding="utf-8"))
    return data


def _refusal(directory: Path) -> str:
    with pytest.raises(KnowledgeError) as excinfo:
        load_knowledge(directory)
    return str(excinfo.value)


# ---------------------------------------------------------------------------------------------- shipped files


def test_the_shipped_files_load_with_the_report_grammar() -> None:
    kb = load_knowledge()
    assert set(_shipped(REPORT_PHRASES_FILE)) - yaml_files.PHRASE_SETTINGS == PHRASE_LISTS
    assert set(kb.report_grammar.windows) == SCOPE_WINDOWS
    # callers without a Knowledge (tests, bench) read with the shipped knowledge's grammar: one grammar per process
    assert _grammar() is default_knowledge().report_grammar
    reading = read_report("Multiple lytic lesions in the spine.", "CT", grammar=kb.report_grammar)
    assert reading.character is LesionCharacter.LYTIC


def test_a_broken_shipped_phrase_file_stops_loading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = tmp_path / "shipped"
    shutil.copytree(KNOWLEDGE_DIR, shipped)
    phrases = (shipped / REPORT_PHRASES_FILE).read_text(encoding="utf-8")
    (shipped / REPORT_PHRASES_FILE).write_text(phrases.replace("\nchar_lytic:", "\nchar_lytik:"), encoding="utf-8")
    monkeypatch.setattr(yaml_files, "KNOWLEDGE_DIR", shipped)
    with pytest.raises(KnowledgeError) as excinfo:
        load_knowledge()
    assert str(excinfo.value).startswith(f"{shipped / REPORT_PHRASES_FILE} [char_lytik]: unknown key 'char_lytik'")


# ---------------------------------------------------------------------------------------------- start-up refusal


def test_a_broken_phrase_override_stops_create_app_naming_file_and_key(tmp_path: Path) -> None:
    path = _override(tmp_path / "knowledge", REPORT_PHRASES_FILE, BROKEN_MET)
    settings = Settings(database_url=f"sqlite:///{tmp_path}/k.db", allow_unauthenticated=True,
                        knowledge_dir=str(tmp_path / "knowledge"))
    with pytest.raises(KnowledgeError) as excinfo:
        create_app(settings)
    assert str(excinfo.value).startswith(f"{path} [met]: pattern 3 is not a valid regular expression: ")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("met: {patterns: ['metasta\\\\w*']}\n", "[met]: 'source' is missing"),
        ("met: {source: s, patterns: ['metasta\\\\w*'], boundry: false}\n", "[met]: unknown key 'boundry'"),
        ("met: {source: s, patterns: ['metasta\\\\w*'], boundary: 'no'}\n", "[met]: boundary must be a valid boolean"),
        ("met: []\n", "[met]: patterns must not be empty"),
        ("met: ['metastas(?:is|es)?', 'x?']\n", "[met]: pattern 2 matches the empty text"),
        ("met: ['(?i)metastasis']\n", "[met]: pattern 1 is not a valid regular expression"),
        ("met: ['(?P<met>metastasis)']\n", "[met]: pattern 1 must not name a group"),
        ("met: null\n", "[met]: phrase list is missing"),
        ("metz: ['metastasis']\n", "[metz]: unknown key"),
        ("scope_windows: {pre_negation: 0}\n", "[scope_windows]: pre_negation must be greater than 0"),
        ("scope_windows: {pre_negation: '10'}\n", "[scope_windows]: pre_negation must be a valid integer"),
        ("scope_windows: {pre_negaton: 10}\n", "[scope_windows]: unknown key 'pre_negaton'"),
        ("hedge_window: {words: 2.5}\n", "[hedge_window]: words must be a valid integer"),
    ],
)
def test_a_bad_phrase_override_names_file_list_and_key(tmp_path: Path, content: str, words: str) -> None:
    path = _override(tmp_path, REPORT_PHRASES_FILE, content)
    assert f"{path} {words}" in _refusal(tmp_path)


def _with_unknown_key(name: str) -> tuple[str, str]:
    """An override of ``name`` whose first entry (a shipped one, unchanged) carries an unknown key."""
    data = _shipped(name)
    if name == REPORT_PHRASES_FILE:
        entry = "met"
        return yaml.safe_dump({entry: {**data[entry], "linkz": "x"}}), entry
    section = ENTRY_SECTIONS[name]
    entry = next(iter(data[section]))
    return yaml.safe_dump({section: {entry: {**data[section][entry], "linkz": "x"}}}), entry


FILES = sorted(ENTRY_SECTIONS)


@pytest.mark.parametrize("name", FILES)
def test_an_unknown_key_in_an_entry_is_refused_naming_file_entry_and_key(tmp_path: Path, name: str) -> None:
    content, entry = _with_unknown_key(name)
    path = _override(tmp_path, name, content)
    assert f"{path} [{entry}]: unknown key 'linkz'" in _refusal(tmp_path)


@pytest.mark.parametrize("name", FILES)
def test_an_unknown_top_level_key_is_refused_naming_file_and_key(tmp_path: Path, name: str) -> None:
    path = _override(tmp_path, name, "linkz: {}\n")
    assert f"{path}" in (message := _refusal(tmp_path)) and "linkz" in message and "unknown key" in message


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [  # settings the loader used to read without looking at their keys
        ("acr_table.yaml", "scenario: {topik: x}\n", "[scenario]: unknown key 'topik'"),
        ("acr_table.yaml", "pama_rating: {no_rating: {code: x, label: y}}\n", "[pama_rating]: no_rating: unknown key"),
        ("acr_table.yaml", "rrl_scale: {levels: [{symbol: O, msv: '0', status: V-IG, dose: 0}]}\n",
         "[rrl_scale]: level 1: unknown key 'dose'"),
        ("medications.yaml", "drug_classes: {her2: {value_set: VS_HER2, description: x, colour: red}}\n",
         "[drug_classes]: her2: unknown key 'colour'"),
        ("valuesets.yaml", "system_aliases: [{alias: 'urn:x', system: 'http://loinc.org', source: s, kind: y}]\n",
         "[system_aliases]: system alias 1: unknown key 'kind'"),
        ("procedures.yaml", "excluded_codes: [{system: s, code: '1', reason: r, status: C}]\n",
         "[excluded_codes]: excluded code 1: unknown key 'status'"),
    ],
)
def test_unknown_keys_in_settings_sections_are_refused(tmp_path: Path, name: str, content: str, words: str) -> None:
    path = _override(tmp_path, name, content)
    assert f"{path} {words}" in _refusal(tmp_path)


def test_values_are_not_coerced(tmp_path: Path) -> None:
    """Strict types: a quoted number is not a number, "yes" is not true."""
    path = _override(tmp_path, "parameters.yaml", "parameters:\n  P_FLARE_MIN_DAYS: '21'\n")
    assert f"{path} [P_FLARE_MIN_DAYS]: value must be a number (got '21')" in _refusal(tmp_path)
    path = _override(tmp_path, "parameters.yaml", "parameters:\n  P_FLARE_MIN_DAYS: true\n")
    assert f"{path} [P_FLARE_MIN_DAYS]: value must be a number (got True)" in _refusal(tmp_path)


# ---------------------------------------------------------------------------------------------- overrides


def test_a_phrase_list_is_replaced_whole_and_windows_merge_one_by_one(tmp_path: Path) -> None:
    _override(tmp_path, REPORT_PHRASES_FILE, "char_lytic: ['punched[- ]out']\nscope_windows: {pre_negation: 1}\n")
    grammar = load_knowledge(tmp_path).report_grammar
    assert read_report("Punched-out lesions in the skull.", "CT", grammar=grammar).character is LesionCharacter.LYTIC
    assert read_report("Lytic lesions in the skull.", "CT", grammar=grammar).character is None  # replaced whole
    assert read_report("Lytic lesions in the skull.", "CT").character is LesionCharacter.LYTIC  # shipped unchanged
    # "no" reaches one word only: two words away the metastases are no longer denied; other windows are kept
    assert read_report("No osseous metastases.", "CT").result is BoneMetResult.NEGATIVE
    assert read_report("No osseous metastases.", "CT", grammar=grammar).result is BoneMetResult.POSITIVE
    assert grammar.windows == {**default_knowledge().report_grammar.windows, "pre_negation": 1}


def _topics(tmp_path: Path, name: str, knowledge_dir: str, request: dict[str, Any]) -> list[str]:
    fixture = load_fixture(LYTIC_FIXTURE)
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/{name}.db", allow_unauthenticated=True,
                              knowledge_dir=knowledge_dir), clock=lambda: fixture.as_of)
    try:
        return topics_of(app.test_client().post(f"/cds-services/{fixture.service_id}", json=request).get_json())
    finally:
        app.extensions["cdshooks"].close()


def test_a_phrase_override_changes_how_a_hook_call_reads_the_report(tmp_path: Path) -> None:
    """A site's own wording ("punched-out") read as lytic makes the lytic-limitation card fire on a bone-scan order."""
    fixture = load_fixture(LYTIC_FIXTURE)
    text = json.dumps(fixture.request)
    assert text.count("Multiple lytic lesions") == 1
    punched = json.loads(text.replace("Multiple lytic lesions", "Multiple punched-out lesions"))
    override = tmp_path / "knowledge"
    _override(override, REPORT_PHRASES_FILE, "char_lytic: ['(?:osteo)?lytic', 'punched[- ]out']\n")
    assert "bone-scan-lytic-limitation" in _topics(tmp_path, "shipped", "", fixture.request)
    assert "bone-scan-lytic-limitation" not in _topics(tmp_path, "shipped-punched", "", punched)
    assert "bone-scan-lytic-limitation" in _topics(tmp_path, "override-punched", str(override), punched)
