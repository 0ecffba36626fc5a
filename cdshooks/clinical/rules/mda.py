"""MD Anderson bone response categories (R20), as reference data for labelling serial imaging.

On a bone scan, new lesions or increased activity count as progression only after a flare is excluded;
the labels say so. The words of each category are in the phrase book (cards/_phrases.yaml, `mda-*`).
Source: Hamaoka T et al., J Clin Oncol 2004;22:2942-2953 (MDA criteria); Costelloe CM et al., J Cancer
2010;1:80-92 (table).
"""

from __future__ import annotations

from cdshooks.clinical.facts import ImagingResult
from cdshooks.clinical.report_reading import Change
from cdshooks.clinical.rules.imaging_evidence import bone_changes
from cdshooks.clinical.wording import Phrase, PhraseKey, phrase_key

PROGRESSION_UNLESS_FLARE = phrase_key("mda-progression-unless-flare")
PARTIAL_SCLEROTIC = phrase_key("mda-partial-response-sclerotic")
PARTIAL_REGRESSION = phrase_key("mda-partial-response-regression")
NO_CHANGE = phrase_key("mda-no-change")
CROSS_SECTIONAL_PROGRESSION = phrase_key("mda-progression")
NOT_ASSESSABLE = phrase_key("mda-not-assessable")

# first match wins: a new lesion or growth anywhere is progression even when other lesions respond (MDA)
CATEGORY_BY_CHANGE: tuple[tuple[Change, PhraseKey], ...] = (
    (Change.NEW_FOCI, PROGRESSION_UNLESS_FLARE),
    (Change.INCREASED_UPTAKE, PROGRESSION_UNLESS_FLARE),
    (Change.PROGRESSION, PROGRESSION_UNLESS_FLARE),
    (Change.SCLEROTIC_CHANGE, PARTIAL_SCLEROTIC),
    (Change.DECREASED, PARTIAL_REGRESSION),
    (Change.STABLE, NO_CHANGE),
)


def mda_label(study: ImagingResult) -> Phrase:
    """The MDA category of the bone changes the study reports (its bone assertions)."""
    changes = bone_changes(study)
    for change, label in CATEGORY_BY_CHANGE:
        if change in changes:
            if label is PROGRESSION_UNLESS_FLARE and not study.is_bone_scan:
                return CROSS_SECTIONAL_PROGRESSION()
            return label()
    return NOT_ASSESSABLE()
