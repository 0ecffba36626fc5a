"""Overrides by the CDS Hooks 3.0 ballot's non-adherence categories.

Each override reason of the card catalog names the top-level category of the ballot's
`non-adherence-reason-codes` (AHRQ CDSiC 2025 taxonomy) it belongs to (`category:` in cards/<topic>.yaml), so
overrides of different cards can be compared: "not applicable to this patient" asks for a sharper trigger,
"recipient disagrees with the evidence" for a look at the evidence, "not feasible" for a workflow fix.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from html import escape

from cdshooks.analytics.outcomes import percent, table
from cdshooks.catalog.loader import NON_ADHERENCE_SYSTEM, CardSpec

UNMAPPED = "(reason without a category)"
# the ballot's displays of its six top-level codes
CATEGORY_DISPLAY = {
    "cds-not-applicable": "CDS does not apply to the patient",
    "cds-suboptimal-context": "CDS delivered in a suboptimal context",
    "recipient-disagrees-evidence": "Recipient disagrees with the evidence",
    "recipient-concerns-outcomes": "Recipient has concerns about outcomes",
    "does-not-align-preferences": "Does not align with patient preferences",
    "not-convenient-feasible": "Not convenient or feasible",
}


def category_of(catalog: Mapping[str, CardSpec]) -> dict[tuple[str, str], str]:
    """(topic, override reason code) -> its non-adherence category."""
    return {(topic, reason.code): reason.category for topic, spec in catalog.items()
            for reason in spec.override_reasons}


def category_counts(overrides: Iterable[tuple[str, str | None]], catalog: Mapping[str, CardSpec]) -> dict[str, int]:
    """Overrides per category, most first, from (topic, override reason code) pairs."""
    lookup = category_of(catalog)
    counts = Counter(lookup.get((topic, code or ""), UNMAPPED) for topic, code in overrides)
    return dict(counts.most_common())


def categories_html(counts: Mapping[str, int]) -> str:
    if not counts:
        return ""
    total = sum(counts.values())
    rows = [(CATEGORY_DISPLAY.get(name, name), name, count, percent(count / total)) for name, count in counts.items()]
    return ("<section><h2>Overrides by non-adherence category</h2><p class=\"muted\">Each override reason belongs "
            "to a category of the CDS Hooks 3.0 ballot's override vocabulary "
            f"(<code>{escape(NON_ADHERENCE_SYSTEM)}</code>), so overrides of different cards compare: <em>does not "
            "apply</em> asks for a sharper trigger, <em>disagrees with the evidence</em> for a review of the "
            "evidence, <em>not feasible</em> for a workflow fix.</p>"
            f"{table(('category', 'code', 'overrides', 'share'), rows)}</section>")
