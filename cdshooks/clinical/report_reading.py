"""Negation-aware reading of radiology report text about metastases (breast cancer), per region.

`read_report(text, modality, procedure_class)` turns free report text (bone scan, CT, PET/CT, MRI,
radiograph: findings and/or impression) into a `ReportReading`: what the report asserts per region
(`assertions`, the evidence model of cdshooks/clinical/evidence.py: bone, a visceral region, or
unspecified, each with a status metastatic / suspicious / indeterminate / benign / negative), what the bone
lesions look like (lytic / blastic / mixed), what changed versus a prior study, and the bone `result`
derived from the strongest bone status (kept for callers that predate the evidence model).

How it reads (all phrase lists live in `cdshooks/knowledge/report_phrases.yaml`):

1. Normalise: NFKC, case-fold, unify dashes/quotes, join wrapped lines, drop list bullets, drop the
   text of history/indication/comparison/technique sections (a clinical question is not a finding), and
   note where the impression/conclusion starts.
2. Split into sentences and clauses. Clauses end at terminators (";", ":", "but", "however",
   "although", a comma or "and" that starts a new subject, a comma before an interpretation ...).
   "which" ends the forward scope only.
3. Scan every phrase layer once over the whole text (triggers, sites, concepts, changes, extent,
   osteopenia, cues, risk features); each match is placed in its sentence/clause by position.
4. Polarity of a concept, NegEx style: the nearest trigger in its clause within a word window decides
   (pre-negation before it, post-negation after it, uncertainty either way). Pseudo-negations ("no
   change", "not only") negate nothing; "no progression/increase" negates only that change word.
   "no new/other/further X" leaves X neutral; "known X" stays affirmed inside a negation scope.
5. Regions: a concept belongs to bone or to a visceral region by the site words next to it ("hepatic and
   osseous metastases": both), then after it, then by its clause and sentence; a report naming only bone
   sites is about bone. A statement naming no region is about bone on a bone scan (modality NM or a
   bone-scan procedure class); elsewhere it is `unspecified`, and a denial there ("no metastatic disease")
   also denies bone metastasis.
6. Statements (clinical-rules.md §7.1): a metastasis word affirmed is `metastatic`, hedged ("suspicious
   for", "likely", "probable") `suspicious`, uncertain ("cannot exclude", "may represent", "versus")
   `indeterminate`, denied `negative`; a normal study is `negative`. A finding (lesion, focus, uptake,
   lytic / sclerotic) takes the interpretation of its clause, or of a following clause or an anaphoric
   next sentence ("This is likely degenerative") that has no finding of its own: a benign explanation
   makes it `benign` (benign wins over morphology), a metastasis interpretation speaks for it, and without
   interpretation it is `indeterminate` (morphology is never metastatic by itself). The patient's known or
   treated metastases, a flare and progressive osseous disease are `metastatic`.
7. Assertions: one per (region, status); for a region the impression speaks about, only the impression's
   statements count. Bone assertions carry the named sites ("T9", "left femur") and the affirmed risk
   features; the strongest one carries character and changes. The strongest bone status gives `result`
   (metastatic/suspicious: positive, indeterminate, benign/negative: negative, none: unknown).

Pure standard library; the phrase lists are loaded, validated and compiled once by the knowledge loader (site
overrides included: `Knowledge.report_grammar`); never raises on text input.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Final

from cdshooks.clinical.evidence import (
    BONE,
    CORTICAL,
    EPIDURAL,
    IMPENDING_FRACTURE,
    LARGE,
    PATHOLOGIC_FRACTURE,
    STATUS_ORDER,
    UNSPECIFIED,
    VERTEBRAL,
    WEIGHT_BEARING,
    Assertion,
    Status,
    strongest,
)

__all__ = ["BoneMetResult", "Change", "LesionCharacter", "ReportReading", "read_report"]

PHRASES_PATH: Final = Path(__file__).resolve().parent.parent / "knowledge" / "report_phrases.yaml"
# Reports longer than this are read as head + tail (the impression is usually last).
MAX_CHARS: Final = 100_000


class BoneMetResult(StrEnum):
    POSITIVE = "positive"  # report affirms bone/osseous metastasis (or highly suspicious for it)
    NEGATIVE = "negative"  # report states no bone metastasis / no scintigraphic evidence / normal bone scan
    INDETERMINATE = "indeterminate"  # equivocal, indeterminate, cannot exclude, single unclear focus
    UNKNOWN = "unknown"  # text does not speak about bone metastasis at all


class LesionCharacter(StrEnum):
    LYTIC = "lytic"  # lytic / osteolytic / destructive
    BLASTIC = "blastic"  # blastic / osteoblastic / sclerotic
    MIXED = "mixed"  # mixed lytic-sclerotic, or both lytic and blastic mentioned affirmatively


class Change(StrEnum):
    INCREASED_UPTAKE = "increased-uptake"  # increased/intensified uptake or activity vs prior
    NEW_FOCI = "new-foci"  # new foci / new lesions
    PROGRESSION = "progression"  # progression / progressive disease / worsening
    SCLEROTIC_CHANGE = "sclerotic-change"  # previously lytic lesions now sclerotic / sclerotic rim / healing
    STABLE = "stable"  # unchanged / stable
    DECREASED = "decreased"  # decreased uptake / regression / improved / resolved


@dataclass(frozen=True)
class ReportReading:
    result: BoneMetResult
    character: LesionCharacter | None
    changes: frozenset[Change]
    multifocal: bool  # multiple / multifocal / widespread / diffuse lesions affirmed
    solitary_focus: bool  # a single/solitary/isolated focus is described
    osteopenia: bool  # osteopenia / osteoporosis / demineralisation affirmed
    # what the report asserts, per region (cdshooks.clinical.evidence); empty when nothing is asserted
    assertions: tuple[Assertion, ...] = ()

    @cached_property
    def memo(self) -> dict[Any, Any]:
        """What callers derive from this reading, kept on it: a reading is remembered per text (`read_report`)
        and comes back with every call about the patient. Not part of the reading's value."""
        return {}


