"""The questions result-time rules ask of one imaging result, answered from its assertions
(cdshooks.clinical.evidence): its status for bone, the bone lesion's character and change against a prior
study, visceral progression, and the orthopaedic risk features of a lesion.

A result built without assertions (a unit test, an unreported study) is read as one bone assertion made from its
fields (`status_of`, `character`, `changes`, `site`), without risk features: those come only from the reader's
assertions, never from raw text here.
"""

from __future__ import annotations

from cdshooks.clinical.evidence import (
    BONE,
    CORTICAL,
    EPIDURAL,
    IMPENDING_FRACTURE,
    LARGE,
    PATHOLOGIC_FRACTURE,
    UNSPECIFIED,
    VERTEBRAL,
    WEIGHT_BEARING,
    Assertion,
    Status,
    strongest,
)
from cdshooks.clinical.facts import ImagingResult
from cdshooks.clinical.report_reading import Change, LesionCharacter
from cdshooks.clinical.wording import phrase_key

# how a card names the status of an assertion ("read as {status}")
STATUS_WORD = {status: phrase_key(f"status-{status.value}") for status in Status}
POSITIVE = frozenset({Status.METASTATIC, Status.SUSPICIOUS})
WORSENING = frozenset({Change.INCREASED_UPTAKE, Change.NEW_FOCI, Change.PROGRESSION})
# on CT/MRI/PET a new or growing lesion is MDA progression (seed 003); new sclerosis can be healing (MDA PR:
# "sclerosis of lesions previously undetected"), so a bone lesion counts only with a lytic component
GROWTH = frozenset({Change.NEW_FOCI, Change.PROGRESSION})
LYTIC_COMPONENT = frozenset({LesionCharacter.LYTIC, LesionCharacter.MIXED})
BLASTIC_COMPONENT = frozenset({LesionCharacter.BLASTIC, LesionCharacter.MIXED})
RISK_FEATURES = frozenset({CORTICAL, LARGE, IMPENDING_FRACTURE, PATHOLOGIC_FRACTURE, EPIDURAL})
SITE_FEATURES = frozenset({VERTEBRAL, WEIGHT_BEARING})
NOT_VISCERAL = frozenset({BONE, UNSPECIFIED})


def bone_assertions(result: ImagingResult) -> tuple[Assertion, ...]:
    """What the result asserts about bone. On a bone scan, a statement naming no region is about bone (the
    study's context: "no evidence of metastatic disease" on a bone scan is a negative bone scan). Worked out
    once per result (the rules ask about each result many times)."""
    memo = result.memo
    found: tuple[Assertion, ...] | None = memo.get("bone_assertions")
    if found is None:
        found = memo["bone_assertions"] = _bone_assertions(result)
    return found


_BONE_SCAN_REGIONS = frozenset({BONE, UNSPECIFIED})
_BONE_REGION = frozenset({BONE})


def _bone_assertions(result: ImagingResult) -> tuple[Assertion, ...]:
    if result.assertions:
        regions = _BONE_SCAN_REGIONS if result.is_bone_scan else _BONE_REGION
        return tuple([a for a in result.assertions if a.region in regions])
    status = result.status_of(BONE)
    if status is None:
        return ()
    return (Assertion(BONE, status, character=result.character.value if result.character else None,
                      changes=frozenset(c.value for c in result.changes), site=result.site,
                      features=frozenset()),)


def bone_status(result: ImagingResult) -> Status | None:
    """The strongest status the result asserts about bone (None: it says nothing about bone); once per result."""
    if not result.assertions or not result.is_bone_scan:
        # its bone assertions are those `status_of(BONE)` reads (the one made from its fields, or those whose
        # region is bone): the same strongest status, which the result already keeps
        return result.status_of(BONE)
    memo = result.memo
    if "bone_status" not in memo:
        memo["bone_status"] = strongest([a.status for a in bone_assertions(result)])
    found: Status | None = memo["bone_status"]
    return found


def bone_changes(result: ImagingResult) -> frozenset[Change]:
    """Changes against a prior study the result reports for bone (any assertion, or the legacy field); once per
    result (flare, recurrence and discordance ask)."""
    memo = result.memo
    found: frozenset[Change] | None = memo.get("bone_changes")
    if found is None:
        changes = {Change(c) for a in bone_assertions(result) for c in a.changes if c in Change._value2member_map_}
        found = memo["bone_changes"] = frozenset(changes) if result.assertions else frozenset(changes) | result.changes
    return found


