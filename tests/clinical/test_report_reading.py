"""Tests for the negation-aware radiology report reader (cdshooks.clinical.report_reading).

Focused unit tests; the per-class accuracy on the labelled corpora is in test_report_corpus.py.
"""

from __future__ import annotations

import random
import time
from dataclasses import FrozenInstanceError
from pathlib import Path
from typing import Any

import pytest
import yaml

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
    Status,
    strongest,
)
from cdshooks.clinical.report_reading import (
    PHRASES_PATH,
    BoneMetResult,
    Change,
    LesionCharacter,
    ReportReading,
    _grammar,
    _read,
    read_report,
)

CORPUS_PATH = Path(__file__).resolve().parent.parent / "data" / "report_sentences.yaml"


FUZZ_WORDS = (
    "no not without lytic sclerotic blastic mixed metastasis metastases osseous bone spine rib liver new "
    "increased uptake stable unchanged cannot exclude equivocal but however which previously now sclerotic "
    "rim flare progression resolved IMPRESSION: HISTORY:"
)

POS, NEG, IND, UNK = (
    BoneMetResult.POSITIVE,
    BoneMetResult.NEGATIVE,
    BoneMetResult.INDETERMINATE,
    BoneMetResult.UNKNOWN,
)


def _corpus() -> list[dict[str, Any]]:
    items = yaml.safe_load(CORPUS_PATH.read_text(encoding="utf-8"))
    assert isinstance(items, list)
    return items


# ------------------------------------------------------------------------------------------------
# (a) corpus shape
# ------------------------------------------------------------------------------------------------


def test_corpus_items_have_the_evidence_format() -> None:
    """Corpus accuracy lives in test_report_corpus.py; here only the shape the speed test relies on."""
    items = _corpus()
    assert len(items) >= 350
    assert all(isinstance(item["text"], str) and item["modality"] for item in items)


# ------------------------------------------------------------------------------------------------
# (b) unit tests
# ------------------------------------------------------------------------------------------------


def _r(text: str | None) -> ReportReading:
    return read_report(text)


@pytest.mark.parametrize("text", [None, "", "   ", "\n\n\t", "....", "?????", "IMPRESSION:", "1.\n2.\n3."])
def test_empty_or_contentless_input_is_unknown(text: str | None) -> None:
    reading = _r(text)
    assert reading == ReportReading(BoneMetResult.UNKNOWN, None, frozenset(), False, False, False)


@pytest.mark.parametrize(
    "text",
    [
        "\x00\x01\x02 lytic \x7f",
        "骨转移 ✓ 🦴 metastasis?? ((( [[[ ***",
        "ℕ𝕠 𝕖𝕧𝕚𝕕𝕖𝕟𝕔𝕖 of osseous metastatic disease",
        "\\1 \\g<0> (?P<x>) $^ ** +? {2,}",
        "no " * 5000,
        "metastasis " * 5000,
        ";;;;:::,,,,but but however which which",
        "T1 T2 L5/S1 C2-C3 t12. s1? 4.7 cm vs. e.g. i.e.",
    ],
)
def test_odd_input_never_raises(text: str) -> None:
    reading = _r(text)
    assert isinstance(reading, ReportReading)
    assert isinstance(reading.result, BoneMetResult)
    _read(text, _grammar())  # without the safety net: no hidden exception either


def test_random_fuzz_never_raises() -> None:
    rng = random.Random(20260601)
    vocabulary = [*FUZZ_WORDS.split(), ";", ":", ",", ".", "?", "-", "/", "1.", "2)", "é", "ß", "🦴", "\n"]
    for _ in range(300):
        words = [rng.choice(vocabulary) for _ in range(rng.randint(0, 60))]
        text = " ".join(words) + "".join(chr(rng.randint(0, 0x2FFF)) for _ in range(rng.randint(0, 20)))
        assert isinstance(_read(text, _grammar()), ReportReading)  # unguarded: must not raise