UNKNOWN_READING: Final = ReportReading(BoneMetResult.UNKNOWN, None, frozenset(), False, False, False)

# ------------------------------------------------------------------------------------------------
# Phrase data
# ------------------------------------------------------------------------------------------------

# Layers are scanned independently (matches of different layers may overlap); inside a layer the
# first list that matches at a position wins, so the order below is a priority order.
_LAYERS: Final[dict[str, tuple[str, ...]]] = {
    "trigger": (
        "pseudo_noop",
        "pseudo_self_neg",
        "unc_post_nature",
        "unc_post",
        "unc_pre",
        "unc_both",
        "post_negation",
        "pre_negation",
    ),
    "terminator": ("terminator_punct", "terminator_hard", "terminator_soft"),
    "site": (
        "region",
        "site_pleura",
        "site_lymph_node",
        "site_liver",
        "site_lung",
        "site_brain",
        "site_adrenal",
        "site_peritoneum",
        "nonbone_site",
        "bone_site",
        "bone_word",
    ),
    "concept": (
        "neutral",
        "equivocal_study",
        "normal",
        "benign",
        "suspicious",
        "met",
        "char_mixed",
        "char_lytic",
        "char_blastic",
        "lesion_focal",
        "lesion_uptake",
    ),
    "change": (
        "change_neutral",
        "stable",
        "sclerotic_change",
        "more_foci_and_uptake",
        "more_foci",
        "new_foci",
        "progressive_disease",
        "growth_and_uptake",
        "progression",
        "increased_uptake",
        "decreased",
        "increased_uptake_weak",
    ),
    "extent": ("osteopenia", "multifocal", "solitary"),
    "cue": ("comparison_cue", "treatment_cue"),
    "feature": ("feature_pathologic", "feature_impending", "feature_cortical", "feature_epidural", "feature_large"),
}

# the region of the evidence model each site list names
_REGION_OF_SITE: Final[dict[str, str]] = {
    "site_pleura": "pleura",
    "site_lymph_node": "lymph-node",
    "site_liver": "liver",
    "site_lung": "lung",
    "site_brain": "brain",
    "site_adrenal": "adrenal",
    "site_peritoneum": "peritoneum",
    "nonbone_site": "other-organ",
    "bone_site": BONE,
    "bone_word": BONE,
}
_FEATURE_OF: Final[dict[str, str]] = {
    "feature_pathologic": PATHOLOGIC_FRACTURE,
    "feature_impending": IMPENDING_FRACTURE,
    "feature_cortical": CORTICAL,
    "feature_epidural": EPIDURAL,
    "feature_large": LARGE,
}
# procedure classes whose reports speak about the skeleton (facts.BONE_SCANS; not imported: facts imports us)
_BONE_SCAN_CLASSES: Final = frozenset({"BONE_SCAN_WB", "BONE_SCAN_OTHER"})
_RESULT_OF_STATUS: Final[dict[Status | None, BoneMetResult]] = {
    Status.METASTATIC: BoneMetResult.POSITIVE,
    Status.SUSPICIOUS: BoneMetResult.POSITIVE,
    Status.INDETERMINATE: BoneMetResult.INDETERMINATE,
    Status.BENIGN: BoneMetResult.NEGATIVE,
    Status.NEGATIVE: BoneMetResult.NEGATIVE,
    None: BoneMetResult.UNKNOWN,
}

# one phrase may say several things: "increase in the number and intensity" is new foci (more lesions
# are new lesions), progression and increased uptake
_CHANGE_OF: Final[dict[str, tuple[Change, ...]]] = {
    "stable": (Change.STABLE,),
    "sclerotic_change": (Change.SCLEROTIC_CHANGE,),
    "more_foci_and_uptake": (Change.NEW_FOCI, Change.PROGRESSION, Change.INCREASED_UPTAKE),
    "more_foci": (Change.NEW_FOCI, Change.PROGRESSION),
    "new_foci": (Change.NEW_FOCI,),
    "progressive_disease": (Change.PROGRESSION,),
    "growth_and_uptake": (Change.PROGRESSION, Change.INCREASED_UPTAKE),
    "progression": (Change.PROGRESSION,),
    "increased_uptake": (Change.INCREASED_UPTAKE,),
    "increased_uptake_weak": (Change.INCREASED_UPTAKE,),
    "decreased": (Change.DECREASED,),
}

_PRE_KINDS: Final = frozenset({"pre_negation", "pseudo_self_neg", "unc_pre", "unc_both"})
_POST_KINDS: Final = frozenset({"post_negation", "unc_post_nature", "unc_post", "unc_both"})
_UNC_KINDS: Final = frozenset({"unc_pre", "unc_post_nature", "unc_post", "unc_both"})
_CHAR_KINDS: Final = frozenset({"char_mixed", "char_lytic", "char_blastic"})
_INTERPRETING: Final = frozenset({"met", "suspicious", "benign", "normal", "equivocal_study"} | _CHAR_KINDS)
_LESION_KINDS: Final = frozenset({"lesion_focal", "lesion_uptake"} | _CHAR_KINDS)

