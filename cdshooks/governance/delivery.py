"""Live or silent, per topic.

A topic is silent when CDSHOOKS_SILENT_TOPICS names it or its card file says `mode: silent` (a site's override
card may do so). A silent topic is evaluated and its card rendered and checked like any other, then recorded in
the store as `silent` ("would have shown") and never sent: a team can pilot a rule for weeks and compare it with
the live ones in the report before switching it on. Silence applies to cards only; order ratings are sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from cdshooks.catalog.loader import CardSpec
from cdshooks.settings import SettingsError, env_name

SHOWN, SILENT, SUPPRESSED = "shown", "silent", "suppressed"
DELIVERIES = (SHOWN, SILENT, SUPPRESSED)


def silent_topics(setting: Iterable[str], catalog: Mapping[str, CardSpec], known: Iterable[str]) -> frozenset[str]:
    """The silent topics: the setting's plus the cards marked `mode: silent`. SettingsError naming the variable
    when the setting names a topic no rule emits (a typo would otherwise leave a rule live)."""
    known_topics = set(known)
    named = [t for t in setting if t]
    unknown = sorted(set(named) - known_topics)
    if unknown:
        raise SettingsError(f"{env_name('silent_topics')}: unknown topic {unknown[0]!r} (known topics: "
                            f"{', '.join(sorted(known_topics))})")
    return frozenset(named) | frozenset(code for code, spec in catalog.items() if spec.mode == SILENT)
