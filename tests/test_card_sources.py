"""What a clinician reads in the card catalog cites guidelines and papers, never an aggregator or our own files.

Clinician-visible: each entry's title, summary and detail (base and every variant), its source and links,
suggestion labels and override-reason displays, and every text of the catalog-wide `_*.yaml` files. The
`evidence:` list is internal provenance for reviewers and is not checked here. The YAML is read directly,
so the check does not depend on how the loader models an entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO

CARDS = REPO / "cards"

# Aggregator or secondary sites, and the names of our own working files (seed documents, rules, design notes).
DENYLIST = (
    "radiopaedia",
    "droracle",
    "allexperts",
    "gighz",
    "wikipedia",
    "slideshare",
    "scilit.",
    "researcher.life",
    "paperexplained",
    "seekhealthz",
    "cld.bz",
    "seed",
    "clinical-rules.md",
    "design/",
    ".md",
)
SEARCH_URL_MARKERS = ("?term=", "/search?")
VISIBLE_TEXT_KEYS = ("title", "summary", "detail")


def _strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{where}[{index}]")


def visible_texts(entry: dict[str, Any], where: str) -> Iterator[tuple[str, str]]:
    """(location, text) of everything a clinician can read in one catalog entry."""
    parts = [(where, entry)] + [
        (f"{where}.variants.{name}", variant)
        for name, variant in (entry.get("variants") or {}).items()
        if isinstance(variant, dict)
    ]
    for place, part in parts:
        for key in VISIBLE_TEXT_KEYS:
            if isinstance(part.get(key), str):
                yield f"{place}.{key}", part[key]
        yield from _strings(part.get("source"), f"{place}.source")
        yield from _strings(part.get("links"), f"{place}.links")
    for index, suggestion in enumerate(entry.get("suggestions") or []):
        yield f"{where}.suggestions[{index}].label", str(suggestion.get("label", ""))
    for index, reason in enumerate(entry.get("override_reasons") or []):
        yield f"{where}.override_reasons[{index}].display", str(reason.get("display", ""))


def urls(entry: dict[str, Any], where: str) -> Iterator[tuple[str, str, bool]]:
    """(location, url, is_source) of the entry's source and links, base and variants."""
    parts = [(where, entry)] + [
        (f"{where}.variants.{name}", variant)
        for name, variant in (entry.get("variants") or {}).items()
        if isinstance(variant, dict)
    ]
    for place, part in parts:
        source = part.get("source")
        if isinstance(source, dict) and "url" in source:
            yield f"{place}.source.url", str(source["url"]), True
        for index, link in enumerate(part.get("links") or []):
            yield f"{place}.links[{index}].url", str(link.get("url", "")), False


def problems(entry: dict[str, Any], where: str, *, topic_file: bool = True) -> list[str]:
    """Every citation problem of one parsed catalog file (an empty list when it is clean)."""
    found: list[str] = []
    texts = visible_texts(entry, where) if topic_file else _strings(entry, where)
    for place, text in texts:
        lowered = text.lower()
        found += [f"{place}: names {term!r}" for term in DENYLIST if term in lowered]
    if not topic_file:
        return found
    source = entry.get("source")
    if not (isinstance(source, dict) and isinstance(source.get("url"), str) and source["url"].strip()):
        found.append(f"{where}.source: no url")
    for place, url, _ in urls(entry, where):
        if not url.startswith("https://"):
            found.append(f"{place}: not https: {url}")
        found += [f"{place}: search URL ({marker}): {url}" for marker in SEARCH_URL_MARKERS if marker in url]
    return found


def catalog_files() -> list[Path]:
    return sorted(CARDS.glob("*.yaml"))


def test_catalog_files_are_found() -> None:
    names = {path.stem for path in catalog_files()}
    assert "bone-scan-flare" in names and "_safety" in names


@pytest.mark.parametrize("path", catalog_files(), ids=lambda path: path.stem)
def test_clinician_visible_citations_are_primary(path: Path) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path.name
    assert problems(data, path.stem, topic_file=not path.name.startswith("_")) == []


CLEAN: dict[str, Any] = {
    "title": "Possible flare",
    "summary": "Possible flare at {weeks} weeks",
    "detail": "**Evidence:** Janicek et al., Radiology 1994.",
    "source": {"label": "Janicek 1994", "url": "https://doi.org/10.1148/radiology.192.1.8208938"},
    "links": [{"label": "ABC 5", "url": "https://doi.org/10.1016/j.annonc.2020.09.010"}],
    "suggestions": [{"label": "Add whole-body bone scan"}],
    "override_reasons": [{"code": "x", "display": "Other clinical reason"}],
    "evidence": ["seed 002 and clinical-rules.md §7.2: internal provenance, not shown"],
}


def test_clean_entry_passes_and_evidence_is_not_checked() -> None:
    assert problems(CLEAN, "clean") == []


def _with(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    entry = yaml.safe_load(yaml.safe_dump(CLEAN))
    target: Any = entry
    for key in path[:-1]:
        target = target.setdefault(key, {}) if isinstance(key, str) else target[key]
    target[path[-1]] = value
    return entry


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("detail",), "**Evidence:** Radiopaedia (flare 2 weeks-3 months).", "radiopaedia"),
        (("detail",), "**Evidence:** seeds 000 and 002.", "seed"),
        (("summary",), "See clinical-rules.md", "clinical-rules.md"),
        (("variants", "late", "detail"), "**Evidence:** design/architecture.md", "design/"),
        (("source", "label"), "droracle.ai summary", "droracle"),
        (("links", 0, "url"), "https://en.wikipedia.org/wiki/Bone_scintigraphy", "wikipedia"),
        (("links", 0, "label"), "Ask the experts (allexperts)", "allexperts"),
        (("suggestions", 0, "label"), "See gighz write-up", "gighz"),
        (("source", "url"), "https://pubmed.ncbi.nlm.nih.gov/?term=Janicek+flare", "search URL"),
        (("links", 0, "url"), "https://www.example.org/search?q=flare", "search URL"),
        (("source", "url"), "http://acsearch.acr.org/list/GetAppendix?TopicId=310", "not https"),
        (("links", 0, "url"), "http://doi.org/10.1186/bcr3798", "not https"),
        (("source",), {"label": "NCCN Guidelines Breast Cancer"}, "no url"),
    ],
)
def test_each_kind_of_bad_citation_is_reported(path: tuple[Any, ...], value: Any, expected: str) -> None:
    found = problems(_with(path, value), "bad")
    assert any(expected in problem for problem in found), found


def test_shared_texts_file_is_checked_whole() -> None:
    assert problems({"contrast": {"note": "per seed 002"}}, "_safety", topic_file=False) != []
    assert problems({"contrast": {"note": "ACR–NKF 2020 consensus"}}, "_safety", topic_file=False) == []