# polarity
_AFF, _NEG, _UNC, _NEUTRAL = 0, 1, 2, 3
# site
_BONE, _NONBONE, _NOSITE = 0, 1, 2
_TRANSLATE: Final = str.maketrans(
    {
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u00a0": " ",
        "\t": " ",
        "\r": "\n",
        "\f": "\n",
        "\v": "\n",
        "\u2028": "\n",
        "\u2029": "\n",
    }
)
_ABBREVIATIONS: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    (re.compile(r"\bvs\.(?=\s)"), "versus"),
    (re.compile(r"\be\.g\.?"), "eg"),
    (re.compile(r"\bi\.e\.?"), "ie"),
    (re.compile(r"\b(approx|dr|fig)\.(?=\s)"), r"\1"),
    (re.compile(r"\bno\.(?=\s*\d)"), "number"),
    (re.compile(r"(?<![\w?])\?(?=\w)"), "query "),
    (re.compile(r"(?<=\w)\s?\?+"), " questionable."),
)
_NEEDS_ABBREVIATIONS: Final = re.compile(r"\?|\b(?:vs|e\.g|i\.e|approx|dr|fig|no)\.")
_BULLET: Final = re.compile(r"^(?:\(?\d{1,2}[.)]|[-*\u2022\u00b7\u25aa\u25e6>#]+)\s+")
_HEADER_LINE: Final = re.compile(r"^[a-z][a-z /&()-]{0,40}:")
_SPACES: Final = re.compile(r"[ ]{2,}")
_WORD: Final = re.compile(r"\w+")
_SENTENCE_END: Final = re.compile(r"[.!?]+(?=\s|$)|\n")
_COORDINATION: Final = re.compile(r"\b(?:and|or)\b|,|/")
_SCLEROSIS_WORD: Final = re.compile(r"scler|blast|ossif|calcif|minerali")


# the phrase lists and trigger windows the reader reads: report_phrases.yaml holds exactly these (the knowledge
# loader refuses a file without one of them, or with a list the reader does not know)
PHRASE_LISTS: Final = frozenset(name for names in _LAYERS.values() for name in names) | frozenset({
    "ignore_headers", "keep_headers", "impression_headers", "neutral_modifiers", "affirm_modifiers",
    "known_lesion_modifiers", "historic_modifiers", "anaphora", "hedge_modifiers", "hedge_post", "vertebral_site",
    "weight_bearing_site"})
SCOPE_WINDOWS: Final = _PRE_KINDS | _POST_KINDS


_GRAMMAR_SERIALS: Final[itertools.count[int]] = itertools.count()


@dataclass(frozen=True)
class _Grammar:
    layers: dict[str, re.Pattern[str]]
    headers: re.Pattern[str]
    neutral_mod: re.Pattern[str]
    affirm_mod: re.Pattern[str]
    known_mod: re.Pattern[str]
    historic_mod: re.Pattern[str]
    anaphora: re.Pattern[str]
    windows: dict[str, int]
    impression: re.Pattern[str]
    hedge_mod: re.Pattern[str]
    hedge_post: re.Pattern[str]
    hedge_window: int
    vertebral: re.Pattern[str]
    weight_bearing: re.Pattern[str]
    # tells grammars apart in the memory of readings (a site override reads the same text differently)
    serial: int = field(default_factory=lambda: next(_GRAMMAR_SERIALS))


def _body(entry: Mapping[str, Any]) -> str:
    return "|".join(f"(?:{p})" for p in entry["patterns"])


def _alternation(entry: Mapping[str, Any]) -> str:
    if entry.get("boundary", True):
        return rf"(?<!\w)(?:{_body(entry)})(?!\w)"
    return f"(?:{_body(entry)})"


def _layer(data: Mapping[str, Any], names: tuple[str, ...]) -> re.Pattern[str]:
    """One regex for a layer: a named group per list. The word boundaries of the bounded lists are
    hoisted out of the alternation, so positions inside a word fail at once (3x faster scans)."""
    loose = [f"(?P<{name}>{_body(data[name])})" for name in names if not data[name].get("boundary", True)]
    bounded = [f"(?P<{name}>{_body(data[name])})" for name in names if data[name].get("boundary", True)]
    parts = loose + ([rf"\b(?=\w)(?:{'|'.join(bounded)})(?!\w)"] if bounded else [])
    return re.compile("|".join(parts))


ReportGrammar = _Grammar


def compile_grammar(data: Mapping[str, Any]) -> ReportGrammar:
    """The reader's grammar from report-phrase data shaped like report_phrases.yaml. The knowledge loader
    (cdshooks/clinical/knowledge/report_phrases.py) validates the file first and keeps the result:
    `Knowledge.report_grammar`."""
    layers = {layer: _layer(data, names) for layer, names in _LAYERS.items()}
    ignore = "|".join(str(p) for p in data["ignore_headers"]["patterns"])
    keep = "|".join(str(p) for p in data["keep_headers"]["patterns"])
    headers = re.compile(rf"(?:^|(?<=[\n.;]))[ ]*(?:(?P<ignore>{ignore})|(?P<keep>{keep}))[ ]*:")

    def modifier(name: str) -> re.Pattern[str]:
        return re.compile(_alternation(data[name]))

    windows = {k: int(v) for k, v in data["scope_windows"].items() if k != "source"}
    return _Grammar(
        layers=layers,
        headers=headers,
        neutral_mod=modifier("neutral_modifiers"),
        affirm_mod=modifier("affirm_modifiers"),
        known_mod=modifier("known_lesion_modifiers"),
        historic_mod=modifier("historic_modifiers"),
        anaphora=re.compile(r"\s*" + _alternation(data["anaphora"])),
        windows=windows,
        impression=re.compile(rf"(?:{'|'.join(str(p) for p in data['impression_headers']['patterns'])})\s*:?\s*$"),
        hedge_mod=modifier("hedge_modifiers"),
        hedge_post=modifier("hedge_post"),
        hedge_window=int(data["hedge_window"]["words"]),
        vertebral=re.compile(rf"(?:{_body(data['vertebral_site'])})$"),
        weight_bearing=re.compile(rf"(?:{_body(data['weight_bearing_site'])})$"),
    )