def test_huge_input_is_read_quickly_and_keeps_the_impression() -> None:
    filler = "The liver, spleen and kidneys are unremarkable. " * 40_000  # ~2 MB
    text = filler + "\nIMPRESSION: Multiple sclerotic osseous metastases."
    start = time.perf_counter()
    reading = _r(text)
    assert time.perf_counter() - start < 5.0
    assert reading.result is POS
    assert reading.character is LesionCharacter.BLASTIC


def test_non_string_input_is_unknown() -> None:
    assert _r(b"lytic metastasis").result is UNK  # type: ignore[arg-type]
    assert _r(42).result is UNK  # type: ignore[arg-type]


# --- the headline phrases ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "result"),
    [
        ("Highly suspicious for osseous metastatic disease.", POS),
        ("Findings consistent with osseous metastatic disease.", POS),
        ("Compatible with skeletal metastases.", POS),
        ("No evidence of osseous metastatic disease.", NEG),
        ("No scintigraphic evidence of skeletal metastases.", NEG),
        ("Normal whole body bone scan.", NEG),
        ("Degenerative uptake in knees, no suspicious osseous lesion.", NEG),
        ("Liver metastases.", UNK),
        ("Multiple metastases in the lungs and brain.", UNK),
    ],
)
def test_headline_phrases(text: str, result: BoneMetResult) -> None:
    assert _r(text).result is result


# --- negation scope -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "No lytic lesion, but a sclerotic metastasis is present in T8.",
        "No lytic lesion; sclerotic metastasis in T8.",
        "No lytic lesion is seen. However, there is a sclerotic metastasis in T8.",
        "No fracture, although there is a sclerotic metastasis in T8.",
    ],
)
def test_negation_scope_ends_at_terminators(text: str) -> None:
    reading = _r(text)
    assert reading.result is POS
    assert reading.character is LesionCharacter.BLASTIC


@pytest.mark.parametrize(
    "text",
    [
        "No evidence of lytic or blastic lesions.",
        "There is no lytic, sclerotic or mixed osseous lesion.",
        "Without focal osseous abnormality.",
        "Negative for bone metastases.",
        "Free of skeletal metastatic disease.",
        "Absence of osseous metastases.",
        "Osseous metastases are not seen.",
        "Bone metastases are not identified.",
        "Metastatic disease to bone is unlikely.",
    ],
)
def test_negation_triggers_deny(text: str) -> None:
    reading = _r(text)
    assert reading.result is NEG
    assert reading.character is None


def test_character_only_from_affirmed_mentions() -> None:
    assert _r("No lytic lesion in the spine.").character is None
    assert _r("No lytic lesions. Multiple sclerotic metastases.").character is LesionCharacter.BLASTIC
    assert _r("A lytic lesion in T9 and a sclerotic lesion in L2.").character is LesionCharacter.MIXED
    assert _r("Mixed lytic-sclerotic metastasis in the pelvis.").character is LesionCharacter.MIXED
    assert _r("Destructive lesion of the left ilium.").character is LesionCharacter.LYTIC


def test_post_negation_resolved_is_negative_with_decrease() -> None:
    reading = _r("The previously seen sternal metastasis has resolved.")
    assert reading.result is NEG
    assert reading.changes == {Change.DECREASED}


def test_relative_clause_uncertainty_reaches_back() -> None:
    assert _r("Sclerotic focus in L3, which is indeterminate.").result is IND


# --- pseudo-negation -----------------------------------------------------------------------------


def test_no_change_is_not_a_negation() -> None:
    reading = _r("No change in the known sclerotic metastases.")
    assert reading.result is POS
    assert reading.character is LesionCharacter.BLASTIC
    assert reading.changes == {Change.STABLE}


def test_not_only_is_not_a_negation() -> None:
    assert _r("Metastases not only in the spine but also in the ribs.").result is POS


def test_no_increase_keeps_the_lesion_and_denies_only_the_change() -> None:
    reading = _r("No increase in the size of the known lytic metastases.")
    assert reading.result is POS
    assert reading.character is LesionCharacter.LYTIC
    assert not reading.changes & {Change.PROGRESSION, Change.INCREASED_UPTAKE}


def test_no_progression_denies_progression_only() -> None:
    reading = _r("No progression of the known osseous metastases.")
    assert reading.result is POS
    assert Change.PROGRESSION not in reading.changes


