"""Facts from imaging: one ImagingResult per radiology report, per unreported ImagingStudy and per
standalone imaging finding. An ImagingStudy that a report or a finding points to is that result's study,
not a second, unreported one.

Every place a result is filed is read, the way EHRs file them (clinical-rules.md §4.1, §7.1):
- DiagnosticReport `conclusion`, `conclusionCode`, and every `presentedForm` attachment (text/plain,
  text/html with its tags dropped, base64 `data`; addenda read after the original, by `creation` date);
- the report's result Observations: narrative `valueString`, `note`, and coded findings (94222008 / C79.51)
  with their `value` (Present / Absent / Not detected / Negative / Indeterminate) or `interpretation`;
  a `dataAbsentReason` means there is no value;
- imaging Observations not listed in any report: linked to a study by `derivedFrom` / `partOf`, or — with
  no link — to the one report or study of the same modality on the same day.

Status: entered-in-error, cancelled, registered and unknown never count. A preliminary (or partial) report
counts until a final, amended or corrected version of the same report is on record (same id, identifier,
imaging study or order); `report_status` keeps the status on the result.

The report text is read with its study's modality and procedure class (`read_report`). A coded result
beats the text for bone status; the text still gives character, changes, site and risk features.
"""

from __future__ import annotations

import base64
import binascii
import codecs
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from typing import Any

from cdshooks.clinical.evidence import BONE, Assertion, Status
from cdshooks.clinical.extract.common import (
    EXCLUDED_VERIFICATION,
    ObservationCodes,
    Resource,
    as_dict,
    as_list,
    cached,
    code_of,
    concepts,
    first_date,
    has_status,
    label_of,
    procedure_class_of,
    ref,
    site_text,
    status,
    verified,
)
from cdshooks.clinical.facts import Condition, ImagingResult
from cdshooks.clinical.knowledge import Knowledge, ValueSet
from cdshooks.clinical.report_reading import BoneMetResult, ReportReading, read_report
from cdshooks.fhir.codes import ConceptProfile, codings, concept_text

FINAL = {"final", "amended", "corrected", "appended"}
PRELIMINARY = {"preliminary", "partial"}
USABLE = FINAL | PRELIMINARY  # entered-in-error, cancelled, registered, unknown never count
Resolver = Callable[[str | None], Resource | None]
_QUALIFIER_RESULT = {
    "present": BoneMetResult.POSITIVE, "positive": BoneMetResult.POSITIVE,
    "absent": BoneMetResult.NEGATIVE, "negative": BoneMetResult.NEGATIVE, "no-abnormality": BoneMetResult.NEGATIVE,
    "indeterminate": BoneMetResult.INDETERMINATE,
}
_STATUS_OF_CODED = {BoneMetResult.POSITIVE: Status.METASTATIC, BoneMetResult.INDETERMINATE: Status.INDETERMINATE,
                    BoneMetResult.NEGATIVE: Status.NEGATIVE}