@cache
def _grammar() -> ReportGrammar:
    """The shipped grammar (the default knowledge's), for callers that hold no Knowledge."""
    from cdshooks.clinical.knowledge import default_knowledge  # imported here: the knowledge imports this module

    return default_knowledge().report_grammar


# ------------------------------------------------------------------------------------------------
# Normalisation
# ------------------------------------------------------------------------------------------------


def _normalize(text: str, grammar: _Grammar) -> tuple[str, int]:
    """The normalised text and where its impression/conclusion section starts (its length: none)."""
    if len(text) > MAX_CHARS:
        head = MAX_CHARS * 3 // 5
        text = text[:head] + "\n" + text[-(MAX_CHARS - head) :]
    t = unicodedata.normalize("NFKC", text.replace("\r\n", "\n")).casefold().translate(_TRANSLATE)
    if _NEEDS_ABBREVIATIONS.search(t):
        for pattern, replacement in _ABBREVIATIONS:
            t = pattern.sub(replacement, t)
    # join wrapped lines; keep a break before bullets, headers, after sentence ends and blank lines
    parts: list[str] = []
    previous = ""
    for raw in t.split("\n"):
        line = _SPACES.sub(" ", raw.strip())
        if not line:
            previous = "."
            continue
        bullet = _BULLET.match(line)
        if bullet:
            line = line[bullet.end() :]
        boundary = bool(bullet) or bool(_HEADER_LINE.match(line)) or not previous or previous[-1] in ".:;!?"
        if parts:
            parts.append("\n" if boundary else " ")
        parts.append(line)
        previous = line
    t = "".join(parts)
    # drop history/indication/technique sections, unlabel kept sections
    out: list[str] = []
    pos = 0
    size = 0
    impression = -1
    matches = list(grammar.headers.finditer(t)) if ":" in t else []
    for i, match in enumerate(matches):
        if match.start() < pos:
            continue
        out.append(t[pos : match.start()])
        out.append("\n")
        size += match.start() - pos + 1
        if match.group("keep") is not None and impression < 0 and grammar.impression.match(match.group("keep")):
            impression = size
        if match.group("ignore") is not None:
            stop = matches[i + 1].start() if i + 1 < len(matches) else len(t)
            newline = t.find("\n", match.end())
            if 0 <= newline < stop:
                stop = newline
            pos = stop
        else:
            pos = match.end()
    out.append(t[pos:])
    normalized = "".join(out)
    return normalized, impression if impression >= 0 else len(normalized)


# ------------------------------------------------------------------------------------------------
# Document structure
# ------------------------------------------------------------------------------------------------

_Trigger = tuple[str, int, int, int, int]  # kind, start, end, first word, last word
_Site = tuple[str, int, int, int]  # region, start, first word, end
_CHAR_SITE: Final = re.compile(r"(?:osteo)?(?:lytic|blastic)|sclero")  # bone words that describe, not place
_ORIGIN: Final = re.compile(r"\bfrom\b")  # "metastases from the breast primary" name no site
_SIDE: Final = re.compile(r"(?:left|right|bilateral)\s+(?:[\w-]+\s+)?$")