def test_no_new_lesions_is_not_new_foci() -> None:
    alone = _r("No new lesions.")
    assert alone.changes == frozenset()
    assert alone.result is UNK  # neither affirms nor denies bone metastasis
    with_stable = _r("No new lesions. The sclerotic metastases are stable.")
    assert with_stable.changes == {Change.STABLE}
    assert with_stable.result is POS
    assert _r("No evidence of new osseous metastases.").changes == frozenset()


def test_receptor_negative_is_not_a_negation() -> None:
    assert _r("Triple negative breast cancer with multiple osseous metastases.").result is POS


# --- uncertainty ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Cannot exclude metastasis in the left 8th rib.",
        "A metastasis in the left 8th rib cannot be excluded.",
        "Equivocal focus in the left 8th rib.",
        "Indeterminate sclerotic focus in the left iliac bone.",
        "Possibly a metastasis in the sternum.",
        "The sternal uptake may represent a metastasis.",
        "Nonspecific uptake in the left 8th rib.",
        "Focal uptake at L4, degenerative versus metastatic.",
        "Recommend MRI to rule out metastasis in the sacrum.",
        "Solitary focus of increased uptake in the sternum.",
        "Equivocal bone scan.",
    ],
)
def test_uncertainty_is_indeterminate(text: str) -> None:
    assert _r(text).result is IND


def test_clear_affirmation_elsewhere_beats_uncertainty() -> None:
    text = "Multiple sclerotic metastases in the spine. A further focus in the left femur is indeterminate."
    assert _r(text).result is POS


def test_uncertainty_beats_a_denial_elsewhere() -> None:
    text = "No lytic lesions. A small sclerotic focus in T7 is indeterminate."
    assert _r(text).result is IND


def test_denial_with_benign_focus_is_negative() -> None:
    reading = _r("No evidence of osseous metastases. Single focus of uptake in the right knee, degenerative.")
    assert reading.result is NEG
    assert reading.solitary_focus


def test_benign_explanation_in_the_next_sentence() -> None:
    assert _r("Focal uptake in the left knee. This is likely degenerative.").result is NEG


# --- sites ------------------------------------------------------------------------------------------


def test_affirmation_and_negation_of_different_sites() -> None:
    assert _r("Multiple hepatic metastases. No osseous metastases.").result is NEG
    assert _r("Sclerotic metastasis in T8. No liver metastases.").result is POS
    assert _r("Osseous metastases are present; there are no hepatic metastases.").result is POS
    assert _r("No bone metastases, but new liver metastases have developed.").result is NEG
    assert _r("Hepatic and osseous metastases.").result is POS


def test_changes_of_other_organs_are_ignored() -> None:
    reading = _r("The liver metastases have increased in size. Stable sclerotic bone metastases.")
    assert reading.result is POS
    assert reading.changes == {Change.STABLE}


def test_body_region_pelvis_is_not_a_bone() -> None:
    assert _r("CT chest, abdomen and pelvis: findings consistent with metastatic disease.").result is UNK


# --- changes ----------------------------------------------------------------------------------------


def test_flare_like_changes() -> None:
    reading = _r(
        "Compared with the prior scan, uptake in the known skeletal metastases has increased and there "
        "are two new foci in the ribs, 6 weeks after starting letrozole; flare rather than progression."
    )
    assert reading.result is POS
    assert reading.changes == {Change.INCREASED_UPTAKE, Change.NEW_FOCI}


def test_increased_uptake_without_comparison_is_a_description_not_a_change() -> None:
    assert _r("Focus of increased uptake in the T10 vertebral body.").changes == frozenset()


@pytest.mark.parametrize(
    "text",
    [
        "The previously lytic lesions are now sclerotic.",
        "Lytic metastasis with a new sclerotic rim.",
        "Treated sclerotic metastases in the spine.",
        "Sclerotic healing of the lytic rib metastases.",
    ],
)
def test_sclerotic_change(text: str) -> None:
    reading = _r(text)
    assert Change.SCLEROTIC_CHANGE in reading.changes
    assert reading.result is POS
    assert reading.character is not LesionCharacter.BLASTIC