MAX_TEXT = 20_000  # characters of report text read per result (all places together)
MAX_ATTACHMENTS = 10  # presentedForm attachments (original + addenda) read per report
MAX_OBSERVATIONS = 50  # result Observations read per report
_MAX_B64 = (MAX_TEXT * 4 // 3 + 3) // 4 * 4  # base64 characters that decode to at most ~MAX_TEXT bytes
_BLOCK_TAGS = {"p", "br", "div", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "section", "pre",
               "table", "ul", "ol", "hr", "dt", "dd", "blockquote"}


def _dicts(value: Any) -> list[dict[str, Any]]:
    """A repeating element's objects (odd entries dropped)."""
    return [v for v in as_list(value) if isinstance(v, dict)]


# -- text of the report ---------------------------------------------------------------------------------

class _HTMLText(HTMLParser):
    """Visible text of an HTML fragment: tags dropped, block elements end a line, script/style skipped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._size = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style", "head", "title"}:
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style", "head", "title"}:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip and self._size < MAX_TEXT:
            self.parts.append(data)
            self._size += len(data)


def html_text(markup: str) -> str:
    """The visible text of HTML (never raises; bounded)."""
    parser = _HTMLText()
    try:
        parser.feed(markup[:MAX_TEXT * 2])
        parser.close()
    except Exception:  # odd markup must not fail the hook: keep what was read
        pass
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)[:MAX_TEXT]


def _charset(content_type: str) -> str:
    for part in content_type.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset":
            name = value.strip().strip('"').lower()
            try:
                codecs.lookup(name)
            except LookupError:
                return "utf-8"
            return name
    return "utf-8"


def attachment_text(attachment: Any) -> str:
    """Text of one Attachment: text/plain or text/html (or no content type), base64 `data`; others ignored."""
    if not isinstance(attachment, dict):
        return ""
    content_type = attachment.get("contentType")
    content_type = content_type.strip().lower() if isinstance(content_type, str) else ""
    if content_type and not content_type.startswith(("text/", "application/xhtml")):
        return ""  # PDF, images, RTF ...: not read
    data = attachment.get("data")
    if not isinstance(data, str) or not data:
        return ""
    try:
        raw = base64.b64decode("".join(data[:_MAX_B64 + 200].split())[:_MAX_B64], validate=False)
    except (binascii.Error, ValueError):
        return ""
    text = raw[:MAX_TEXT].decode(_charset(content_type), "replace")
    is_html = "html" in content_type or (not content_type and text.lstrip()[:1] == "<")
    return html_text(text) if is_html else text


def _presented_text(report: Resource) -> list[str]:
    """Every presentedForm attachment's text, the original first and addenda after it (by `creation` when
    every attachment is dated, else in the order filed)."""
    forms = report.get("presentedForm")
    if forms is None:
        return []
    # a list no longer than the bound needs no `_dicts` copy to find out that no form holds data (the usual report:
    # its forms are links); the loop only reads, and any other shape is read by the general code below
    if type(forms) is list and len(forms) <= MAX_ATTACHMENTS:
        for form in forms:
            if isinstance(form, dict) and isinstance(data := form.get("data"), str) and data:
                break
        else:
            return []
    attachments = _dicts(forms)[:MAX_ATTACHMENTS]
    if not any(isinstance(a.get("data"), str) and a["data"] for a in attachments):
        return []  # every form is a link (`url`) or empty: no text to read, nothing to order
    created = [first_date(a, "creation") for a in attachments]
    if attachments and all(c is not None for c in created):
        attachments = [a for _, _, a in sorted(zip(created, range(len(attachments)), attachments, strict=True),
                                               key=lambda t: (t[0], t[1]))]
    texts = [attachment_text(a) for a in attachments]
    return [t for t in texts if t.strip()]


def _bounded(parts: Iterable[str]) -> str:
    out: list[str] = []
    size = 0
    for part in parts:
        part = part.strip()
        if not part or part in out:
            continue  # the conclusion is often filed twice (conclusion and an Observation)
        out.append(part[:MAX_TEXT - size])
        size += len(out[-1]) + 1
        if size >= MAX_TEXT:
            break
    return "\n".join(out)


# -- coded results --------------------------------------------------------------------------------------

def _qualifier(kb: Knowledge, concept: Any) -> BoneMetResult | None:
    """The result a qualifier value names (Present, Absent, Indeterminate ...), once per concept profile."""
    return cached(concept, (kb, "result-qualifier"), lambda read: _qualifier_of(kb, read))


def _qualifier_of(kb: Knowledge, concept: Any) -> BoneMetResult | None:
    for kind in sorted(kb.valueset("VS_RESULT_QUALIFIERS").kinds(concept)):
        if kind in _QUALIFIER_RESULT:
            return _QUALIFIER_RESULT[kind]
    return None


def _report_coded(kb: Knowledge, conclusion_code: Any) -> BoneMetResult | None:
    """`_coded_result(kb, concepts(conclusion_code))` without building the list for the usual shapes: no
    conclusionCode (nothing coded), or a list of one CodeableConcept (which is what `concepts` would give)."""
    if conclusion_code is None:
        return None
    if type(conclusion_code) is list and len(conclusion_code) == 1 and type(conclusion_code[0]) is dict:
        return _coded_result(kb, conclusion_code)
    return _coded_result(kb, concepts(conclusion_code))


def _coded_result(kb: Knowledge, conclusion_codes: list[Any]) -> BoneMetResult | None:
    if len(conclusion_codes) == 1:  # the usual report: one code, its answer kept on its profile
        return cached(conclusion_codes[0], (kb, "conclusion-code"), lambda read: _conclusion_code(kb, read))
    return _strongest([_conclusion_code(kb, concept) for concept in conclusion_codes])


def _conclusion_code(kb: Knowledge, concept: Any) -> BoneMetResult | None:
    """What one conclusionCode says about bone metastasis: the bone-metastasis code itself is positive, a
    qualifier (absent, indeterminate ...) says what it says; "positive" alone does not say for what."""
    if kb.valueset("VS_BONE_METS").matches(concept):
        return BoneMetResult.POSITIVE
    found = _qualifier(kb, concept)
    return None if found is BoneMetResult.POSITIVE else found


def _strongest(results: Iterable[BoneMetResult | None]) -> BoneMetResult | None:
    found = set(results)
    for result in (BoneMetResult.POSITIVE, BoneMetResult.INDETERMINATE, BoneMetResult.NEGATIVE):
        if result in found:
            return result
    return None


def observation_result(kb: Knowledge, observation: Resource) -> BoneMetResult | None:
    """Result of an imaging Observation about bone metastasis (code 94222008 / C79.51 + value).

    The value says it (Present / Absent / Not detected / Negative / Indeterminate, a boolean, or a short
    valueString such as "Not detected"), else the interpretation (POS / NEG / IND). A dataAbsentReason
    means there is no value, so no result."""
    if not kb.valueset("VS_BONE_METS").matches(observation.get("code")):
        return None
    if observation.get("dataAbsentReason") is not None:
        return None
    if observation.get("valueBoolean") is True:
        return BoneMetResult.POSITIVE
    if observation.get("valueBoolean") is False:
        return BoneMetResult.NEGATIVE
    value = observation.get("valueCodeableConcept")
    found = _qualifier(kb, value) if isinstance(value, dict) else None
    text_value = observation.get("valueString")
    if found is None and isinstance(text_value, str) and len(text_value) <= 40:
        found = _qualifier(kb, {"text": text_value})
    if found is None:
        for concept in concepts(observation.get("interpretation")):
            kinds = kb.valueset("VS_INTERPRETATION").kinds(concept)
            found = next((_QUALIFIER_RESULT[k] for k in ("positive", "negative", "indeterminate") if k in kinds), None)
            if found:
                break
    return found


def _observation_text(observation: Resource) -> list[str]:
    """Narrative an Observation carries: valueString and note texts (not when a dataAbsentReason is given)."""
    parts = []
    value = observation.get("valueString")
    if isinstance(value, str) and observation.get("dataAbsentReason") is None:
        parts.append(value[:MAX_TEXT])
    notes = observation.get("note")
    if notes is not None:  # most findings carry none
        parts.extend(n["text"][:MAX_TEXT] for n in _dicts(notes) if isinstance(n.get("text"), str))
    return parts


def assertions_of(reading: ReportReading, coded: BoneMetResult | None) -> tuple[Assertion, ...]:
    """The result's assertions: the reader's, with the bone status taken from the coded result when there
    is one (the text still gives character, changes, site and features of the bone finding)."""
    status_ = _STATUS_OF_CODED.get(coded) if coded is not None else None
    if status_ is None:
        return reading.assertions
    key = ("assertions_of", status_)
    found: tuple[Assertion, ...] | None = reading.memo.get(key)
    if found is None:  # a pure function of the reading and the coded status: once per remembered reading
        found = reading.memo[key] = _with_coded_status(reading, status_)
    return found


def _with_coded_status(reading: ReportReading, status_: Status) -> tuple[Assertion, ...]:
    """The reader's assertions with one bone assertion of the coded status, detailed from the text's."""
    bone = [a for a in reading.assertions if a.region == BONE]
    others = tuple(a for a in reading.assertions if a.region != BONE)
    detail = [a for a in bone if a.status is status_] or bone
    character = next((a.character for a in detail if a.character), None)
    if character is None and status_ is not Status.NEGATIVE and reading.character is not None:
        character = str(reading.character)
    changes = frozenset().union(*(a.changes for a in detail)) if detail else frozenset(
        str(c) for c in reading.changes)
    site = next((a.site for a in detail if a.site), None)
    features: frozenset[str] = frozenset().union(*(a.features for a in detail)) if detail else frozenset()
    return (Assertion(BONE, status_, character, changes, site, features), *others)


# -- studies ----------------------------------------------------------------------------------------------

def _study_class(kb: Knowledge, study: Resource) -> tuple[str | None, str | None]:
    """(procedure class, modality) of an ImagingStudy."""
    procedure = None
    for concept in concepts(study.get("procedureCode")):
        procedure = procedure or procedure_class_of(kb, concept)
    text = study.get("description")
    if procedure is None and isinstance(text, str):
        procedure = procedure_class_of(kb, {"text": text})
    modalities = [code for c in as_list(study.get("modality")) for _, code, _ in codings({"coding": [c]})]
    for series in as_list(study.get("series")):
        series_modality = as_dict(as_dict(series).get("modality"))
        if isinstance(series_modality.get("code"), str):
            modalities.append(series_modality["code"])
    modality = _modality(kb, procedure) or _dicom_modality(modalities)
    return procedure, modality


def _dicom_modality(codes: list[str | None]) -> str | None:
    upper = {c.upper() for c in codes if c}
    for wanted in ("PT", "NM", "MR", "CT"):
        if wanted in upper:
            return wanted
    return "XR" if upper & {"CR", "DX", "RF"} else None


def _modality(kb: Knowledge, procedure: str | None) -> str | None:
    if procedure is None:
        return None
    modality = kb.procedure_field(procedure, "modality")
    return modality if isinstance(modality, str) else None


_MODALITY_NAMES = {"NM": "Nuclear medicine study", "CT": "CT", "PT": "PET/CT", "MR": "MRI", "XR": "Radiograph"}


def _short_name(kb: Knowledge, procedure: str | None, concept: Any, modality: str | None,
                names: dict[str, str | None] | None = None) -> str:
    """The procedure's short name, else a name for the modality, else the concept's label. `names` keeps the
    knowledge's name per procedure class for the call (the reports of a record repeat a few classes)."""
    if procedure is None:
        name = None
    elif names is None:
        name = kb.procedure_name(procedure)
    else:
        try:
            name = names[procedure]
        except KeyError:
            name = names[procedure] = kb.procedure_name(procedure)
    if name is not None:
        return name
    return _MODALITY_NAMES.get(modality or "", label_of(concept, "Imaging study")[:40])


