"""Which knowledge produced an answer: a semantic version plus a content hash.

The version is `cdshooks/knowledge/VERSION` (a site's `<CDSHOOKS_KNOWLEDGE_DIR>/VERSION` replaces it); the
hash is SHA-256 over every file the advice rests on, each named by its group and file name: the shipped
knowledge YAML and VERSION, the site's override files (knowledge, `VERSION`, `cards/*.yaml`), the card catalog
(with the phrase book and the shared safety texts) and the rule summaries (`docs/clinical-rules.md`). Any edit to
any of them changes the hash. `content_hash` is the one place that computes it: the knowledge book prints the
same hash in its stamp, so a card can be traced to the book a clinician signed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from cdshooks.catalog.loader import CatalogError, catalog_dir
from cdshooks.clinical.knowledge import KNOWLEDGE_DIR

VERSION_FILE = "VERSION"
RULES_DOC = "clinical-rules.md"
# semantic versioning 2.0.0: MAJOR.MINOR.PATCH, optional -pre-release and +build (e.g. 1.2.0+site.3)
SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?")


@dataclass(frozen=True)
class KnowledgeVersion:
    version: str  # semantic version of the knowledge
    hash: str  # SHA-256 (hex) over every knowledge, override, card and rule-summary file

    @property
    def short_hash(self) -> str:
        return self.hash[:12]

    @property
    def label(self) -> str:
        """`1.0.0+3f2a…` style: what reports and the command line print."""
        return f"{self.version} (sha256:{self.short_hash})"

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "hash": self.hash}


def rules_doc_path() -> Path:
    """`cdshooks/docs/clinical-rules.md` in an installed package; the repository's `docs/` in a checkout."""
    try:
        shipped = Path(str(resources.files("cdshooks") / "docs" / RULES_DOC))
    except (ModuleNotFoundError, TypeError):  # pragma: no cover
        shipped = Path()
    if shipped.is_file():
        return shipped
    return Path(__file__).resolve().parent.parent.parent / "docs" / RULES_DOC


def knowledge_sources(override_dir: str | Path | None = None, cards_dir: Path | None = None,
                      rules_doc: Path | None = None) -> list[tuple[str, Path]]:
    """(group, path) of every file the advice rests on, in a fixed order."""
    shipped_version = KNOWLEDGE_DIR / VERSION_FILE
    sources: list[tuple[str, Path]] = [("knowledge", p) for p in sorted(KNOWLEDGE_DIR.glob("*.yaml"))]
    sources += [("knowledge", shipped_version)] if shipped_version.is_file() else []
    override = Path(override_dir) if override_dir else None
    if override is not None and override.is_dir():
        sources += [("override", p) for p in sorted(override.glob("*.yaml"))]
        sources += [("override", override / VERSION_FILE)] if (override / VERSION_FILE).is_file() else []
        sources += [("override-cards", p) for p in sorted((override / "cards").glob("*.yaml"))]
    sources += [("cards", p) for p in sorted((cards_dir or catalog_dir()).glob("*.yaml"))]
    doc = rules_doc or rules_doc_path()
    sources += [("docs", doc)] if doc.is_file() else []
    return sources


def content_hash(sources: Iterable[tuple[str, Path]]) -> str:
    """SHA-256 over the files, each named by group and file name, so a rename or a move changes it too."""
    digest = hashlib.sha256()
    for group, path in sources:
        digest.update(f"{group}/{path.name}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def read_version(override_dir: str | Path | None = None) -> str:
    """The knowledge's semantic version: the site's `VERSION` file when it has one, else the shipped one.
    CatalogError naming the file when it is not a semantic version."""
    override = Path(override_dir) / VERSION_FILE if override_dir else None
    path = override if override is not None and override.is_file() else KNOWLEDGE_DIR / VERSION_FILE
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read the knowledge version ({exc.strerror or exc})") from None
    if not SEMVER.fullmatch(text):
        raise CatalogError(f"{path}: knowledge version {text[:40]!r} is not a semantic version (e.g. 1.2.0 or "
                           "1.2.0+site.1)")
    return text


def knowledge_version(override_dir: str | Path | None = None) -> KnowledgeVersion:
    """The version and content hash of the knowledge the service loads with this override directory."""
    return KnowledgeVersion(read_version(override_dir), content_hash(knowledge_sources(override_dir)))