def test_progression_and_decrease() -> None:
    assert Change.PROGRESSION in _r("Progressive osseous metastatic disease.").changes
    assert Change.PROGRESSION in _r("The lytic metastasis in T9 has increased in size.").changes
    assert Change.DECREASED in _r("Decreased uptake in the known bone metastases.").changes
    assert Change.DECREASED not in _r("Decreased T1 signal in the L2 vertebral body, metastasis.").changes



def test_known_lesions_are_known_metastases() -> None:
    reading = _r("Compared with the prior study there is increased uptake in the known spinal and pelvic lesions.")
    assert reading.result is POS
    assert reading.changes == {Change.INCREASED_UPTAKE}
    assert _r("No increase in the size or number of the known bone lesions.").result is POS
    assert _r("There are no known bone lesions.").result is not POS  # "no known" is not a known lesion


def test_increase_in_number_and_intensity() -> None:
    reading = _r(
        "Interval increase in the number and intensity of skeletal lesions, compatible with progressive disease."
    )
    assert reading.result is POS  # progressive disease of skeletal lesions is metastatic disease
    assert reading.changes == {Change.NEW_FOCI, Change.INCREASED_UPTAKE, Change.PROGRESSION}
    assert _r("More numerous sclerotic metastases.").changes == {Change.NEW_FOCI, Change.PROGRESSION}
    assert _r("Increase in the number of hepatic lesions; no new bone lesions.").changes == frozenset()


def test_progressive_disease_only_affirms_when_affirmed() -> None:
    assert _r("Stable bone scan; no progressive disease.").result is not POS
    assert _r("Liver lesions, compatible with progressive disease.").result is UNK


def test_uncertain_nature_keeps_the_change() -> None:
    reading = _r("Compared with the prior study there is a new focus of uptake in the right 6th rib, indeterminate.")
    assert reading.result is IND
    assert reading.changes == {Change.NEW_FOCI}
    assert Change.NEW_FOCI not in _r("Possible new focus in the left 6th rib compared with the prior study.").changes


# --- flags ------------------------------------------------------------------------------------------


def test_flags() -> None:
    many = _r("Multiple sclerotic metastases throughout the spine.")
    assert many.multifocal and not many.solitary_focus
    one = _r("Solitary lytic lesion in the sternum, suspicious for metastasis.")
    assert one.solitary_focus and not one.multifocal
    assert not _r("Multiple liver lesions. Single sclerotic bone metastasis in T9.").multifocal
    thin = _r("Diffuse osteopenia without focal lytic or blastic lesion.")
    assert thin.osteopenia and not thin.multifocal and thin.result is NEG
    assert _r("Generalised demineralisation of the skeleton.").osteopenia
    assert _r("Osteoporotic compression fracture of L1.").osteopenia
    assert not _r("No osteopenia.").osteopenia


# --- text handling ----------------------------------------------------------------------------------


def test_headers_lists_and_history_sections() -> None:
    text = "CLINICAL HISTORY: breast cancer, rule out bone mets.\nIMPRESSION:\n1. Normal bone scan.\n2. Nil."
    assert _r(text).result is NEG
    assert _r("INDICATION: rule out osseous metastases").result is UNK


def test_case_punctuation_and_line_breaks() -> None:
    assert _r("NO EVIDENCE OF OSSEOUS METASTATIC DISEASE!!!").result is NEG
    wrapped = "There are multiple\nsclerotic lesions in the\nthoracic spine consistent\nwith metastases."
    reading = _r(wrapped)
    assert reading.result is POS and reading.character is LesionCharacter.BLASTIC
    assert _r("Tumour deposits in the sacrum.").result is POS
    assert _r("Lytic lesion in T9 \u2013 highly suspicious for metastasis\u2026").result is POS


def test_windows_line_endings_join_wrapped_lines() -> None:
    reading = _r("FINDINGS:\r\nNo lytic lesion in the spine\r\nbut a sclerotic metastasis at T8.\r\n")
    assert reading.result is POS
    assert reading.character is LesionCharacter.BLASTIC


def test_question_marks() -> None:
    assert _r("?metastasis in the left 5th rib").result is IND
    assert _r("Sclerotic focus in T10 - metastasis?").result is IND