def _label(name: str, when: Any) -> str:
    return f"{name} {when.date().isoformat()}" if when is not None else name


_DROPPED_FINDING = frozenset({"entered-in-error", "cancelled"})  # a report's findings with these never count


def _link_targets(value: Any, resolve: Resolver, limit: int | None = None) -> list[Any]:
    """`[resolve(link.get("reference")) for link in _dicts(value)[:limit]]` (what every Reference of a repeating
    element resolves to, None included), the usual shapes in one pass: no element, or a list no longer than
    `limit` (dropping its odd entries only shortens it, so it needs no bound)."""
    if value is None:
        return []
    if type(value) is list and (limit is None or len(value) <= limit):
        return [resolve(link.get("reference")) for link in value if isinstance(link, dict)]
    return [resolve(link.get("reference")) for link in _dicts(value)[:limit]]


def _effective(resource: Resource) -> datetime | None:
    """When a report or an imaging finding was made: its effective time, else when it was issued."""
    return first_date(resource, "effectiveDateTime", "effectivePeriod.start", "issued")


def _linked_studies(observation: Resource, resolve: Resolver) -> list[Resource]:
    """The ImagingStudies an imaging finding derives from (derivedFrom / partOf) that resolve."""
    out = []
    for link in _dicts(observation.get("derivedFrom")) + _dicts(observation.get("partOf")):
        target = resolve(link.get("reference"))
        if isinstance(target, dict) and target.get("resourceType") == "ImagingStudy":
            out.append(target)
    return out


