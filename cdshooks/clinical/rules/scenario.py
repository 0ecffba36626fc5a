"""Shared predicates of the rule families: the ACR scenario gate (R01), suspicion, therapy lines.

Pure functions of the facts (which carry `now`) and the parameters (clinical-rules.md §1.3).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from itertools import compress, pairwise
from operator import sub

from cdshooks.clinical.dates import known_date
from cdshooks.clinical.facts import CNS_SYMPTOM_KINDS, PatientFacts, Symptom, Therapy
from cdshooks.clinical.frozen import quick_init
from cdshooks.clinical.wording import Listing, Phrase, Shown, phrase_key

Params = Mapping[str, float]

SINCE = phrase_key("since", "what", "day")
UNKNOWN_DATE = phrase_key("unknown-date")
NONE_RECORDED = phrase_key("none-recorded")
AND_MORE = phrase_key("and-more", "first", "count")

SYSTEMIC = ("chemotherapy", "her2", "endocrine", "cdk46")
LFT_KINDS = ("alt", "ast", "bilirubin")


@quick_init  # built once per call, but on every order call
@dataclass(frozen=True)
class Suspicion:
    """Why metastases are suspected now (R01 #3); empty when nothing points that way."""

    bone_pain: tuple[Symptom, ...] = ()
    weight_loss: tuple[Symptom, ...] = ()
    visceral_symptoms: tuple[Symptom, ...] = ()
    high_alp: str | None = None  # the lab label
    abnormal_lfts: tuple[str, ...] = ()

    @property
    def any(self) -> bool:
        return bool(self.bone_pain or self.weight_loss or self.visceral_symptoms or self.high_alp
                    or self.abnormal_lfts)

    @property
    def visceral(self) -> bool:
        return bool(self.visceral_symptoms or self.abnormal_lfts)

    def describe(self) -> Listing | Phrase:
        parts: list[Shown] = [since(s) for s in earliest_per_kind(
            (*self.bone_pain, *self.weight_loss, *self.visceral_symptoms))]
        parts += [x for x in (self.high_alp, *self.abnormal_lfts) if x]
        return Listing(tuple(parts), "semicolon") if parts else NONE_RECORDED()

    def visceral_evidence(self) -> Listing:
        return Listing(tuple(self._visceral_parts()), "semicolon")

    def _visceral_parts(self) -> list[Shown]:
        return [*self.abnormal_lfts, *(since(s) for s in earliest_per_kind(self.visceral_symptoms))]


def since(symptom: Symptom) -> Phrase:
    """"<symptom> since <date>" in the phrase book's words."""
    return SINCE(what=symptom.label, day=day(symptom.onset))


def day(moment: datetime | None) -> Shown:
    return moment if moment else UNKNOWN_DATE()


_LAST_MOMENT = datetime.max.replace(tzinfo=UTC)  # sorts undated symptoms last


def earliest_per_kind(symptoms: tuple[Symptom, ...]) -> list[Symptom]:
    """One symptom per kind, the earliest recorded (the same pain often appears as problem and reason)."""
    first: dict[str, Symptom] = {}
    for symptom in sorted(symptoms, key=lambda s: (s.onset is None, s.onset or _LAST_MOMENT)):
        first.setdefault(symptom.kind, symptom)
    return list(first.values())


def suspicion(facts: PatientFacts, params: Params) -> Suspicion:
    """Why metastases are suspected now (once per call: the scenario gate and several rules ask)."""
    window = params["P_SUSPICION_LOOKBACK_DAYS"]
    return facts.once(("suspicion", window), _suspicion, facts, window)


def _suspicion(facts: PatientFacts, window: float) -> Suspicion:
    alp = facts.latest_lab("alp", window)
    lfts = tuple(lab.label for kind in LFT_KINDS if (lab := facts.latest_lab(kind, window)) and lab.flag == "high")
    return Suspicion(
        bone_pain=tuple(facts.recent_symptoms({"bone-pain"}, window)),
        weight_loss=tuple(facts.recent_symptoms({"weight-loss"}, window)),
        visceral_symptoms=tuple(facts.recent_symptoms({"visceral"}, window)),
        high_alp=alp.label if alp and alp.flag == "high" else None,
        abnormal_lfts=lfts,
    )


def cns_symptoms(facts: PatientFacts, params: Params) -> list[Symptom]:
    """New, specific neurological symptoms (R05 as corrected in clinical-rules.md §7.2): active, begun or observed
    within the window (a history entry known only by its recorded date does not count), and specific. Worked
    out once per call (the scenario gate and the CNS rules ask)."""
    window = params["P_SUSPICION_LOOKBACK_DAYS"]
    return list(facts.once(("cns_symptoms", window), lambda: tuple(
        s for s in facts.recent_symptoms(set(CNS_SYMPTOM_KINDS), window) if s.cns_specific and s.new_onset_known)))


def systemic_therapies(facts: PatientFacts, params: Params) -> list[Therapy]:
    """Systemic anticancer agents given or ordered within the neoadjuvant lookback window."""
    window = params["P_NEOADJ_LOOKBACK_DAYS"]
    return [t for t in facts.therapies_of(*SYSTEMIC)
            if t.ongoing or facts.within(t.last_dose or t.start, window)]


def neoadjuvant(facts: PatientFacts, params: Params) -> bool:
    """On systemic therapy with no definitive breast surgery after its start (a heuristic, R01 #2)."""
    for therapy in systemic_therapies(facts, params):
        start = therapy.start or therapy.last_dose
        if start is not None and not any(s >= start for s in facts.surgeries):
            return True
    return False


def scenario_applies(facts: PatientFacts, params: Params) -> bool:
    """The ACR scenario (R01): breast cancer, on systemic therapy, new suspicion, no CNS presentation.

    By default (P_SCENARIO_REQUIRE_NEOADJUVANT = 1) the therapy must look neoadjuvant: the ACR Topic 235
    Variant 6 table applies to its own scenario. With 0, any recent systemic therapy qualifies (the "looser
    mode" of clinical-rules.md §6 item 2), an off-label use of the variant that a site must switch on.

    Worked out once per call (the scenario rules and the ratings ask), keyed by the parameters it reads.
    """
    key = ("scenario_applies", *map(params.get, _SCENARIO_PARAMS))
    return facts.once(key, _scenario_applies, facts, params)


_SCENARIO_PARAMS = ("P_SUSPICION_LOOKBACK_DAYS", "P_SCENARIO_REQUIRE_NEOADJUVANT", "P_NEOADJ_LOOKBACK_DAYS")


def _scenario_applies(facts: PatientFacts, params: Params) -> bool:
    if facts.breast_cancer is None or cns_symptoms(facts, params):
        return False
    if not suspicion(facts, params).any:
        return False
    if params["P_SCENARIO_REQUIRE_NEOADJUVANT"] >= 1:
        return neoadjuvant(facts, params)
    return bool(systemic_therapies(facts, params))


def known_bone_mets(facts: PatientFacts) -> bool:
    """Bone metastasis established (coded, pathology, or a metastatic imaging reading not superseded)."""
    return facts.bone_mets_evidence() is not None


def known_or_suspected_bone_mets(facts: PatientFacts) -> bool:
    """Established, or suspected on imaging that no later result superseded (clinical-rules.md §7.1)."""
    return facts.bone_mets_suspected() is not None


def line_start(therapy: Therapy, gap_days: float) -> datetime | None:
    """Start of the agent's current line: its first dose, or the first dose after a gap of at least
    `gap_days` without it (an agent restarted after a break is a new line)."""
    doses = sorted(therapy.doses) or ([therapy.start] if therapy.start else [])
    if not doses:
        return None
    start = doses[0]
    gap = _whole_days(gap_days)
    if gap is not None:  # an oral agent has a dose a day: compare the timedeltas, no division per pair
        restarted = _last_after_gap(doses, gap)
        return restarted if restarted is not None else start
    for previous, current in pairwise(doses):
        if (current - previous) / _ONE_DAY >= gap_days:
            start = current
    return start


def _last_after_gap(doses: list[datetime], gap: timedelta) -> datetime | None:
    """The last dose that follows the dose before it by at least `gap` (None: no such gap). The differences
    and comparisons run in C (`map`, `compress`): a daily agent has hundreds of doses and usually no gap."""
    later = doses[1:]
    if not later or max(map(sub, later, doses)) < gap:
        return None  # no gap at all (most agents): one pass for the largest difference
    after_gap = compress(later, map(gap.__le__, map(sub, later, doses)))  # current - previous >= gap
    last = deque(after_gap, maxlen=1)
    return last[0] if last else None


_ONE_DAY = timedelta(days=1)
_EXACT_DAYS = 2 ** 17


def _whole_days(days: float) -> timedelta | None:
    """`days` as a timedelta when `delta >= it` decides exactly as `delta / _ONE_DAY >= days`: a whole number of
    days under 2**17 (the float quotient of two microsecond counts cannot round up to such a number from below,
    the float spacing there being finer than a microsecond in days); None for any other value."""
    whole = isinstance(days, int) or (isinstance(days, float) and days.is_integer())
    return timedelta(days=int(days)) if whole and abs(days) < _EXACT_DAYS else None


def new_therapy_lines(facts: PatientFacts, params: Params) -> list[Therapy]:
    """Systemic agents whose current line started within the extended flare window (newest first); each
    returned Therapy carries that line's start."""
    return therapy_lines_within(facts, params["P_FLARE_EXTENDED_MAX_DAYS"], params["P_NEW_THERAPY_GAP_DAYS"])


def therapy_lines_within(facts: PatientFacts, horizon: float, gap: float) -> list[Therapy]:
    """Systemic agents whose current line (`line_start` with `gap` days) started up to now and `within`
    `horizon` days, newest first; each returned Therapy carries that line's start."""
    since, whole_gap = _window_floor(facts.now, horizon), _whole_days(gap)
    out = []
    for therapy in facts.therapies_of(*SYSTEMIC):
        start = (line_start(therapy, gap) if since is None or whole_gap is None
                 else _line_start_since(therapy, whole_gap, since))
        if start is not None and start <= facts.now and facts.within(start, horizon):
            out.append(replace(therapy, start=start))
    return sorted(out, key=lambda t: t.start or facts.now, reverse=True)


# a local calendar date is at most one day from the UTC date (offsets are under 24 hours): `within` counts the days
# between two local dates, so an instant this many days more than the window before now is outside the window
_WINDOW_MARGIN_DAYS = 3


def _window_floor(now: datetime, days: float) -> datetime | None:
    """An instant before which nothing is `within(…, days)` of `now` (None: the window has no such bound)."""
    try:
        return now - timedelta(days=days + _WINDOW_MARGIN_DAYS)
    except (OverflowError, ValueError):  # an infinite, NaN or huge window
        return None


def _line_start_since(therapy: Therapy, gap: timedelta, since: datetime) -> datetime | None:
    """`line_start(therapy, gap_days)` (with `gap` its `_whole_days`) when that start is at or after `since`; None
    when it is earlier. Only the doses from the one before `since` on are searched for the gap that began the
    current line: an agent taken daily for years has hundreds of older doses that cannot start a line inside a
    window."""
    doses = sorted(therapy.doses)
    if not doses:
        start = therapy.start
        return start if start is not None and start >= since else None
    first_recent = bisect_left(doses, since)
    if first_recent == len(doses):
        return None  # every dose is older, and so is the line's start
    restarted = _last_after_gap(doses[max(first_recent - 1, 0):], gap)  # every pair that ends at or after `since`
    if restarted is not None:
        return restarted  # the last gap of all: no later pair was left out
    # no gap since: the line began at the first dose, or with a gap before `since`
    return doses[0] if first_recent == 0 else None


def last_chemotherapy(facts: PatientFacts) -> Therapy | None:
    given = [t for t in facts.therapies_of("chemotherapy") if t.last_dose is not None and t.last_dose <= facts.now]
    return max(given, key=lambda t: known_date(t.last_dose)) if given else None


def days_between(a: datetime, b: datetime) -> int:
    return abs(round((a - b) / _ONE_DAY))


def calendar_days(later: datetime, earlier: datetime) -> int:
    """Whole calendar days from `earlier` to `later` (negative when `later` is before): a report dated only by
    its day and a dose given that morning are compared day to day, as a clinician counts them."""
    return (later.date() - earlier.date()).days


def renal_impairment(facts: PatientFacts, params: Params) -> str | None:
    """Evidence that makes iodinated contrast high-risk (R07, clinical-rules.md §7.2; ACR–NKF 2020 consensus):
    a recent eGFR under the limit (30), or an active CKD stage 4/5, ESRD, dialysis or acute kidney injury
    condition (VS_CKD severe kinds, VS_RENAL_CONTRAST_RISK)."""
    egfr = facts.latest_lab("egfr", params["P_EGFR_LOOKBACK_DAYS"])
    if egfr is not None and egfr.value is not None and egfr.value < params["P_EGFR_CONTRAST_LIMIT"]:
        return egfr.label
    if facts.ckd_severe is not None:
        return facts.ckd_severe.label
    return None
