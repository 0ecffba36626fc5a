"""YAML reading for start-up: PyYAML's safe loader on libyaml's C parser when the installed PyYAML has it.

The knowledge files, the card catalog and the report phrases take about a second to parse with the pure-Python
parser on a 2-core machine and a few tens of milliseconds with libyaml (same documents, same safe constructor;
`tests/test_yaml_reader.py` checks that every shipped file reads the same either way).
"""

from __future__ import annotations

from typing import IO, Any

import yaml

SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(stream: str | bytes | IO[str] | IO[bytes]) -> Any:
    """`yaml.safe_load`, with the C parser when available."""
    return yaml.load(stream, Loader=SafeLoader)
