"""Building the radiology-report reader's grammar from report_phrases.yaml.

The file must hold exactly the phrase lists and trigger windows the reader reads (report_reading.PHRASE_LISTS,
SCOPE_WINDOWS): a missing list would silently read every report as saying nothing, an unknown one is a typo.
"""

from __future__ import annotations

import re
from typing import Any

from cdshooks.clinical.knowledge.schema import ReportPhrasesFile
from cdshooks.clinical.knowledge.validation import validate
from cdshooks.clinical.knowledge.yaml_files import PHRASE_SETTINGS, _Loaded
from cdshooks.clinical.report_reading import PHRASE_LISTS, SCOPE_WINDOWS, ReportGrammar, compile_grammar


def _build_report_grammar(loaded: _Loaded) -> ReportGrammar:
    names = set(map(str, loaded.data)) - PHRASE_SETTINGS
    if unknown := sorted(names - PHRASE_LISTS):
        raise loaded.error(unknown[0], f"unknown key {unknown[0]!r} (not a setting {sorted(PHRASE_SETTINGS)} nor a "
                                       "phrase list the report reader reads)")
    if missing := sorted(PHRASE_LISTS - names):
        raise loaded.error(missing[0], "phrase list is missing (the report reader needs it)")
    shape = validate(loaded, ReportPhrasesFile)
    lists = shape.model_extra or {}
    windows = shape.scope_windows.model_extra or {}
    if missing := sorted(SCOPE_WINDOWS - set(windows)):
        raise loaded.error("scope_windows", f"{missing[0]!r} is missing")
    if unknown := sorted(set(windows) - SCOPE_WINDOWS):
        raise loaded.error("scope_windows", f"unknown key {unknown[0]!r} (windows: {sorted(SCOPE_WINDOWS)})")
    data: dict[str, Any] = {name: phrases.model_dump() for name, phrases in lists.items()}
    data["scope_windows"] = {"source": shape.scope_windows.source, **windows}
    data["hedge_window"] = shape.hedge_window.model_dump()
    try:
        return compile_grammar(data)
    except re.error as exc:  # each pattern compiles alone (schema); together they must too
        raise loaded.error(None, f"the phrase lists do not compile together: {exc}") from exc
