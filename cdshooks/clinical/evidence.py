"""The imaging evidence model: what a radiologist asserts, per region, in one imaging result (FHIR-free).

Every imaging result (report, imaging Observation, unreported study) becomes one or more `Assertion`s:
a region (bone, a named visceral site, or unspecified), a status (how the radiologist interprets it), the
lesion character and the change against a prior study, plus risk features an orthopaedic question needs.
Rules ask questions of this model (through `PatientFacts`), never of raw report text.

Status, strongest first (clinical-rules.md §7.1):
- `metastatic`: the report interprets the finding as metastasis ("consistent with / compatible with /
  diagnostic of metastasis", "widespread metastatic disease"), or a coded result says so.
- `suspicious`: "suspicious for / concerning for / worrisome for / likely / probable metastasis".
- `indeterminate`: a finding without interpretation ("sclerotic focus", "lytic lesion", "single focus of
  uptake"), or an equivocal statement ("indeterminate", "cannot exclude", "correlate with ...").
- `benign`: an alternative, benign explanation is given (bone island, degenerative change, Schmorl's node,
  haemangioma, enchondroma, non-ossifying fibroma, intraosseous lipoma, Paget disease, insufficiency or
  healing fracture, costochondritis, sarcoidosis named as the alternative, "likely benign").
- `negative`: metastasis or abnormality denied ("no evidence of osseous metastatic disease", "normal bone
  scan"; on a bone scan, "no evidence of metastatic disease").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    METASTATIC = "metastatic"
    SUSPICIOUS = "suspicious"
    INDETERMINATE = "indeterminate"
    BENIGN = "benign"
    NEGATIVE = "negative"


# strongest first: the status a whole result has for a region when it asserts several things about it
STATUS_ORDER: tuple[Status, ...] = (Status.METASTATIC, Status.SUSPICIOUS, Status.INDETERMINATE, Status.BENIGN,
                                    Status.NEGATIVE)

BONE = "bone"
UNSPECIFIED = "unspecified"  # a statement about metastasis that names no region ("no metastatic disease")
# visceral regions use plain names: liver, lung, pleura, brain, adrenal, lymph-node, peritoneum, other-organ

# risk features the reader can name for a bone lesion (R24, R25)
CORTICAL = "cortical-involvement"
LARGE = "large"  # size given >= the orthopaedic size parameter, or described as large / extensive
IMPENDING_FRACTURE = "impending-fracture"
PATHOLOGIC_FRACTURE = "pathologic-fracture"
EPIDURAL = "epidural-extension"  # epidural tumour, canal compromise, cord or cauda equina compression
VERTEBRAL = "vertebral"  # the lesion is in a vertebra / the spine
WEIGHT_BEARING = "weight-bearing"  # femur, tibia, pelvis / acetabulum, humerus


def strongest(statuses: list[Status] | tuple[Status, ...] | set[Status]) -> Status | None:
    """The strongest status of several (None for none)."""
    for status in STATUS_ORDER:
        if status in statuses:
            return status
    return None


@dataclass(frozen=True)
class Assertion:
    region: str  # BONE | a visceral region name | UNSPECIFIED
    status: Status
    character: str | None = None  # lytic | blastic | mixed (report_reading.LesionCharacter values)
    changes: frozenset[str] = frozenset()  # report_reading.Change values: new-foci, increased-uptake, ...
    site: str | None = None  # anatomical words when given ("T9", "left femur")
    features: frozenset[str] = frozenset()  # risk features above

    @property
    def is_bone(self) -> bool:
        return self.region == BONE