def _references(resource: Resource, element: str) -> set[str]:
    return {r["reference"] for r in _dicts(resource.get(element)) if isinstance(r.get("reference"), str)}


def _identifiers(resource: Resource) -> set[tuple[str, str]]:
    return {(str(i.get("system", "")), i["value"]) for i in _dicts(resource.get("identifier"))
            if isinstance(i.get("value"), str) and i["value"]}


def _version_keys(resource: Resource) -> set[tuple[str, ...]]:
    """What ties versions of one report together: its id, identifiers, imaging studies and orders."""
    keys: set[tuple[str, ...]] = {("identifier", *i) for i in _identifiers(resource)}
    if isinstance(resource.get("id"), str) and resource["id"]:
        keys.add(("id", resource["id"]))
    for element in ("imagingStudy", "basedOn", "derivedFrom", "partOf"):
        keys.update(("reference", r) for r in _references(resource, element))
    return keys


def usable(resources: Iterable[Resource], wanted: Callable[[Resource], bool] | None = None) -> list[Resource]:
    """Resources whose result counts: verified and final-like, or preliminary with no final, amended or
    corrected version of the same report on record (same id, identifier, imaging study or order).

    With `wanted`, only the usable resources it accepts are returned, in one pass over a long list (every
    Observation, most of them labs): a final version still counts against a preliminary one when `wanted`
    passes it over, so the answer is `[r for r in usable(resources) if wanted(r)]`."""
    candidates = []  # every usable-status resource: the final versions a preliminary one is checked against
    kept = []
    preliminary = False  # whether a kept resource is not final-like (then its final versions are looked for)
    for r in resources:  # `verified(r) and status(r) in USABLE` (which leaves out entered-in-error), read once
        if not isinstance(r, dict):
            continue
        verification = r.get("verificationStatus")
        if verification is not None and has_status(verification, EXCLUDED_VERIFICATION):
            continue
        state = r.get("status")
        if isinstance(state, str) and state in USABLE:
            candidates.append(r)
            if wanted is None or wanted(r):
                kept.append(r)
                preliminary = preliminary or state not in FINAL
    if not preliminary:
        return kept  # nothing preliminary to check against the final versions
    final_keys: set[tuple[str, ...]] = set()
    for resource in candidates:
        if status(resource) in FINAL:
            final_keys |= _version_keys(resource)
    return [r for r in kept if status(r) in FINAL or not (_version_keys(r) & final_keys)]