class _Doc:
    """The normalised text with its words, sentences, clauses, triggers and site words."""

    def __init__(self, text: str, grammar: _Grammar) -> None:
        self.t = text
        self.g = grammar
        self.words = [m.start() for m in _WORD.finditer(text)]
        self.sent_starts = [0]
        for m in _SENTENCE_END.finditer(text):
            if m.end() > self.sent_starts[-1]:
                self.sent_starts.append(m.end())
        starts: dict[int, str] = dict.fromkeys(self.sent_starts, "sentence")
        for m in grammar.layers["terminator"].finditer(text):
            if m.start() not in starts:
                kind = m.lastgroup or ""
                starts[m.start()] = "terminator_and" if kind == "terminator_hard" and m.group() == "and" else kind
        self.clause_starts = sorted(starts)
        self.clause_kind = [starts[s] for s in self.clause_starts]
        self.clause_soft = [k == "terminator_soft" for k in self.clause_kind]
        self.clause_sent = [self.sentence_of(s) for s in self.clause_starts]
        n = len(self.clause_starts)
        self.triggers: list[list[_Trigger]] = [[] for _ in range(n)]
        for m in grammar.layers["trigger"].finditer(text):
            s, e = m.span()
            kind = m.lastgroup or ""
            self.triggers[self.clause_of(s)].append((kind, s, e, self.widx(s), self.widx(e - 1)))
        self.clause_sites: list[list[_Site]] = [[] for _ in range(n)]
        self.sent_sites: list[list[_Site]] = [[] for _ in self.sent_starts]
        self.anatomy: list[_Site] = []  # named bone sites ("t9", "left femur")
        self.doc_regions: set[str] = set()
        for m in grammar.layers["site"].finditer(text):
            if m.lastgroup == "region":
                continue
            region = _REGION_OF_SITE[m.lastgroup or ""]
            site = (region, m.start(), self.widx(m.start()), m.end())
            self.clause_sites[self.clause_of(m.start())].append(site)
            self.sent_sites[self.sentence_of(m.start())].append(site)
            self.doc_regions.add(region)
            if m.lastgroup == "bone_site":
                self.anatomy.append(site)
        self.doc_bone = BONE in self.doc_regions

    def widx(self, pos: int) -> int:
        return bisect_right(self.words, pos) - 1

    def sentence_of(self, pos: int) -> int:
        return bisect_right(self.sent_starts, pos) - 1

    def clause_of(self, pos: int) -> int:
        return bisect_right(self.clause_starts, pos) - 1

    def polarity(self, start: int, end: int, is_change: bool) -> int:
        """AFF / NEG / UNC / NEUTRAL of the concept at [start, end) (NegEx-style nearest trigger)."""
        clause = self.clause_of(start)
        ws, we = self.widx(start), self.widx(end - 1)
        windows = self.g.windows
        candidates: list[tuple[int, int, str, int]] = []  # distance, order, kind, trigger end (pre) or -1
        order = 0
        for kind, ts, te, tws, twe in self._scope_triggers(clause):
            order += 1
            if is_change and kind == "unc_post_nature":
                continue  # "a new focus ..., indeterminate": what it is is open, not that it is new
            if ts < end and start < te:
                if kind in _UNC_KINDS:
                    return _UNC
                if kind == "pseudo_self_neg" and is_change:
                    return _NEG
                continue
            if te <= start and kind in _PRE_KINDS and self.clause_of(ts) == clause:
                distance = ws - twe
                if distance <= windows[kind]:
                    candidates.append((distance, order, kind, te))
            elif ts >= end and kind in _POST_KINDS:
                distance = tws - we
                if distance <= windows[kind]:
                    candidates.append((distance, order, kind, -1))
        candidates.sort()
        for _distance, _order, kind, trigger_end in candidates:
            if kind in _UNC_KINDS:
                return _UNC
            if is_change:
                return _NEG
            if trigger_end >= 0:  # a pre-trigger: look at the words right before the concept
                prefix = self.t[max(trigger_end, self.words[max(ws - 3, 0)]) : start]
                if self.g.affirm_mod.search(prefix):
                    return _AFF
                if self.g.neutral_mod.search(prefix):
                    return _NEUTRAL
                if kind == "pseudo_self_neg":
                    continue
            return _NEG
        return _AFF

    def _scope_triggers(self, clause: int) -> list[_Trigger]:
        """Triggers of the clause, of following soft-linked clauses ("..., which is indeterminate") and
        post-triggers that open the next clause ("... less likely, but cannot be excluded")."""
        found = self.triggers[clause]
        nxt = clause + 1
        count = len(self.clause_starts)
        if nxt >= count or self.clause_sent[nxt] != self.clause_sent[clause]:
            return found
        found = list(found)
        while nxt < count and self.clause_soft[nxt] and self.clause_sent[nxt] == self.clause_sent[clause]:
            found.extend(self.triggers[nxt])
            nxt += 1
        if nxt < count and self.clause_sent[nxt] == self.clause_sent[clause]:
            opening = self.widx(self.clause_starts[nxt])
            found.extend(tr for tr in self.triggers[nxt] if tr[0] in _POST_KINDS and tr[3] - opening <= 1)
        return found

    def is_known(self, start: int) -> bool:
        """Is the concept at `start` one of the known lesions ("the known spinal and pelvic lesions")?"""
        ws = self.widx(start)
        lo = max(self.clause_starts[self.clause_of(start)], self.words[max(ws - 4, 0)])
        return self.g.known_mod.search(self.t, lo, start) is not None

    def site_of(self, start: int, end: int) -> int:
        """Is the concept at [start, end) about bone, another organ, or no site at all?"""
        regions = self.regions_of(start, end)
        if BONE in regions:
            return _BONE
        if regions:
            return _NONBONE
        return _BONE if self.doc_bone else _NOSITE

    def regions_of(self, start: int, end: int) -> tuple[str, ...]:
        """The regions the concept at [start, end) is about, by the site words next to it, then after it (up
        to a negation), then in its clause and its sentence; a report that names bone sites only is about
        bone. Empty: no site."""
        clause = self.clause_of(start)
        ws, we = self.widx(start), self.widx(end - 1)
        sites = self.clause_sites[clause]
        local = [s for s in sites if ws - 3 <= s[2] <= we]
        # "lytic-appearing lesions in the liver": a character word places a lesion in bone only when no
        # organ follows it
        describing = bool(local) and all(s[0] == BONE and _CHAR_SITE.match(self.t, s[1]) for s in local)
        if local and not describing:
            return self._pick(local, ws)
        after = [s for s in sites if we < s[2] <= we + 8]
        if describing:
            after = [s for s in after if s[0] != BONE and not _ORIGIN.search(self.t, end, s[1])]
            return tuple(dict.fromkeys(s[0] for s in after)) if after else (BONE,)
        if after:
            stops = [tr[3] for tr in self.triggers[clause] if tr[0] == "pre_negation" and we < tr[3]]
            if stops:
                after = [s for s in after if s[2] < min(stops)]
            after = [s for s in after if not _ORIGIN.search(self.t, end, s[1])]
            if after:
                return tuple(dict.fromkeys(s[0] for s in after))
        for group in (sites, self.sent_sites[self.clause_sent[clause]]):
            if group:
                if any(s[0] == BONE for s in group):
                    return (BONE,)
                return tuple(dict.fromkeys(s[0] for s in group))
        return (BONE,) if self.doc_regions == {BONE} else ()

    def _pick(self, local: list[_Site], ws: int) -> tuple[str, ...]:
        regions = tuple(dict.fromkeys(s[0] for s in local))
        if len(regions) == 1:
            return regions
        lo = min(s[1] for s in local)
        hi = max(s[1] for s in local)
        if _COORDINATION.search(self.t, lo, hi):
            return regions  # "hepatic and osseous metastases", "no pulmonary or hepatic metastases"
        nearest = min(local, key=lambda s: (abs(s[2] - ws), s[0] != BONE))
        return (nearest[0],)

    def anatomy_in(self, lo: int, hi: int) -> list[str]:
        """Named bone sites in [lo, hi), with their side word ("left femur", "T9")."""
        found: list[str] = []
        for _region, s, _w, e in self.anatomy:
            if lo <= s < hi:
                side = _SIDE.search(self.t, max(lo, s - 24), s)
                word = self.t[s:e]
                word = word.upper() if re.match(r"[ctls]\d", word) else word
                found.append((side.group().strip() + " " if side else "") + word)
        return found

    def clause_end(self, clause: int) -> int:
        return self.clause_starts[clause + 1] if clause + 1 < len(self.clause_starts) else len(self.t)

    def sentence_span(self, sentence: int) -> tuple[int, int]:
        end = self.sent_starts[sentence + 1] if sentence + 1 < len(self.sent_starts) else len(self.t)
        return self.sent_starts[sentence], end