def test_reading_is_immutable() -> None:
    reading = _r("Multiple osseous metastases.")
    assert isinstance(reading.changes, frozenset)
    with pytest.raises(FrozenInstanceError):
        reading.result = NEG  # type: ignore[misc]


# --- phrase data and speed -----------------------------------------------------------------------


def test_phrase_file_lists_have_sources_and_patterns() -> None:
    data = yaml.safe_load(PHRASES_PATH.read_text(encoding="utf-8"))
    lists = {k: v for k, v in data.items() if isinstance(v, dict) and "patterns" in v}
    assert len(lists) >= 30
    for name, entry in lists.items():
        assert entry.get("source"), f"{name} has no source"
        assert entry["patterns"] and all(isinstance(p, str) and p for p in entry["patterns"]), name
    text = PHRASES_PATH.read_text(encoding="utf-8")
    for name in lists:  # every list is introduced by a one-line comment
        before = text[: text.index(f"\n{name}:\n")].rstrip("\n").rsplit("\n", 1)[-1]
        assert before.startswith("#"), f"{name} has no comment line"


def test_speed_budget() -> None:
    texts = [item["text"] for item in _corpus()]
    read_report("warm up")
    start = time.perf_counter()
    for _ in range(3):
        for text in texts:
            read_report(text)
    per_report = (time.perf_counter() - start) / (3 * len(texts))
    print(f"\nreport reader: {per_report * 1e6:.0f} us per corpus report")
    assert per_report < 0.002  # generous bound for slow CI machines; typical is < 0.2 ms


# --- the evidence model: per-region assertions -------------------------------------------------------


def _bone(text: str, modality: str | None = None) -> Status | None:
    return strongest([a.status for a in read_report(text, modality=modality).assertions if a.region == BONE])


def _region(text: str, region: str, modality: str | None = None) -> Status | None:
    return strongest([a.status for a in read_report(text, modality=modality).assertions if a.region == region])


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("Lytic lesion in T9, consistent with metastasis.", Status.METASTATIC),
        ("Widespread skeletal metastases.", Status.METASTATIC),
        ("Metastatic disease to bone.", Status.METASTATIC),
        ("Lytic lesion in T9, suspicious for metastasis.", Status.SUSPICIOUS),
        ("Sclerotic lesion in L2, likely metastatic.", Status.SUSPICIOUS),
        ("Probable osseous metastasis in the sacrum.", Status.SUSPICIOUS),
        ("Metastatic involvement of the right iliac bone is likely.", Status.SUSPICIOUS),
        ("Sclerotic focus in the left ilium.", Status.INDETERMINATE),
        ("Lytic lesion in the T9 vertebral body.", Status.INDETERMINATE),
        ("Diffuse sclerosis of the axial skeleton.", Status.INDETERMINATE),
        ("Sclerotic lesion in T10 may represent a metastasis.", Status.INDETERMINATE),
        ("Sclerotic focus in the right femoral head, consistent with a bone island.", Status.BENIGN),
        ("Sclerotic lesion in the left ilium, likely benign.", Status.BENIGN),
        ("Endplate sclerosis at L4-L5, more likely degenerative than metastatic.", Status.BENIGN),
        ("Compression fracture of L1, osteoporotic; pathologic fracture is not suspected.", Status.BENIGN),
        ("Lytic lesion in the left distal femur, consistent with a non-ossifying fibroma.", Status.BENIGN),
        ("Sclerotic focus in T9. This is likely a bone island.", Status.BENIGN),
        ("No osseous metastases.", Status.NEGATIVE),
        ("Normal bone scan.", Status.NEGATIVE),
    ],
)
def test_bone_status(text: str, status: Status) -> None:
    assert _bone(text, "CT") is status


def test_morphology_alone_is_not_positive() -> None:
    reading = read_report("Multiple lytic lesions throughout the spine and pelvis.", modality="CT")
    assert reading.result is IND
    assert reading.character is LesionCharacter.LYTIC