def worth_filing(observation: Resource, codes: ObservationCodes | None, bone_mets: ValueSet) -> bool:
    """A study link, text or a bone finding: anything else (a lab) has nothing to file."""
    return bool(observation.get("derivedFrom") or observation.get("partOf")
                or observation.get("valueString") is not None or observation.get("note") is not None
                or bone_mets.matches(code_of(observation, codes)))


def filed_observations(observations: tuple[Resource, ...], codes: ObservationCodes | None,
                       bone_mets: ValueSet) -> list[Resource]:
    """The usable Observations worth filing: `usable(observations, worth_filing)`.

    Why a fast path: the scan meets every Observation of the record, most of them labs with nothing to file, and the
    general path asks each one through three calls (the status filter, the predicate, the value set). The fast path
    (`_filed_fast`) asks the predicate first, inline, with the value set's answer kept per code profile for the
    call. It answers only when every entry is a dict and every Observation it keeps is final-like with a string
    status; otherwise (a preliminary finding to check against its final versions, odd entries) this is the general
    path."""
    found = _filed_fast(observations, codes, bone_mets)
    if found is not None:
        return found
    return usable(observations, lambda observation: worth_filing(observation, codes, bone_mets))


def _filed_fast(observations: tuple[Resource, ...], codes: ObservationCodes | None,
                bone_mets: ValueSet) -> list[Resource] | None:
    """`usable(observations, worth_filing)` for the usual record, or None when the general path must answer.

    The predicate is pure, so it may be asked before the status; an Observation it passes over is never read
    further. `bone` holds the value set's answer per code profile of `codes` (alive for the call, so their ids
    are stable); a code read outside `codes` is matched as `worth_filing` matches it."""
    kept: list[Resource] = []
    bone: dict[int, bool] = {}
    known = codes.get if codes is not None else _NO_CODES.get  # (looked up once, not per Observation)
    for r in observations:
        if type(r) is not dict:
            return None  # a non-dict (skipped) or a dict subclass: the general path reads them
        if not (r.get("derivedFrom") or r.get("partOf") or r.get("valueString") is not None
                or r.get("note") is not None):
            code = known(id(r))
            if code is None:
                if not bone_mets.matches(code_of(r, codes)):
                    continue
            else:
                hit = bone.get(id(code))
                if hit is None:
                    hit = bone[id(code)] = bone_mets.matches(code)
                if not hit:
                    continue
        verification = r.get("verificationStatus")
        if verification is not None and has_status(verification, EXCLUDED_VERIFICATION):
            continue
        state = r.get("status")
        if type(state) is not str:
            return None  # not usable, or a str subclass: the general path decides
        if state in FINAL:
            kept.append(r)
        elif state in PRELIMINARY:
            return None  # counts only without a final version on record: the general path checks them
    return kept


