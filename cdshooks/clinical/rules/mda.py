"""MD Anderson bone response categories (R20), as reference data for labelling serial imaging.

On a bone scan, new lesions or increased activity count as progression only after a flare is excluded;
the labels say so.
"""

from __future__ import annotations

from cdshooks.clinical.facts import ImagingResult
from cdshooks.clinical.report_reading import Change
from cdshooks.clinical.rules.imaging_evidence import bone_changes

# first match wins: a new lesion or growth anywhere is progression even when other lesions respond (MDA)
CATEGORY_BY_CHANGE: tuple[tuple[Change, str], ...] = (
    (Change.NEW_FOCI, "MDA progressive disease, but only once a flare is excluded"),
    (Change.INCREASED_UPTAKE, "MDA progressive disease, but only once a flare is excluded"),
    (Change.PROGRESSION, "MDA progressive disease, but only once a flare is excluded"),
    (Change.SCLEROTIC_CHANGE, "MDA partial response (lytic lesions turning sclerotic)"),
    (Change.DECREASED, "MDA partial response (measurable regression)"),
    (Change.STABLE, "MDA no change"),
)
CROSS_SECTIONAL_PROGRESSION = "MDA progressive disease"
NOT_ASSESSABLE = "not assessable (no comparison with an earlier study)"


def mda_label(study: ImagingResult) -> str:
    """The MDA category of the bone changes the study reports (its bone assertions)."""
    changes = bone_changes(study)
    for change, label in CATEGORY_BY_CHANGE:
        if change in changes:
            if label.startswith("MDA progressive") and not study.is_bone_scan:
                return CROSS_SECTIONAL_PROGRESSION
            return label
    return NOT_ASSESSABLE
