"""Where the book's inputs live, how they are read, and the content hash that identifies them.

The knowledge is loaded exactly as the service loads it (`load_knowledge(CDSHOOKS_KNOWLEDGE_DIR)`, the card
catalog with `load_catalog`), so a file the service would refuse stops the book too. For display the book also
needs fields the validated objects drop (notes on codes, product codes, the RRL scale): it reads the same files
merged with the same override rules. This module is the one place that reaches into the loader for that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cdshooks.catalog.loader import CatalogError, catalog_dir
from cdshooks.clinical.knowledge import ENTRY_SECTIONS, KNOWLEDGE_DIR, Knowledge, load_knowledge
from cdshooks.clinical.knowledge.yaml_files import _apply_override, _Loaded, _resolve_override
from cdshooks.governance.knowledge_version import RULES_DOC, knowledge_sources, rules_doc_path
from cdshooks.governance.knowledge_version import content_hash as hashed

__all__ = ["RULES_DOC", "KnowledgeFiles", "cards_directory", "catalog_texts", "content_hash", "header_comment",
           "load_knowledge_files", "rules_doc_path"]

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the files were validated already: parse them fast


@dataclass(frozen=True)
class KnowledgeFiles:
    """The knowledge as the service sees it: validated, plus each file's merged data for display."""

    knowledge: Knowledge
    data: Mapping[str, Mapping[str, Any]]  # file name -> merged YAML data, shipped files in name order
    overridden: tuple[str, ...]  # names of the files a site override changed
    override_dir: Path | None


def load_knowledge_files(override_dir: str | Path | None) -> KnowledgeFiles:
    """Validate like the service (KnowledgeError on a bad file), then read every shipped file merged with its
    override by the loader's merge rules. Files the loader does not override are shown as shipped."""
    knowledge = load_knowledge(override_dir or None)
    overrides = _resolve_override(override_dir or None)
    data: dict[str, Mapping[str, Any]] = {}
    overridden: list[str] = []
    for path in sorted(KNOWLEDGE_DIR.glob("*.yaml")):
        loaded = _Loaded(path.name, _read(path), path)
        override = overrides / path.name if overrides is not None else None
        if path.name in ENTRY_SECTIONS and override is not None and override.is_file():
            _apply_override(loaded, override, _read(override))  # the loader's own merge rules
            overridden.append(path.name)
        data[path.name] = loaded.data
    return KnowledgeFiles(knowledge, data, tuple(overridden), overrides)


def _read(path: Path) -> dict[str, Any]:
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)  # a safe loader (C or Python)
    return data if isinstance(data, dict) else {}


def cards_directory(directory: Path | None = None) -> Path:
    return directory or catalog_dir()


def catalog_texts(directory: Path) -> dict[str, Mapping[str, Any]]:
    """Catalog-wide text files (`_*.yaml`, e.g. `_safety.yaml`): not topics, shown in their own chapter."""
    texts: dict[str, Mapping[str, Any]] = {}
    for path in sorted(directory.glob("_*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise CatalogError(f"{path.name}: cannot be read ({exc})") from None
        texts[path.name] = data if isinstance(data, dict) else {}
    return texts


def header_comment(path: Path) -> str:
    """The leading `#` comment block of a YAML file, without the `#` marks (lines joined by newlines)."""
    lines: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[1:].strip())
    return "\n".join(lines).strip()


def content_hash(files: KnowledgeFiles, cards: Path, rules_doc: Path) -> str:
    """The knowledge's content hash (cdshooks.governance.knowledge_version: the one function that computes it,
    the same hash every card and rating carries): every shipped knowledge file, the site's override files, the
    card catalog and the rule summaries. Any edit to any of them changes it."""
    return hashed(knowledge_sources(files.override_dir, cards, rules_doc))