_NO_CODES: ObservationCodes = {}  # (never filled)


@dataclass(slots=True)
class _Report:
    resource: Resource
    procedure: str | None
    modality: str | None
    when: datetime | None
    studies: list[Resource]
    observations: list[Resource] = field(default_factory=list)


def _subject(resource: Resource) -> str | None:
    reference = as_dict(resource.get("subject")).get("reference")
    return reference if isinstance(reference, str) else None


def _same_day_match(observation: Resource, when: datetime | None, modality: str | None,
                    candidates: list[tuple[Any, str | None, datetime | None, str | None]]) -> Any:
    """The one candidate (report or study) of the same patient, same modality (when the finding names one) and
    same day as an unlinked finding; None when there is none or more than one."""
    if when is None:
        return None
    subject = _subject(observation)
    found = [item for item, item_modality, item_when, item_subject in candidates
             if item_when is not None and item_when.date() == when.date()
             and (subject is None or item_subject is None or subject == item_subject)
             and (modality is None or item_modality is None or modality == item_modality)]
    return found[0] if len(found) == 1 else None


def _observation_modality(kb: Knowledge, observation: Resource) -> str | None:
    """A modality the finding names itself (its `method`, or a procedure-coded `code`), if any."""
    for element in ("method", "code"):
        procedure = procedure_class_of(kb, observation.get(element)) if isinstance(observation.get(element), dict) \
            else None
        if procedure is not None:
            return _modality(kb, procedure)
    return None


def _result_of(kb: Knowledge, source: str, label: str, procedure: str | None, modality: str | None,
               when: datetime | None, texts: list[str], coded: BoneMetResult | None, basis: str, site: str | None,
               report_status: str) -> ImagingResult:
    text = _bounded(texts)
    reading = read_report(text, modality, procedure, kb.report_grammar)
    result = coded if coded is not None else reading.result
    # every field by position, in the order RESULT_FIELDS names (a keyword call costs about twice as much; the
    # order is checked by tests/clinical/test_imaging_fast_paths.py)
    return ImagingResult(source, label, procedure, modality, when, result, reading.character, reading.changes,
                         reading.multifocal, reading.solitary_focus, reading.osteopenia, site, basis, text[:2000],
                         assertions_of(reading, coded), report_status)


RESULT_FIELDS = ("source", "label", "procedure_class", "modality", "when", "result", "character", "changes",
                 "multifocal", "solitary_focus", "osteopenia", "site", "basis", "conclusion", "assertions",
                 "report_status")
"""The ImagingResult fields `_result_of` passes by position, in that order."""


