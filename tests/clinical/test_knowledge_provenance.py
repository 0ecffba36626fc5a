"""What the knowledge book shows a clinical reviewer as provenance cites guidelines and papers, never an aggregator
site or the project's own working files.

Provenance text: every parameter's `provenance`, and everywhere in the knowledge files the sources, notes and
descriptions (`source`, `provenance`, `rates_parts_provenance`, `note`, `notes`, `reason`, `description` and the ACR
scenario's `version` / `retrieved_for_project`). Codes, regexes, names and keys are not provenance and are not
checked. The denylist is the card catalog's (tests/test_card_sources.py) plus the internal references only the
knowledge files used (rule notes by section or issue number, code file names). The repository's own rule summary
may be cited as `docs/clinical-rules.md R13`. The YAML is read directly, so the check does not depend on how the
loader models an entry.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from cdshooks.clinical.knowledge import KNOWLEDGE_DIR
from tests.test_card_sources import DENYLIST

PROVENANCE_KEYS = frozenset({
    "source", "provenance", "rates_parts_provenance", "note", "notes", "reason", "description",
    "version", "retrieved_for_project",
})
# The repository's own summary of the rules (docs/clinical-rules.md, shipped with the code) may be cited.
ALLOWED_REFERENCE = "docs/clinical-rules.md"
# Internal references of the knowledge files: the research notes by name, the issue tracker, source files.
INTERNAL = re.compile(r"clinical-rules|shared/knowledge|/work/|\bissues? \d+|\b\w+\.py\b|find_string", re.IGNORECASE)
# A SOURCED parameter names its evidence: a DOI, a PubMed or PubMed Central id.
CITATION = re.compile(r"doi:10\.\d{4,}/\S+|\bPMID \d+|\bPMC\d+")


def provenance_texts(value: Any, where: str, key: str = "") -> Iterator[tuple[str, str]]:
    """(location, text) of every provenance string in a parsed knowledge file."""
    if isinstance(value, str):
        if key in PROVENANCE_KEYS:
            yield where, value
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from provenance_texts(item, f"{where}.{name}", str(name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from provenance_texts(item, f"{where}[{index}]", key)


def problems(data: Any, where: str) -> list[str]:
    """Every provenance text of a parsed file that names an aggregator site or an internal file."""
    found: list[str] = []
    for place, text in provenance_texts(data, where):
        lowered = text.lower().replace(ALLOWED_REFERENCE, "")
        found += [f"{place}: names {term!r}: {text}" for term in DENYLIST if term in lowered]
        found += [f"{place}: internal reference {match.group(0)!r}: {text}" for match in INTERNAL.finditer(lowered)]
    return found


def knowledge_files() -> list[Path]:
    return sorted(KNOWLEDGE_DIR.glob("*.yaml"))


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_every_knowledge_file_is_found_and_has_provenance_to_check() -> None:
    names = {path.name for path in knowledge_files()}
    assert {"parameters.yaml", "acr_table.yaml", "valuesets.yaml", "procedures.yaml", "medications.yaml",
            "report_phrases.yaml"} <= names
    for path in knowledge_files():
        assert len(list(provenance_texts(_load(path), path.stem))) >= 10, path.name


@pytest.mark.parametrize("path", knowledge_files(), ids=lambda path: path.stem)
def test_provenance_cites_no_aggregator_site_or_internal_file(path: Path) -> None:
    assert problems(_load(path), path.stem) == []


def test_every_parameter_has_provenance_and_a_sourced_one_cites_its_evidence() -> None:
    parameters = _load(KNOWLEDGE_DIR / "parameters.yaml")["parameters"]
    assert parameters
    for name, entry in parameters.items():
        provenance = entry.get("provenance")
        assert isinstance(provenance, str) and provenance.strip(), name
        if entry.get("status") == "SOURCED":
            assert CITATION.search(provenance), f"{name}: SOURCED without a DOI/PMID/PMC: {provenance}"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"parameters": {"P_X": {"provenance": 'Radiopaedia "2 weeks to 3 months"'}}}, "radiopaedia"),
        ({"valuesets": {"VS_X": {"source": "clinical-rules.md §3.3; R06"}}}, "clinical-rules.md"),
        ({"rows": {"X": {"source": "seed 002 only"}}}, "seed"),
        ({"rows": {"X": {"notes": "see /work/shared/knowledge/seeds/002.txt"}}}, "/work/"),
        ({"rows": {"X": {"rates_parts_provenance": "issue 10: a region of the survey"}}}, "issue 10"),
        ({"impression_headers": {"source": "design default; clinical-rules §7.1"}}, "clinical-rules"),
        ({"feature_large": {"source": "evidence.py LARGE"}}, "evidence.py"),
        ({"procedures": {"X": {"codes": [{"code": "1", "note": "sandbox catalogue (cds-hooks-2.0.md §2.4)"}]}}}, ".md"),
        ({"excluded_codes": [{"code": "1", "reason": "per researcher.life abstract"}]}, "researcher.life"),
        ({"scenario": {"source": "gighz.com secondary write-up"}}, "gighz"),
        ({"medications": {"x": {"source": "droracle.ai answer"}}}, "droracle"),
    ],
)
def test_each_kind_of_bad_provenance_is_reported(data: dict[str, Any], expected: str) -> None:
    found = problems(data, "bad")
    assert any(expected in problem for problem in found), found


def test_clean_provenance_and_non_provenance_text_pass() -> None:
    clean = {
        "parameters": {"P_X": {"provenance": "Janicek MJ et al., Radiology 1994, doi:10.1148/radiology.192.1.8208938"}},
        "scenario": {"retrieved_for_project": "docs/clinical-rules.md R01 (ACR variant texts)"},
        "valuesets": {"VS_X": {"source": "design default (R13, second review)", "text_patterns": ["seed", "a.py"]}},
        "seed_paraphrase": "not a provenance key",
    }
    assert problems(clean, "clean") == []