def test_result_is_derived_from_the_bone_status() -> None:
    assert _r("Lytic lesion in T9, suspicious for metastasis.").result is POS
    assert _r("Sclerotic focus in the femoral head, consistent with a bone island.").result is NEG
    assert _r("Liver metastases.").result is UNK


def test_bone_scan_context_reads_an_unplaced_statement_as_bone() -> None:
    assert _bone("Impression: No evidence of metastatic disease.", "NM") is Status.NEGATIVE
    assert _bone("Widespread metastatic disease.", "NM") is Status.METASTATIC
    reading = read_report("Widespread metastatic disease.", procedure_class="BONE_SCAN_WB")
    assert reading.result is POS


def test_cross_sectional_context_keeps_an_unplaced_statement_unspecified() -> None:
    assert _bone("Widespread metastatic disease.", "CT") is None
    assert _region("Widespread metastatic disease.", UNSPECIFIED, "CT") is Status.METASTATIC
    # a denial of metastatic disease anywhere covers bone too
    assert _bone("No evidence of metastatic disease.", "CT") is Status.NEGATIVE
    assert _region("No evidence of metastatic disease.", UNSPECIFIED, "CT") is Status.NEGATIVE


def test_contrast_clause_wins_over_a_denial() -> None:
    reading = read_report("No osseous metastases; however, a new lytic lesion in T9.", modality="CT")
    assert reading.result is IND
    top = [a for a in reading.assertions if a.region == BONE and a.status is Status.INDETERMINATE]
    assert top and top[0].site == "T9" and VERTEBRAL in top[0].features
    assert top[0].character == "lytic" and "new-foci" in top[0].changes


def test_impression_decides_over_findings() -> None:
    text = "FINDINGS: 7 mm sclerotic focus in T9. IMPRESSION: Bone island. No osseous metastases."
    assert _bone(text, "CT") is Status.BENIGN
    text = "FINDINGS: Several sclerotic foci in the pelvis. CONCLUSION: Sclerotic metastases in the pelvis."
    assert _bone(text, "CT") is Status.METASTATIC
    text = "HISTORY: lytic lesion in T9 on outside CT. FINDINGS: Normal bone scan."
    assert _bone(text, "NM") is Status.NEGATIVE


def test_visceral_regions_are_not_bone() -> None:
    text = "Multiple lytic-appearing hypodense lesions in the liver."
    assert _bone(text, "CT") is None
    assert _region(text, "liver", "CT") is Status.INDETERMINATE
    text = "Hepatic and osseous metastases; enlarged axillary lymph nodes suspicious for nodal metastases."
    assert _bone(text, "CT") is Status.METASTATIC
    assert _region(text, "liver", "CT") is Status.METASTATIC
    assert _region(text, "lymph-node", "CT") is Status.SUSPICIOUS
    assert _region("No pulmonary or hepatic metastases.", "lung", "CT") is Status.NEGATIVE


def test_risk_features_and_site() -> None:
    reading = read_report("Expansile lytic lesion of the left proximal femur measuring 3.5 cm with cortical "
                          "destruction, in keeping with metastasis; impending pathological fracture.", modality="CT")
    (bone,) = [a for a in reading.assertions if a.region == BONE]
    assert bone.status is Status.METASTATIC
    assert bone.site == "left proximal femur"
    assert {WEIGHT_BEARING, CORTICAL, LARGE, IMPENDING_FRACTURE} <= bone.features
    reading = read_report("Lytic metastasis of the T9 vertebral body with epidural extension.", modality="MR")
    (bone,) = [a for a in reading.assertions if a.region == BONE]
    assert {VERTEBRAL, EPIDURAL} <= bone.features
    reading = read_report("Lytic metastasis in T9 without epidural extension or pathologic fracture.", modality="MR")
    (bone,) = [a for a in reading.assertions if a.region == BONE]
    assert EPIDURAL not in bone.features and PATHOLOGIC_FRACTURE not in bone.features


def test_modality_and_class_never_raise() -> None:
    for modality in (None, "", "nm", "XX", 5):
        read_report("Normal bone scan.", modality=modality)  # type: ignore[arg-type]
    read_report("Normal bone scan.", procedure_class=["odd"])  # type: ignore[arg-type]