def extract_imaging(kb: Knowledge, record_of: Callable[[str], tuple[Resource, ...]],
                    resolve: Resolver, codes: ObservationCodes | None = None) -> list[ImagingResult]:
    radiology = kb.valueset("VS_RADIOLOGY_REPORT_CATEGORY")
    reports: list[_Report] = []
    reported_studies: set[str] = set()
    used_observations: set[str] = set()
    modalities: dict[str | None, str | None] = {}  # per call: `_modality(kb, procedure)` by procedure class
    all_reports = record_of("DiagnosticReport")
    # each report's result links, resolved once: by the report's id() (`all_reports` holds the reports for the call)
    results_of: dict[int, list[Any]] = {}
    for report in all_reports:  # a report's own findings are never a separate result
        if isinstance(report, dict):
            linked = results_of[id(report)] = _link_targets(report.get("result"), resolve, MAX_OBSERVATIONS)
            for resolved in linked:
                if isinstance(resolved, dict):
                    used_observations.add(ref(resolved))
    for report in usable(all_reports):
        studies = [s for s in _link_targets(report.get("imagingStudy"), resolve) if isinstance(s, dict)]
        procedure = procedure_class_of(kb, report.get("code"))
        try:  # the reports of a record name a few procedure classes again and again
            modality = modalities[procedure]
        except KeyError:
            modality = modalities[procedure] = _modality(kb, procedure)
        for report_study in studies:
            if procedure is None or modality is None:
                s_proc, s_mod = _study_class(kb, report_study)
                procedure, modality = procedure or s_proc, modality or s_mod
        if procedure is None and modality is None and not any(radiology.matches(c)
                                                              for c in concepts(report.get("category"))):
            continue  # neither an imaging procedure nor a radiology report
        for linked_study in studies:
            reported_studies.add(ref(linked_study))
        observations = []
        for o in results_of[id(report)]:  # `verified(o) and status(o) not in _DROPPED_FINDING`, inline
            if not isinstance(o, dict):
                continue
            verification = o.get("verificationStatus")
            if verification is not None and has_status(verification, EXCLUDED_VERIFICATION):
                continue
            state = o.get("status")
            if not (isinstance(state, str) and state in _DROPPED_FINDING):
                observations.append(o)
        when = _effective(report)
        reports.append(_Report(report, procedure, modality, when, studies, observations))

    # standalone imaging findings: to their report (through its study, or same day), else their own result
    study_reports = {ref(s): r for r in reports for s in r.studies}
    unreported = [s for s in record_of("ImagingStudy")
                  if ref(s) not in reported_studies and verified(s) and status(s) not in {"cancelled", "registered"}]
    study_classes = {ref(s): _study_class(kb, s) for s in unreported}
    day_candidates: list[tuple[Any, str | None, datetime | None, str | None]] = [
        (r, r.modality, r.when, _subject(r.resource)) for r in reports]
    day_candidates += [(s, study_classes[ref(s)][1], first_date(s, "started"), _subject(s)) for s in unreported
                       if any(study_classes[ref(s)])]
    standalone: list[tuple[Resource, Resource | None]] = []
    for observation in filed_observations(record_of("Observation"), codes, kb.valueset("VS_BONE_METS")):
        if ref(observation) in used_observations:
            continue
        links = observation.get("derivedFrom") or observation.get("partOf")
        has_result = observation_result(kb, observation) is not None
        linked = _linked_studies(observation, resolve) if links else []
        target: Any = next((study_reports[ref(s)] for s in linked if ref(s) in study_reports), None) \
            if linked else None
        study = linked[0] if linked else None
        if target is None and not linked and (has_result or _observation_text(observation)) and _is_imaging(
                kb, observation):
            when = _effective(observation)
            target = _same_day_match(observation, when, _observation_modality(kb, observation), day_candidates)
            if isinstance(target, dict):
                study, target = target, None
        if isinstance(target, _Report):
            target.observations.append(observation)
            continue
        if has_result or (study is not None and _observation_text(observation)):
            standalone.append((observation, study))

    names: dict[str, str | None] = {}  # per call: `kb.procedure_name(procedure)` by procedure class
    results = [_report_result(kb, r, names) for r in reports]
    for observation, study in standalone:
        procedure = modality = None
        if study is not None:
            reported_studies.add(ref(study))  # the finding is this study's result: no separate unreported study
            procedure, modality = _study_class(kb, study)
        when = _effective(observation) or (
            first_date(study, "started") if study is not None else None)
        texts = _observation_text(observation)
        value_text = concept_text(observation.get("valueCodeableConcept"))
        name = _short_name(kb, procedure, None, modality) if (procedure or modality) else "Imaging finding"
        results.append(_result_of(kb, ref(observation), _label(name, when), procedure, modality, when,
                                  texts + ([value_text] if value_text else []), observation_result(kb, observation),
                                  "observation", site_text(observation), status(observation) or "final"))
    for study in unreported:
        if ref(study) in reported_studies:
            continue
        procedure, modality = study_classes[ref(study)]
        if procedure is None and modality is None:
            continue
        when = first_date(study, "started")
        name = _short_name(kb, procedure, {"text": study.get("description")} if study.get("description") else None,
                           modality)
        results.append(ImagingResult(source=ref(study), label=_label(name, when), procedure_class=procedure,
                                     modality=modality, when=when, result=BoneMetResult.UNKNOWN, character=None,
                                     basis="study", report_status=status(study) or "available"))
    return results