# ------------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------------


READING_CACHE_CHARS = 4_000_000  # report text remembered with its reading, per process (then forgotten)
_READINGS: dict[tuple[str, bool, int], ReportReading] = {}
_reading_chars = 0


def forget_readings() -> None:
    """Empty the per-process memory of readings (benchmarks of the reader itself)."""
    global _reading_chars
    _READINGS.clear()
    _reading_chars = 0


def read_report(text: str | None, modality: str | None = None, procedure_class: str | None = None,
                grammar: ReportGrammar | None = None) -> ReportReading:
    """Read one report text (findings and/or impression); `None` or empty gives an UNKNOWN reading.

    `modality` (NM | CT | PT | MR | XR) and `procedure_class` (e.g. BONE_SCAN_WB) are the study's context:
    on a bone scan a statement about metastatic disease that names no region is about bone. `grammar` is the
    knowledge's (`Knowledge.report_grammar`, site overrides included); without it, the shipped one.

    A reading depends only on the text, that context and the grammar, and the same reports come back with every
    hook call about a patient: each is read once per process (bounded by READING_CACHE_CHARS)."""
    global _reading_chars
    if not isinstance(text, str) or not text.strip():
        return UNKNOWN_READING
    if grammar is None:
        grammar = _grammar()  # outside the guard: a broken phrase file must fail loudly
    try:
        bone_context = (isinstance(modality, str) and modality.upper() == "NM") or procedure_class in _BONE_SCAN_CLASSES
    except TypeError:  # an odd (unhashable) class: unreadable, as before
        return UNKNOWN_READING
    key = (text, bone_context, grammar.serial)
    found = _READINGS.get(key)
    if found is not None:
        return found
    try:
        found = _read(text, grammar, bone_context)
    except Exception:  # a CDS service must not fail on odd report text; treat it as unreadable
        found = UNKNOWN_READING
    if _reading_chars + len(text) > READING_CACHE_CHARS:
        _READINGS.clear()
        _reading_chars = 0
    _READINGS[key] = found
    _reading_chars += len(text)
    return found


# one statement the report makes: regions (empty: names none), status, position, clause
_Statement = tuple[tuple[str, ...], Status, int, int]


