"""Facts from imaging: one ImagingResult per radiology report, per unreported ImagingStudy and per
standalone imaging finding (final, amended or corrected only). An ImagingStudy that a report or a finding
points to is that result's study, not a second, unreported one.

How a result for bone metastasis is read, strongest evidence first: DiagnosticReport.conclusionCode, then
the imaging Observations the report points to, then the conclusion / presentedForm text (negation,
uncertainty and change aware). Lesion character and change always come from the text when there is text.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from cdshooks.clinical.extract.common import (
    Resource,
    as_dict,
    as_list,
    concepts,
    first_date,
    label_of,
    ref,
    site_text,
    status,
    verified,
)
from cdshooks.clinical.facts import ImagingResult
from cdshooks.clinical.knowledge import Knowledge
from cdshooks.clinical.report_reading import BoneMetResult, ReportReading, read_report
from cdshooks.fhir.codes import codings, concept_text

FINAL = {"final", "amended", "corrected", "appended"}
Resolver = Callable[[str | None], Resource | None]
_QUALIFIER_RESULT = {
    "present": BoneMetResult.POSITIVE, "positive": BoneMetResult.POSITIVE,
    "absent": BoneMetResult.NEGATIVE, "negative": BoneMetResult.NEGATIVE, "no-abnormality": BoneMetResult.NEGATIVE,
    "indeterminate": BoneMetResult.INDETERMINATE,
}
MAX_TEXT = 20_000


def _presented_text(report: Resource) -> str:
    parts = []
    for attachment in as_list(report.get("presentedForm")):
        if not isinstance(attachment, dict) or not str(attachment.get("contentType", "")).startswith("text/"):
            continue
        data = attachment.get("data")
        if isinstance(data, str):
            try:
                parts.append(base64.b64decode(data, validate=False)[:MAX_TEXT].decode("utf-8", "replace"))
            except (binascii.Error, ValueError):
                continue
    return "\n".join(parts)


def _qualifier(kb: Knowledge, concept: Any) -> BoneMetResult | None:
    for kind in sorted(kb.valueset("VS_RESULT_QUALIFIERS").kinds(concept)):
        if kind in _QUALIFIER_RESULT:
            return _QUALIFIER_RESULT[kind]
    return None


def _coded_result(kb: Knowledge, conclusion_codes: list[Any]) -> BoneMetResult | None:
    results = set()
    for concept in conclusion_codes:
        if kb.valueset("VS_BONE_METS").matches(concept):
            results.add(BoneMetResult.POSITIVE)
        else:
            found = _qualifier(kb, concept)
            if found is BoneMetResult.POSITIVE:
                continue  # "positive" alone does not say for what
            if found is not None:
                results.add(found)
    for result in (BoneMetResult.POSITIVE, BoneMetResult.INDETERMINATE, BoneMetResult.NEGATIVE):
        if result in results:
            return result
    return None


def observation_result(kb: Knowledge, observation: Resource) -> BoneMetResult | None:
    """Result of an imaging Observation about bone metastasis (code 94222008 / C79.51 + value)."""
    if not kb.valueset("VS_BONE_METS").matches(observation.get("code")):
        return None
    value = observation.get("valueCodeableConcept")
    if observation.get("valueBoolean") is True:
        return BoneMetResult.POSITIVE
    if observation.get("valueBoolean") is False:
        return BoneMetResult.NEGATIVE
    found = _qualifier(kb, value) if isinstance(value, dict) else None
    if found is None:
        for concept in concepts(observation.get("interpretation")):
            kinds = kb.valueset("VS_INTERPRETATION").kinds(concept)
            found = next((_QUALIFIER_RESULT[k] for k in ("positive", "negative", "indeterminate") if k in kinds), None)
            if found:
                break
    return found


def _study_class(kb: Knowledge, study: Resource) -> tuple[str | None, str | None]:
    """(procedure class, modality) of an ImagingStudy."""
    procedure = None
    for concept in concepts(study.get("procedureCode")):
        procedure = procedure or kb.procedure_class(concept)
    text = study.get("description")
    if procedure is None and isinstance(text, str):
        procedure = kb.procedure_class({"text": text})
    modalities = [code for c in as_list(study.get("modality")) for _, code, _ in codings({"coding": [c]})]
    for series in as_list(study.get("series")):
        modality = as_dict(as_dict(series).get("modality"))
        if isinstance(modality.get("code"), str):
            modalities.append(modality["code"])
    modality = _modality(kb, procedure) or _dicom_modality(modalities)
    return procedure, modality


def _dicom_modality(codes: list[str]) -> str | None:
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


def _short_name(kb: Knowledge, procedure: str | None, concept: Any, modality: str | None) -> str:
    name = kb.procedure_name(procedure) if procedure is not None else None
    if name is not None:
        return name
    names = {"NM": "Nuclear medicine study", "CT": "CT", "PT": "PET/CT", "MR": "MRI", "XR": "Radiograph"}
    return names.get(modality or "", label_of(concept, "Imaging study")[:40])


def _label(name: str, when: Any) -> str:
    return f"{name} {when.date().isoformat()}" if when is not None else name


def _result(reading: ReportReading, coded: BoneMetResult | None) -> BoneMetResult:
    return coded if coded is not None else reading.result


def _linked_study(observation: Resource, resolve: Resolver) -> Resource | None:
    """The ImagingStudy an imaging finding derives from (derivedFrom / partOf), if it resolves."""
    for link in as_list(observation.get("derivedFrom")) + as_list(observation.get("partOf")):
        target = resolve(link.get("reference")) if isinstance(link, dict) else None
        if isinstance(target, dict) and target.get("resourceType") == "ImagingStudy":
            return target
    return None


def extract_imaging(kb: Knowledge, record_of: Callable[[str], tuple[Resource, ...]],
                    resolve: Resolver) -> list[ImagingResult]:
    results: list[ImagingResult] = []
    reported_studies: set[str] = set()
    used_observations: set[str] = set()
    radiology = kb.valueset("VS_RADIOLOGY_REPORT_CATEGORY")
    for report in record_of("DiagnosticReport"):
        if not verified(report) or status(report) not in FINAL:
            continue
        studies = [resolve(r.get("reference")) for r in as_list(report.get("imagingStudy")) if isinstance(r, dict)]
        studies = [s for s in studies if isinstance(s, dict)]
        procedure = kb.procedure_class(report.get("code"))
        modality = _modality(kb, procedure)
        for study in studies:
            reported_studies.add(ref(study))
            if procedure is None or modality is None:
                s_proc, s_mod = _study_class(kb, study)
                procedure, modality = procedure or s_proc, modality or s_mod
        is_radiology = any(radiology.matches(c) for c in concepts(report.get("category")))
        if procedure is None and modality is None and not is_radiology:
            continue
        observations = [resolve(r.get("reference")) for r in as_list(report.get("result")) if isinstance(r, dict)]
        coded = _coded_result(kb, concepts(report.get("conclusionCode")))
        basis = "conclusionCode" if coded is not None else "text"
        site = None
        for observation in (o for o in observations if isinstance(o, dict)):
            used_observations.add(ref(observation))
            found = observation_result(kb, observation)
            site = site or site_text(observation)
            if coded is None and found is not None:
                coded, basis = found, "observation"
        text = " ".join(t for t in (report.get("conclusion") if isinstance(report.get("conclusion"), str) else "",
                                    _presented_text(report)) if t)[:MAX_TEXT]
        reading = read_report(text)
        when = first_date(report, "effectiveDateTime", "effectivePeriod.start", "issued")
        results.append(ImagingResult(
            source=ref(report), label=_label(_short_name(kb, procedure, report.get("code"), modality), when),
            procedure_class=procedure, modality=modality, when=when, result=_result(reading, coded),
            character=reading.character, changes=reading.changes, multifocal=reading.multifocal,
            solitary_focus=reading.solitary_focus, osteopenia=reading.osteopenia, site=site, basis=basis,
            conclusion=text[:2000],
        ))
    for observation in record_of("Observation"):
        if ref(observation) in used_observations or not verified(observation) or status(observation) not in FINAL:
            continue
        found = observation_result(kb, observation)
        if found is None:
            continue
        procedure = modality = None
        study = _linked_study(observation, resolve)
        if study is not None:
            reported_studies.add(ref(study))  # the finding is this study's result: no separate unreported study
            procedure, modality = _study_class(kb, study)
        notes = " ".join(n["text"] for n in as_list(observation.get("note"))
                         if isinstance(n, dict) and isinstance(n.get("text"), str))
        reading = read_report(" ".join(x for x in (notes, concept_text(observation.get("valueCodeableConcept")))
                                       if x))
        when = first_date(observation, "effectiveDateTime", "effectivePeriod.start", "issued") or (
            first_date(study, "started") if study is not None else None)
        results.append(ImagingResult(
            source=ref(observation),
            label=_label(_short_name(kb, procedure, None, modality) if (procedure or modality) else "Imaging finding",
                         when),
            procedure_class=procedure, modality=modality, when=when, result=found, character=reading.character,
            changes=reading.changes, multifocal=reading.multifocal, solitary_focus=reading.solitary_focus,
            osteopenia=reading.osteopenia, site=site_text(observation), basis="observation", conclusion=notes[:2000],
        ))
    for study in record_of("ImagingStudy"):
        if ref(study) in reported_studies or not verified(study) or status(study) in {"cancelled",
                                                                                             "registered"}:
            continue
        procedure, modality = _study_class(kb, study)
        if procedure is None and modality is None:
            continue
        when = first_date(study, "started")
        name = _short_name(kb, procedure, {"text": study.get("description")} if study.get("description") else None,
                           modality)
        results.append(ImagingResult(source=ref(study), label=_label(name, when), procedure_class=procedure,
                                     modality=modality, when=when, result=BoneMetResult.UNKNOWN, character=None,
                                     basis="study"))
    return results
