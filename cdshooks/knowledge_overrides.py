"""What a site's knowledge override folder (CDSHOOKS_KNOWLEDGE_DIR) holds that the loader would not read.

The loader merges same-named files entry by entry; a file with another name, or a top-level key the shipped
file does not have (`P_SUSPICION_LOOKBACK_DAYS: 45` instead of `parameters: {P_SUSPICION_LOOKBACK_DAYS: 45}`),
would be ignored without a word. `cdshooks serve` and `check-config` refuse such a folder, naming the file
and the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from cdshooks.clinical.knowledge.yaml_files import ENTRY_SECTIONS, KNOWLEDGE_DIR


def _top_level_keys(path: Path) -> set[str] | None:
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None  # the loader reports unreadable files itself
    return {str(key) for key in data} if isinstance(data, dict) else None


def ignored_entries(folder: str | Path) -> list[str]:
    """One line per file or top-level key in `folder` that the knowledge loader would silently skip."""
    root = Path(folder)
    if not root.is_dir():
        return []  # the loader says the folder does not exist
    out: list[str] = []
    for path in sorted(root.iterdir()):
        if path.suffix not in {".yaml", ".yml"}:
            continue
        if path.name not in ENTRY_SECTIONS:
            out.append(f"{path} is not read: override files take the shipped names ({', '.join(ENTRY_SECTIONS)})")
            continue
        keys = _top_level_keys(path)
        shipped = _top_level_keys(KNOWLEDGE_DIR / path.name) or set()
        section = ENTRY_SECTIONS[path.name]
        for key in sorted((keys or set()) - shipped):
            out.append(f"{path}: top-level key {key} is not read; indent it under a `{section}:` line")
    return out
