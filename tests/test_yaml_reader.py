"""The C-parser YAML reader (start-up speed) reads every shipped YAML file exactly as the pure-Python one."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cdshooks import yaml_reader

REPO = Path(__file__).resolve().parent.parent
SHIPPED = sorted([*(REPO / "cdshooks").rglob("*.yaml"), *(REPO / "cards").rglob("*.yaml")])


def test_the_c_parser_is_in_use() -> None:
    assert yaml.__with_libyaml__, "PyYAML without libyaml: start-up parses YAML in pure Python (~1 s)"
    assert yaml_reader.SafeLoader is yaml.CSafeLoader


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(REPO)))
def test_every_shipped_file_reads_the_same(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert yaml_reader.safe_load(text) == yaml.safe_load(text)


def test_invalid_yaml_still_raises_a_yaml_error() -> None:
    with pytest.raises(yaml.YAMLError):
        yaml_reader.safe_load("a: [\n")