def _read(text: str, grammar: _Grammar, bone_context: bool = False) -> ReportReading:
    t, impression = _normalize(text, grammar)
    if not t.strip():
        return UNKNOWN_READING
    doc = _Doc(t, grammar)
    layers = grammar.layers
    statements: list[_Statement] = []

    def state(regions: tuple[str, ...], status: Status, pos: int) -> None:
        statements.append((regions, status, pos, doc.clause_of(pos)))

    # concepts with polarity (neutral masking phrases dropped)
    concepts: list[tuple[str, int, int, int]] = []
    for m in layers["concept"].finditer(t):
        kind = m.lastgroup or ""
        if kind == "neutral":
            continue
        s, e = m.span()
        pol = doc.polarity(s, e, False)
        if pol != _NEUTRAL:
            concepts.append((kind, s, e, pol))
    # a character word takes the polarity of the lesion noun it describes ("the lytic lesion in the right
    # iliac bone is no longer visible")
    for i in range(len(concepts) - 1):
        kind, s, e, pol = concepts[i]
        nxt_kind, nxt_s, _nxt_e, nxt_pol = concepts[i + 1]
        if (kind in _CHAR_KINDS and nxt_kind == "lesion_focal" and nxt_pol != pol
                and doc.widx(nxt_s) - doc.widx(e - 1) <= 2 and doc.clause_of(nxt_s) == doc.clause_of(s)):
            concepts[i] = (kind, s, e, nxt_pol)

    # interpretations per clause: what the radiologist says a finding is (about bone or no named region)
    interpretation: dict[int, set[str]] = {}
    lesion_clauses: set[int] = set()
    met_sentences = {doc.sentence_of(s) for kind, s, _e, pol in concepts if kind == "met" and pol != _NEG}
    for kind, s, e, pol in concepts:
        clause = doc.clause_of(s)
        if kind in _LESION_KINDS and pol != _NEG:
            lesion_clauses.add(clause)
        if kind in ("met", "suspicious", "benign"):
            regions = doc.regions_of(s, e)
            if regions and BONE not in regions:
                continue
            if kind == "benign" and pol == _AFF:
                interpretation.setdefault(clause, set()).add("benign")
            elif kind == "suspicious" and pol == _NEG:
                interpretation.setdefault(clause, set()).add("denied")
            elif pol in (_AFF, _UNC):
                interpretation.setdefault(clause, set()).add("interpreted")

    def bound(clause: int) -> set[str]:
        """The interpretation of the findings of a clause: its own, else that of a following clause of the
        sentence (joined by punctuation or "which") or of the next sentence opening with "this/these/it"
        that has no finding of its own."""
        own = interpretation.get(clause)
        if own:
            return own
        sentence = doc.clause_sent[clause]
        c = clause + 1
        count = len(doc.clause_starts)
        while c < count and doc.clause_sent[c] == sentence:
            if doc.clause_kind[c] == "terminator_hard" or c in lesion_clauses:
                return set()
            if c in interpretation:
                return interpretation[c]
            c += 1
        if (c < count and doc.clause_sent[c] == sentence + 1 and c not in lesion_clauses and c in interpretation
                and grammar.anaphora.match(t, doc.sent_starts[sentence + 1])):
            return interpretation[c]
        return set()

    clause_benign = {c for c in lesion_clauses if bound(c) & {"benign", "denied"}}

    sent_cues: dict[int, set[str]] = {}
    for m in layers["cue"].finditer(t):
        s, e = m.span()
        if doc.polarity(s, e, False) == _AFF:
            sent_cues.setdefault(doc.sentence_of(s), set()).add(m.lastgroup or "")

    # changes versus prior
    changes: set[Change] = set()
    sclerosis_changed: set[int] = set()  # sentences whose sclerosis is a treatment change
    converted: set[int] = set()  # sentences saying lytic lesions turned sclerotic
    for m in layers["change"].finditer(t):
        kind = m.lastgroup or ""
        if kind == "change_neutral":
            continue
        s, e = m.span()
        sentence = doc.sentence_of(s)
        if kind == "increased_uptake_weak" and "comparison_cue" not in sent_cues.get(sentence, ()):
            continue
        if doc.polarity(s, e, True) != _AFF or doc.site_of(s, e) == _NONBONE:
            continue
        changes.update(_CHANGE_OF[kind])
        if kind == "progressive_disease" and doc.site_of(s, e) == _BONE:
            state((BONE,), Status.METASTATIC, s)  # "skeletal lesions, compatible with progressive disease"
        elif kind == "sclerotic_change":
            text_here = m.group()
            if _SCLEROSIS_WORD.search(text_here):
                sclerosis_changed.add(sentence)
                if "lytic" in text_here:
                    converted.add(sentence)
            if ("lytic" in text_here or _HEALING.search(text_here)
                    or "treatment_cue" in sent_cues.get(sentence, ())):
                state((BONE,), Status.METASTATIC, s)  # treated metastases are metastases
        elif kind == "increased_uptake" and m.group().startswith("flare"):
            state((BONE,), Status.METASTATIC, s)  # a flare happens in known bone metastases

    # extent and osteopenia
    multifocal = solitary = osteopenia = False
    for m in layers["extent"].finditer(t):
        s, e = m.span()
        pol = doc.polarity(s, e, False)
        if pol in (_NEG, _NEUTRAL):
            continue
        site = doc.site_of(s, e)
        if m.lastgroup == "osteopenia":
            osteopenia = osteopenia or (pol == _AFF and site != _NONBONE)
            continue
        if site != _BONE:
            continue
        if m.lastgroup == "solitary":
            solitary = True
        elif pol == _AFF and doc.clause_of(s) not in clause_benign:
            multifocal = True

    # statements and character
    lytic = blastic = mixed = False
    blastic_by_sentence: dict[int, list[tuple[int, int]]] = {}
    for kind, s, e, pol in concepts:
        clause = doc.clause_of(s)
        sentence = doc.clause_sent[clause]
        regions = doc.regions_of(s, e)
        if kind in _LESION_KINDS:
            if kind in _CHAR_KINDS and doc.site_of(s, e) != _NONBONE and pol != _NEG:
                if clause in clause_benign and sentence not in met_sentences:
                    pass  # a benign finding that happens to be sclerotic ("bone island")
                elif kind == "char_blastic":
                    if sentence not in sclerosis_changed:
                        blastic_by_sentence.setdefault(sentence, []).append((pol, s))
                elif kind == "char_lytic":
                    prefix = t[doc.words[max(doc.widx(s) - 2, 0)] : s]
                    if not (sentence in converted or grammar.historic_mod.search(prefix)):
                        lytic = True
                else:
                    mixed = True
            _lesion(doc, state, regions, kind, s, pol, bound(clause) if pol == _AFF else set(), bone_context)
            continue
        if kind == "met":
            if pol == _NEG and "fractur" in t[s:e]:
                continue  # "without pathologic fracture" denies a fracture, not metastasis
            status = {_AFF: Status.METASTATIC, _UNC: Status.INDETERMINATE, _NEG: Status.NEGATIVE}[pol]
            if status is Status.METASTATIC and _hedged(doc, s, e):
                status = Status.SUSPICIOUS
            state(regions, status, s)
        elif kind == "suspicious":
            if pol in (_AFF, _UNC):
                state(regions, Status.SUSPICIOUS if pol == _AFF else Status.INDETERMINATE, s)
        elif kind == "equivocal_study":
            if pol != _NEG:
                state(regions, Status.INDETERMINATE, s)
        elif kind == "normal":
            if pol == _AFF and (BONE in regions or (not regions and bone_context)):
                state((BONE,), Status.NEGATIVE, s)
        elif kind == "benign":
            if pol == _UNC:  # "degenerative versus metastatic", "possibly traumatic"
                state(regions, Status.INDETERMINATE, s)
            elif pol == _AFF and (BONE in regions or (not regions and bone_context)):
                state((BONE,), Status.BENIGN, s)

    # sclerosis described as a treatment effect is a change, not blastic disease
    for sentence, found in blastic_by_sentence.items():
        if "treatment_cue" in sent_cues.get(sentence, ()):
            changes.add(Change.SCLEROTIC_CHANGE)
            state((BONE,), Status.METASTATIC, found[0][1])
            continue
        blastic = True

    character: LesionCharacter | None = None
    if mixed or (lytic and blastic):
        character = LesionCharacter.MIXED
    elif lytic:
        character = LesionCharacter.LYTIC
    elif blastic:
        character = LesionCharacter.BLASTIC

    assertions = _assertions(doc, statements, impression, bone_context, character, frozenset(changes))
    bone_status = strongest([a.status for a in assertions if a.region == BONE])
    return ReportReading(
        result=_RESULT_OF_STATUS[bone_status],
        character=character,
        changes=frozenset(changes),
        multifocal=multifocal,
        solitary_focus=solitary,
        osteopenia=osteopenia,
        assertions=assertions,
    )


