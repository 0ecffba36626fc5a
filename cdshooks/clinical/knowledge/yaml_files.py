"""The knowledge YAML files: where they are, reading them and merging a site's override files into them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from cdshooks import yaml_reader
from cdshooks.clinical.knowledge.model import KnowledgeError

KNOWLEDGE_DIR = Path(__file__).resolve().parent.parent.parent / "knowledge"

VALUESETS_FILE = "valuesets.yaml"
PROCEDURES_FILE = "procedures.yaml"
ACR_FILE = "acr_table.yaml"
PARAMETERS_FILE = "parameters.yaml"
MEDICATIONS_FILE = "medications.yaml"
REPORT_PHRASES_FILE = "report_phrases.yaml"

# The section of each file whose entries an override file replaces one by one (null deletes an entry); "": the
# entries are the top-level keys (report_phrases.yaml: every key but PHRASE_SETTINGS is a phrase list).
ENTRY_SECTIONS: Mapping[str, str] = MappingProxyType(
    {
        VALUESETS_FILE: "valuesets",
        PROCEDURES_FILE: "procedures",
        ACR_FILE: "rows",
        PARAMETERS_FILE: "parameters",
        MEDICATIONS_FILE: "medications",
        REPORT_PHRASES_FILE: "",
    }
)
PHRASE_SETTINGS = frozenset({"version", "scope_windows", "hedge_window"})


# --------------------------------------------------------------------------------------------- loading


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        with path.open(encoding="utf-8") as handle:
            data = yaml_reader.safe_load(handle)
    except OSError as exc:
        raise KnowledgeError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        raise KnowledgeError(f"{path}: invalid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise KnowledgeError(f"{path}: top level must be a mapping, not {type(data).__name__}")
    return data


def _deep_merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _deep_merge(base.get(key), value) if key in base else value
        return merged
    return override


@dataclass
class _Loaded:
    """One knowledge file after merging: its data and which file each entry / section came from."""

    name: str
    data: dict[str, Any]
    shipped: Path
    override: Path | None = None
    overridden: set[str] = field(default_factory=set)

    def origin(self, entry: str | None = None) -> Path:
        if self.override is not None and entry is not None and entry in self.overridden:
            return self.override
        return self.shipped

    def error(self, entry: str | None, message: str) -> KnowledgeError:
        where = f"{self.origin(entry)}"
        label = f" [{entry}]" if entry else ""
        return KnowledgeError(f"{where}{label}: {message}")


def _load_file(name: str, override_dir: Path | None) -> _Loaded:
    shipped = KNOWLEDGE_DIR / name
    loaded = _Loaded(name, _read_yaml(shipped), shipped)
    if override_dir is None:
        return loaded
    override_path = override_dir / name
    if not override_path.is_file():
        return loaded
    _apply_override(loaded, override_path, _read_yaml(override_path))
    return loaded


def _apply_override(loaded: _Loaded, path: Path, override: dict[str, Any]) -> None:
    loaded.override = path
    section = ENTRY_SECTIONS[loaded.name]
    if not section:
        _apply_phrase_override(loaded, path, override)
        return
    for key, value in override.items():
        if key != section:
            loaded.data[key] = _deep_merge(loaded.data.get(key), value) if key in loaded.data else value
            loaded.overridden.add(key)
            continue
        if not isinstance(value, dict):
            raise KnowledgeError(f"{path} [{section}]: must be a mapping of named entries")
        entries = dict(loaded.data.get(section) or {})
        for entry_name, entry in value.items():
            loaded.overridden.add(str(entry_name))
            if entry is None:
                entries.pop(entry_name, None)
            elif section == "parameters" and not isinstance(entry, dict):
                entries[entry_name] = _scalar_parameter(entries.get(entry_name), entry, path)
            else:
                entries[entry_name] = entry
        loaded.data[section] = entries


def _apply_phrase_override(loaded: _Loaded, path: Path, override: dict[str, Any]) -> None:
    """A phrase list is replaced whole by name (a bare list of patterns is its `patterns`, with the override file
    as its source); the settings (windows) deep-merge key by key."""
    for key, value in override.items():
        loaded.overridden.add(str(key))
        if key in PHRASE_SETTINGS:
            loaded.data[key] = _deep_merge(loaded.data.get(key), value) if key in loaded.data else value
        elif value is None:
            loaded.data.pop(key, None)  # refused by the builder: the reader needs every list
        elif isinstance(value, list):
            loaded.data[key] = {"source": f"site override file {path}", "patterns": value}
        else:
            loaded.data[key] = value


def _scalar_parameter(base: Any, value: Any, path: Path) -> dict[str, Any]:
    unit = base.get("unit", "") if isinstance(base, dict) else ""
    return {
        "value": value,
        "unit": unit,
        "status": "LOCAL OVERRIDE",
        "provenance": f"site override file {path}",
    }


def _resolve_override(override_dir: str | Path | None) -> Path | None:
    if override_dir is None:
        return None
    path = Path(override_dir)
    if not path.is_dir():
        raise KnowledgeError(f"{path}: knowledge override directory does not exist")
    return path