def bone_characters(result: ImagingResult, statuses: frozenset[Status] | None = None) -> set[LesionCharacter]:
    """Lesion characters of the bone assertions (optionally only those with one of `statuses`)."""
    return {LesionCharacter(a.character) for a in bone_assertions(result)
            if a.character is not None and a.character in LesionCharacter._value2member_map_
            and (statuses is None or a.status in statuses)}


NOT_METASTATIC = frozenset({Status.NEGATIVE, Status.BENIGN})


def negative_for_bone_metastasis(result: ImagingResult) -> bool:
    """The result denies bone metastasis: its bone statements are negative or benign only ("no skeletal
    metastases; degenerative uptake in both knees" is a negative study)."""
    return bone_status(result) in NOT_METASTATIC


def is_negative_bone_scan(result: ImagingResult) -> bool:
    return result.is_bone_scan and bone_status(result) in NOT_METASTATIC  # `negative_for_bone_metastasis`


def discordant_positive(result: ImagingResult) -> Assertion | None:
    """A CT/PET/MRI bone assertion that stands against a negative bone scan (R08, §7.2): metastatic, or
    suspicious with a lytic component (the lesions a bone scan misses). Once per result (R08 asks it of every
    study, then again through `unresolved_finding`)."""
    if not result.is_cross_sectional:
        return None
    memo = result.memo
    if "discordant_positive" not in memo:
        memo["discordant_positive"] = _discordant_positive(result)
    found: Assertion | None = memo["discordant_positive"]
    return found


def _discordant_positive(result: ImagingResult) -> Assertion | None:
    for assertion in bone_assertions(result):
        if assertion.status is Status.METASTATIC:
            return assertion
    for assertion in bone_assertions(result):
        if assertion.status is Status.SUSPICIOUS and assertion.character in LYTIC_COMPONENT:
            return assertion
    return None


_UNRESOLVED = frozenset({Status.INDETERMINATE, Status.SUSPICIOUS})


def unresolved_finding(result: ImagingResult) -> Assertion | None:
    """A CT/PET/MRI bone finding that is neither metastatic nor suspicious-lytic nor explained: indeterminate,
    or suspicious without a lytic component. Next to a negative bone scan it needs correlation, not treatment."""
    if not result.is_cross_sectional or discordant_positive(result) is not None:
        return None
    return next((a for a in bone_assertions(result) if a.status in _UNRESOLVED), None)


def cross_sectional_progression(result: ImagingResult, known_regions: frozenset[str] | set[str] = frozenset(),
                                visceral_known: bool = False) -> str | None:
    """Progression a CT/MRI/PET shows (MDA criteria on CT/MRI, seed 003; §7.2): a visceral metastasis that is
    new (its region not in `known_regions`, or reported new) or growing, or a new or growing bone lesion with a
    lytic component. With `visceral_known` (coded visceral metastases of unknown region) a visceral finding
    counts only when reported new or growing. Returns the region."""
    if not result.is_cross_sectional:
        return None
    for assertion in result.assertions:
        if assertion.region in NOT_VISCERAL or assertion.status not in POSITIVE:
            continue
        changes = {Change(c) for c in assertion.changes if c in Change._value2member_map_}
        if changes & (GROWTH | WORSENING):
            return assertion.region
        if not changes and not visceral_known and assertion.region not in known_regions:  # no comparison given
            return assertion.region
    for assertion in bone_assertions(result):
        growing = {Change(c) for c in assertion.changes if c in Change._value2member_map_} & GROWTH
        if growing and assertion.character in LYTIC_COMPONENT and assertion.status not in {Status.BENIGN,
                                                                                            Status.NEGATIVE}:
            return BONE
    return None


def visceral_regions(result: ImagingResult) -> set[str]:
    """Visceral regions the result calls metastatic or suspicious."""
    return {a.region for a in result.assertions if a.region not in NOT_VISCERAL and a.status in POSITIVE}


_METASTATIC = frozenset({Status.METASTATIC})


def at_risk_lesion(result: ImagingResult, established: bool) -> Assertion | None:
    """A bone lesion at a weight-bearing or vertebral site with a described risk (R24, §7.2): the lesion must be
    called metastatic, or suspicious when bone metastasis is already established."""
    allowed = POSITIVE if established else _METASTATIC
    for assertion in bone_assertions(result):
        if assertion.status in allowed and assertion.features & SITE_FEATURES and assertion.features & RISK_FEATURES:
            return assertion
    return None