_HEALING: Final = re.compile(r"heal|repar|response|treat|therap|chemo")


def _hedged(doc: _Doc, start: int, end: int) -> bool:
    """Is the metastasis word at [start, end) hedged ("suspicious for", "likely", "metastasis is probable")?"""
    g = doc.g
    clause = doc.clause_of(start)
    ws = doc.widx(start)
    lo = max(doc.clause_starts[clause], doc.words[max(ws - g.hedge_window, 0)])
    if g.hedge_mod.search(doc.t, lo, start):
        return True
    return g.hedge_post.search(doc.t, end, doc.clause_end(clause)) is not None


def _lesion(doc: _Doc, state: Any, regions: tuple[str, ...], kind: str, start: int, pol: int,
            interpretation: set[str], bone_context: bool) -> None:
    """The statement a finding (lesion, focus, uptake, lytic/sclerotic) makes about its region."""
    if not regions:
        if not bone_context:
            return  # a lesion of no named region on a CT is not a statement about metastasis
        regions = (BONE,)
    if pol == _NEG:
        state(regions, Status.NEGATIVE, start)
    elif pol == _UNC:
        state(regions, Status.INDETERMINATE, start)
    elif "benign" in interpretation:
        state(regions, Status.BENIGN, start)  # a benign explanation wins over morphology
    elif "interpreted" in interpretation:
        return  # the interpretation (metastasis, suspicious ...) makes the statement
    elif "denied" in interpretation:
        state(regions, Status.BENIGN, start)  # "sclerotic focus, not suspicious"
    elif kind != "lesion_uptake" and BONE in regions and doc.is_known(start):
        state((BONE,), Status.METASTATIC, start)  # "the known spinal lesions" are the known metastases
    else:
        state(regions, Status.INDETERMINATE, start)  # morphology without interpretation


def _assertions(doc: _Doc, statements: list[_Statement], impression: int, bone_context: bool,
                character: LesionCharacter | None, changes: frozenset[Change]) -> tuple[Assertion, ...]:
    """Statements -> one assertion per (region, status). A statement naming no region is about bone on a bone
    scan; elsewhere it is `unspecified`, and a denial of metastatic disease anywhere also denies it in bone.
    Where the impression says something about a region, it decides that region over the findings."""
    by_region: dict[str, list[tuple[Status, int, int]]] = {}
    for regions, status, pos, clause in statements:
        if not regions:
            if bone_context:
                regions = (BONE,)
            elif status is Status.NEGATIVE:
                regions = (UNSPECIFIED, BONE)
            else:
                regions = (UNSPECIFIED,)
        for region in regions:
            by_region.setdefault(region, []).append((status, pos, clause))
    if not by_region:
        return ()
    features_by_sentence: dict[int, set[str]] = {}
    if BONE in by_region:
        for m in doc.g.layers["feature"].finditer(doc.t):
            s, e = m.span()
            if doc.polarity(s, e, False) == _AFF:
                features_by_sentence.setdefault(doc.sentence_of(s), set()).add(_FEATURE_OF[m.lastgroup or ""])
    out: list[Assertion] = []
    for region, found in by_region.items():
        if any(pos >= impression for _status, pos, _clause in found):
            found = [f for f in found if f[1] >= impression]
        grouped: dict[Status, list[tuple[int, int]]] = {}
        for status, pos, clause in found:
            grouped.setdefault(status, []).append((pos, clause))
        top = strongest(list(grouped))
        for status in (st for st in STATUS_ORDER if st in grouped):
            if region != BONE:
                out.append(Assertion(region, status))
                continue
            sites: list[str] = []
            features: set[str] = set()
            for _pos, clause in grouped[status]:
                here = doc.anatomy_in(doc.clause_starts[clause], doc.clause_end(clause))
                if not here and status in (Status.METASTATIC, Status.SUSPICIOUS, Status.INDETERMINATE):
                    here = doc.anatomy_in(*doc.sentence_span(doc.clause_sent[clause]))
                sites.extend(here)
                features |= features_by_sentence.get(doc.clause_sent[clause], set())
            for site in sites:
                word = site.casefold().split(" ")[-1]
                if doc.g.vertebral.match(word) or doc.g.vertebral.match(site.casefold()):
                    features.add(VERTEBRAL)
                if doc.g.weight_bearing.search(site.casefold()):
                    features.add(WEIGHT_BEARING)
            main = status is top
            out.append(Assertion(
                region=BONE,
                status=status,
                character=character.value if main and character else None,
                changes=frozenset(c.value for c in changes) if main else frozenset(),
                site=", ".join(dict.fromkeys(sites)) or None,
                features=frozenset(features),
            ))
    return tuple(out)
