"""Where the book's inputs live, how they are read, and the content hash that identifies them.

The knowledge is loaded exactly as the service loads it (`load_knowledge(CDSHOOKS_KNOWLEDGE_DIR)`, the card
catalog with `load_catalog`), so a file the service would refuse stops the book too. For display the book also
needs fields the validated objects drop (notes on codes, product codes, the RRL scale): it reads the same files
merged with the same override rules. This module is the one place that reaches into the loader for that.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from cdshooks.catalog.loader import CatalogError, catalog_dir
from cdshooks.clinical.knowledge import ENTRY_SECTIONS, KNOWLEDGE_DIR, Knowledge, load_knowledge
from cdshooks.clinical.knowledge.yaml_files import _apply_override, _Loaded, _resolve_override

RULES_DOC = "clinical-rules.md"
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


def rules_doc_path() -> Path:
    """`cdshooks/docs/clinical-rules.md` in an installed package; the repository's `docs/` in a checkout."""
    try:
        shipped = Path(str(resources.files("cdshooks") / "docs" / RULES_DOC))
    except (ModuleNotFoundError, TypeError):  # pragma: no cover
        shipped = Path()
    if shipped.is_file():
        return shipped
    return Path(__file__).resolve().parent.parent.parent / "docs" / RULES_DOC


def content_hash(files: KnowledgeFiles, cards: Path, rules_doc: Path) -> str:
    """SHA-256 over every file the book is made from: shipped knowledge, the site's override files, the card
    catalog and the rule summaries. Any edit to any of them changes it."""
    digest = hashlib.sha256()
    groups: list[tuple[str, Path]] = [("knowledge", p) for p in sorted(KNOWLEDGE_DIR.glob("*.yaml"))]
    if files.override_dir is not None:
        groups += [("override", p) for p in sorted(files.override_dir.glob("*.yaml"))]
    groups += [("cards", p) for p in sorted(cards.glob("*.yaml"))]
    groups.append(("docs", rules_doc))
    for group, path in groups:
        digest.update(f"{group}/{path.name}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
