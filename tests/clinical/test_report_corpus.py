"""Per-class accuracy of the report reader's BONE status on the labelled corpora (issue 9).

Two corpora, reported separately: our own (tests/data/report_sentences.yaml, written alongside the reader) and
a blind one (tests/data/report_sentences_blind.yaml, written from the class definitions alone by someone who did
not look at the reader). Each class must reach `STATUS_MIN` on each corpus, and each corpus must hold at least
`MIN_PER_CLASS_OWN` / `MIN_PER_CLASS_BLIND` items of every class. The tables print with `-s` (and in failure
messages). Until the blind file exists its half is skipped.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from cdshooks.clinical.evidence import BONE, Status, strongest
from cdshooks.clinical.report_reading import Change, LesionCharacter, read_report

DATA = Path(__file__).resolve().parent.parent / "data"
OWN_PATH = DATA / "report_sentences.yaml"
BLIND_PATH = DATA / "report_sentences_blind.yaml"
# a second blind corpus by another writer, asked for vocabulary off the textbook lists (generalisation check).
# First run, before any change it prompted: 94.9 % overall; benign 89.2, suspicious 90.3, indeterminate 93.9,
# negative 97.1, metastatic and null 100 (10 misses). Four general phrase fixes followed (a lesion "not present
# on the prior CT" is new, not absent; "nil to suggest"; "metabolic bone disease" is not metastatic disease;
# "is the leading consideration" hedges; uncertainty reaches 10 words, not 8): 97.0 % then. Its floor is lower
# than the tuned corpora's and says so.
BLIND2_PATH = DATA / "report_sentences_blind2.yaml"
BLIND2_MIN = 0.85

STATUS_MIN = 0.95  # per bone class, on each corpus
MIN_PER_CLASS_OWN = 20  # N: items per bone class (metastatic ... negative, null) in our corpus
MIN_PER_CLASS_BLIND = 10  # N for the blind corpus
MIN_OWN = 350
MIN_TOTAL = 500  # own + blind, when the blind corpus is present
CHARACTER_MIN = 0.95  # own corpus, items that label it
CHANGES_MIN = 0.90  # own corpus, exact set match
VISCERAL_MIN = 0.90  # own corpus, labelled region statuses

CLASSES = (*(s.value for s in Status), "null")
MODALITIES = {"NM", "CT", "PT", "MR", "XR"}
FIELDS = {"text", "modality", "bone", "character", "changes", "visceral", "note"}
REGIONS = {"liver", "lung", "pleura", "brain", "adrenal", "lymph-node", "peritoneum", "other-organ", "unspecified"}


def _load(path: Path) -> list[dict[str, Any]]:
    items = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(items, list), path
    return items


def _label(item: dict[str, Any]) -> str:
    return "null" if item.get("bone") is None else str(item["bone"])


def _got(item: dict[str, Any]) -> tuple[str, Any]:
    reading = read_report(item["text"], modality=item.get("modality"))
    status = strongest([a.status for a in reading.assertions if a.region == BONE])
    return ("null" if status is None else status.value), reading


def _check_format(items: list[dict[str, Any]], name: str) -> None:
    for item in items:
        assert set(item) <= FIELDS, (name, item)
        assert isinstance(item["text"], str) and item["text"].strip(), (name, item)
        assert item["modality"] in MODALITIES, (name, item)
        assert _label(item) in CLASSES, (name, item)
        if item.get("character") is not None:
            LesionCharacter(item["character"])
        for change in item.get("changes") or []:
            Change(change)
        for region, status in (item.get("visceral") or {}).items():
            assert region in REGIONS and Status(status), (name, item)
    texts = [(item["text"], item["modality"]) for item in items]
    assert len(texts) == len(set(texts)), f"duplicate sentences in {name}"


def _table(items: list[dict[str, Any]], name: str) -> tuple[str, dict[str, float], list[str]]:
    total: Counter[str] = Counter()
    hit: Counter[str] = Counter()
    misses: list[str] = []
    for item in items:
        want = _label(item)
        got, _reading = _got(item)
        total[want] += 1
        hit[want] += got == want
        if got != want:
            misses.append(f"  [{item['modality']}] {item['text'][:110]!r}\n    got {got}, want {want}")
    per_class = {k: hit[k] / total[k] for k in total}
    by_modality = Counter(item["modality"] for item in items)
    lines = [f"{name} corpus: {len(items)} items; bone status per class",
             f"  {'class':<14} {'n':>4}  acc"]
    lines += [f"  {k:<14} {total[k]:>4}  {per_class[k]:6.1%}" for k in CLASSES if total[k]]
    lines.append(f"  {'(all)':<14} {len(items):>4}  {sum(hit.values()) / len(items):6.1%}")
    lines.append("  modalities: " + ", ".join(f"{m} {n}" for m, n in sorted(by_modality.items())))
    return "\n".join(lines), per_class, misses


def _assert_corpus(items: list[dict[str, Any]], name: str, min_per_class: int,
                   status_min: float = STATUS_MIN) -> None:
    _check_format(items, name)
    table, per_class, misses = _table(items, name)
    print("\n" + table + ("\n  misses:\n" + "\n".join(misses) if misses else ""))
    counts = Counter(_label(item) for item in items)
    small = {k: counts[k] for k in CLASSES if counts[k] < min_per_class}
    assert not small, f"{name}: fewer than {min_per_class} items in classes {small}\n{table}"
    low = {k: round(v, 3) for k, v in per_class.items() if v < status_min}
    assert not low, f"{name}: bone class below {status_min:.0%}: {low}\n{table}\nmisses:\n" + "\n".join(misses)


def test_own_corpus_bone_status_per_class() -> None:
    items = _load(OWN_PATH)
    assert len(items) >= MIN_OWN
    _assert_corpus(items, "own", MIN_PER_CLASS_OWN)


def test_blind_corpus_bone_status_per_class() -> None:
    if not BLIND_PATH.exists():
        pytest.skip("blind corpus tests/data/report_sentences_blind.yaml not present yet")
    blind = _load(BLIND_PATH)
    assert len(blind) + len(_load(OWN_PATH)) >= MIN_TOTAL
    _assert_corpus(blind, "blind", MIN_PER_CLASS_BLIND)


def test_second_blind_corpus_bone_status_per_class() -> None:
    if not BLIND2_PATH.exists():
        pytest.skip("second blind corpus not present")
    _assert_corpus(_load(BLIND2_PATH), "blind-2", MIN_PER_CLASS_BLIND, BLIND2_MIN)


def test_no_blind_sentence_reads_metastatic_when_labelled_benign_or_negative() -> None:
    """The harmful direction, on both blind corpora: a sentence a radiologist would call benign or negative is
    never read as metastatic or suspicious (it would feed 'bone metastasis established')."""
    harmful = []
    for path in (BLIND_PATH, BLIND2_PATH):
        if not path.exists():
            continue
        for item in _load(path):
            got, _ = _got(item)
            if _label(item) in {"benign", "negative", "null"} and got in {"metastatic", "suspicious"}:
                harmful.append(f"{path.name}: {item['text'][:100]!r} read {got}")
    assert not harmful, "\n".join(harmful)


def test_own_corpus_character_changes_and_visceral() -> None:
    char_total = char_hit = changes_hit = visceral_total = visceral_hit = 0
    misses: list[str] = []
    items = _load(OWN_PATH)
    for item in items:
        _got_status, reading = _got(item)
        if "character" in item:
            char_total += 1
            want = item["character"]
            got = reading.character.value if reading.character else None
            char_hit += got == want
            if got != want:
                misses.append(f"  character {item['text'][:90]!r}: got {got}, want {want}")
        want_changes = frozenset(Change(c) for c in item.get("changes") or [])
        changes_hit += reading.changes == want_changes
        if reading.changes != want_changes:
            misses.append(f"  changes {item['text'][:90]!r}: got {sorted(c.value for c in reading.changes)}, "
                          f"want {sorted(want_changes)}")
        for region, status in (item.get("visceral") or {}).items():
            visceral_total += 1
            got_status = strongest([a.status for a in reading.assertions if a.region == region])
            visceral_hit += got_status == Status(status)
            if got_status != Status(status):
                misses.append(f"  {region} {item['text'][:90]!r}: got {got_status}, want {status}")
    report = (f"character {char_hit}/{char_total}, changes {changes_hit}/{len(items)}, "
              f"visceral {visceral_hit}/{visceral_total}\n" + "\n".join(misses))
    print("\n" + report)
    assert char_hit / char_total >= CHARACTER_MIN, report
    assert changes_hit / len(items) >= CHANGES_MIN, report
    assert visceral_total >= 30 and visceral_hit / visceral_total >= VISCERAL_MIN, report