def _is_imaging(kb: Knowledge, observation: Resource) -> bool:
    """An imaging finding: category imaging, or a bone-metastasis finding code."""
    for concept in concepts(observation.get("category")):
        if cached(concept, "imaging-category", _names_imaging):
            return True
    return kb.valueset("VS_BONE_METS").matches(observation.get("code"))


def _names_imaging(read: ConceptProfile) -> bool:
    """Whether a category concept carries the code "imaging" (once per concept profile)."""
    return any(code == "imaging" for _, code, _ in read.codings)


def _report_result(kb: Knowledge, item: _Report, names: dict[str, str | None] | None = None) -> ImagingResult:
    report = item.resource
    coded = _report_coded(kb, report.get("conclusionCode"))
    basis = "conclusionCode" if coded is not None else "text"
    site = None
    texts: list[str] = []
    conclusion = report.get("conclusion")
    if isinstance(conclusion, str):
        texts.append(conclusion[:MAX_TEXT])
    texts.extend(_presented_text(report))
    observed = []
    for observation in item.observations:
        if coded is None:  # a coded conclusion decides: the findings' own codes would not be read
            observed.append(observation_result(kb, observation))
        site = site or site_text(observation)
        texts.extend(_observation_text(observation))
    found = _strongest(observed) if observed else None  # (with a coded conclusion no finding was read)
    if coded is None and found is not None:
        coded, basis = found, "observation"
    label = _label(_short_name(kb, item.procedure, report.get("code"), item.modality, names), item.when)
    return _result_of(kb, ref(report), label, item.procedure, item.modality, item.when, texts, coded, basis, site,
                      status(report) or "final")


def extract_bone_pathology(kb: Knowledge, reports: tuple[Resource, ...]) -> list[Condition]:
    """Pathology reports (final-like, category pathology) coded as bone metastasis (conclusionCode in
    VS_BONE_METS): established bone metastasis by tissue (clinical-rules.md §7.1)."""
    category = kb.valueset("VS_PATHOLOGY_REPORT_CATEGORY")
    bone_mets = kb.valueset("VS_BONE_METS")
    out = []
    for report in reports:
        if not isinstance(report, dict) or not verified(report) or status(report) not in FINAL:
            continue
        # the conclusion first: most reports have none, or one that is not a bone metastasis (both pure checks)
        if not any(bone_mets.matches(c) for c in concepts(report.get("conclusionCode"))):
            continue
        if not any(category.matches_codings(c) for c in concepts(report.get("category"))):
            continue
        when = _effective(report)
        out.append(Condition(label_of(report.get("code"), "Pathology report"), when, ref(report),
                             text="pathology: bone metastasis"))
    return out
