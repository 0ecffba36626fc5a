"""The medication extractor's fast paths answer exactly what its general reading answers, odd data included:
the regimen read without the dose for agents without dose patterns, the pre-split date paths, the weekly samples
of a continuous period, and the whole extraction with every fast path swapped for the general one."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cdshooks.clinical.extract import medications as meds
from cdshooks.clinical.extract.common import first_date
from cdshooks.clinical.knowledge import default_knowledge
from cdshooks.fhir.codes import parse_fhir_datetime, profile

KB = default_knowledge()
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
NOW = datetime(2026, 6, 1, 19, 0, tzinfo=UTC)

MEDICATION_CONCEPTS: list[dict[str, Any]] = [
    {"text": "denosumab 120 MG in 1.7 ML Injection"},
    {"text": "denosumab 60 MG/ML Prefilled Syringe"},
    {"text": "denosumab"},
    {"coding": [{"system": RXNORM, "code": "993449", "display": "denosumab 120 MG in 1.7 ML Injection"}]},
    {"text": "Prolia"},
    {"text": "Xgeva 70 mg/ml"},
    {"text": "zoledronic acid"},
    {"text": "Zometa 4 mg"},
    {"text": "Reclast 5 mg/100 ml"},
    {"text": "zoledronic acid 0.05 mg/ml"},
    {"text": "letrozole 2.5 MG Oral Tablet"},
    {"text": "paclitaxel"},
    {"text": "palbociclib 125 mg"},
    *({"text": ingredient} for ingredient in KB._meds),
]

DOSE_SHAPES: list[dict[str, Any]] = [
    {},
    {"dosage": {"dose": {"value": 60, "unit": "mg"}}},
    {"dosage": {"dose": {"value": 120.0, "code": "MG"}}},
    {"dosage": {"dose": {"value": 4.0, "unit": "mg"}}},
    {"dosage": {"dose": {"value": 5, "unit": "", "code": "mg"}}},
    {"dosage": {"dose": {"value": "60", "unit": "mg"}}},
    {"dosage": {"dose": {"value": 0.0, "unit": "mg"}}},
    {"dosage": {"dose": {"value": -0.0, "unit": "mg"}}},
    {"dosage": {"dose": {"value": 10**400, "unit": "mg"}}},
    {"dosage": {"dose": {"value": float("nan"), "unit": "mg"}}},
    {"dosage": {"dose": {"value": True, "unit": "mg"}}},
    {"dosage": {"dose": {"value": 60, "unit": "ml"}}},
    {"dosage": {"dose": {"value": 60, "unit": 5}}},
    {"dosage": [None, "odd", {"dose": []}, {"dose": {"value": 120, "unit": "mg"}}]},
    {"dosageInstruction": [{"doseAndRate": [{"doseQuantity": {"value": 60, "unit": "mg"}}]}]},
    {"dosageInstruction": [{"doseAndRate": {"doseQuantity": {"value": 4, "unit": "mg"}}}]},
    {"dosageInstruction": [{"doseAndRate": ["odd", {"doseQuantity": {"value": 5, "code": "mg"}}]}]},
    {"dosageInstruction": {"text": "60 mg"}, "dosage": {"dose": {"value": 120, "unit": "mg"}}},
    {"dosageInstruction": "60 mg", "dosage": 5},
]


def _general_regimen(concept: dict[str, Any], resource: dict[str, Any]) -> bool | None:
    medication = KB.medication(concept)
    assert medication is not None
    return meds.osteoporosis_dose(KB, medication, resource, concept)


def _fast_regimen(concept: dict[str, Any], resource: dict[str, Any]) -> bool | None:
    """The regimen as `extract_medications` reads it (see its loop)."""
    use = meds._medication_use(KB, profile(concept))
    assert use.medication is not None
    found = meds._dose_regimen(KB, use.medication, resource) if use.reads_dose else None
    return use.regimen if found is None else found


@pytest.mark.parametrize("concept", MEDICATION_CONCEPTS, ids=lambda c: str(c.get("text") or c["coding"][0]["code"]))
def test_regimen_without_the_dose_matches_osteoporosis_dose(concept: dict[str, Any]) -> None:
    for resource in DOSE_SHAPES:
        assert _fast_regimen(concept, resource) == _general_regimen(concept, resource), resource


def test_only_agents_with_dose_patterns_read_the_dose() -> None:
    every = {name for drug_class in ("bone-modifying", "chemotherapy", "her2", "endocrine", "cdk46")
             for name in KB.ingredients(drug_class)}
    assert len(every) > 10
    readers = {ingredient for ingredient in every if meds._reads_dose(KB, ingredient)}
    assert readers == {"denosumab", "zoledronic acid"}
    # a structured dose changes their regimen, so skipping it for them would be wrong (this test would see it)
    xgeva = {"text": "denosumab"}
    assert _general_regimen(xgeva, {"dosage": {"dose": {"value": 60, "unit": "mg"}}}) is True
    assert _general_regimen(xgeva, {"dosage": {"dose": {"value": 120, "unit": "mg"}}}) is False
    assert not meds._reads_dose(KB, "not an ingredient")


DATE_RESOURCES: list[Any] = [
    {},
    {"effectiveDateTime": "2024-02-01", "effectivePeriod": {"start": "2024-01-01", "end": "2024-03-01"}},
    {"effectivePeriod": "2024-01-01", "effectiveDateTime": "2024-02-01"},
    {"effectivePeriod": {"start": 5, "end": ["2024"]}, "authoredOn": "2024-04-01"},
    {"effectivePeriod": {"start": "bad"}, "effectiveDateTime": "2024-02-01T10:00:00+02:00"},
    {"effectivePeriod": None, "effectiveDateTime": None, "authoredOn": "2024", "dateAsserted": "2023"},
    {"effectivePeriod": [], "effectiveDateTime": "", "authoredOn": " ", "dateAsserted": "2023-05"},
    {"dispenseRequest": {"validityPeriod": {"end": "2025-07-21"}}},
    {"dispenseRequest": {"validityPeriod": {"end": "2025-07-21"}}, "effectivePeriod": {"end": "2025-01-01"}},
    {"authoredOn": "2024-04-01", "dateAsserted": "2024-05-01", "effectivePeriod": {"end": "2025-01-01"}},
    {"performedDateTime": "2024-06-02", "performedPeriod": {"start": "2024-06-01", "end": "2024-06-03"}},
    {"dispenseRequest": {"validityPeriod": ["2025"]}, "effectivePeriod": {"end": "9999-13-01"}},
    {"dispenseRequest": "2025", "effectivePeriod": {"end": "2025-01-01"}},
    {"performedDateTime": 2024, "performedPeriod": {"start": "x", "end": "2024-06-01"}},
    {"performedPeriod": {"start": "2024-06-01"}},
    {"performedDateTime": "2024-06-01T25:00:00Z"},
    "effectiveDateTime",
    None,
    ["2024-01-01"],
]


# the path lists the medication extractor reads dates by
DOTTED = {
    "administered": ("effectiveDateTime", "effectivePeriod.start"),
    "starts": ("effectivePeriod.start", "effectiveDateTime", "authoredOn", "dateAsserted"),
    "ends": ("effectivePeriod.end", "dispenseRequest.validityPeriod.end"),
    "performed": ("performedDateTime", "performedPeriod.start", "performedPeriod.end"),
}


def _reference_first_date(resource: Any, *paths: str) -> datetime | None:
    """`first_date` as first written: every dotted path split and walked on every call."""
    if not isinstance(resource, dict):
        return None
    for path in paths:
        value: Any = resource
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str):
            moment = parse_fhir_datetime(value)
            if moment is not None:
                return moment
    return None


@pytest.mark.parametrize("name", DOTTED)
def test_split_date_paths_match_first_date(name: str) -> None:
    for resource in DATE_RESOURCES:
        assert first_date(resource, *DOTTED[name]) == _reference_first_date(resource, *DOTTED[name]), resource


def _reference_sampled(periods: list[tuple[datetime, datetime]]) -> list[datetime]:
    """Dates of use as first written: a week added in a loop."""
    dates: list[datetime] = []
    for start, end in periods:
        moment = start
        while moment < end:
            dates.append(moment)
            moment += meds._PERIOD_SAMPLE
        dates.append(end)
    return dates


def test_weekly_samples_match_adding_a_week_in_a_loop() -> None:
    start = datetime(2024, 2, 25, 15, 54, 1, 7, tzinfo=UTC)
    spans = [timedelta(0), timedelta(microseconds=1), timedelta(days=7), timedelta(days=7, microseconds=1),
             timedelta(days=6, hours=23), timedelta(days=14), timedelta(days=700, seconds=5), -timedelta(days=3),
             -timedelta(microseconds=1)]
    for span in spans:
        assert meds._sampled([(start, start + span)]) == _reference_sampled([(start, start + span)]), span
    periods = [(start, start + span) for span in spans]
    assert meds._sampled(periods) == _reference_sampled(periods)


def _general_extract(monkeypatch: pytest.MonkeyPatch, record: dict[str, list[Any]]) -> meds.MedicationFacts:
    """The extraction with every fast path swapped for the general reading."""
    with monkeypatch.context() as patch:
        patch.setattr(meds, "_reads_dose", lambda kb, ingredient: True)
        patch.setattr(meds, "first_date", _reference_first_date)
        patch.setattr(meds, "_sampled", _reference_sampled)
        patch.setattr(meds, "USE_MEMO", "medication-use, general")  # not the fast run's per-concept answers
        return _extract(record)


def _extract(record: dict[str, list[Any]]) -> meds.MedicationFacts:
    return meds.extract_medications(KB, lambda rtype: tuple(record.get(rtype, ())), _resolve(record), NOW, 120.0)


def _resolve(record: dict[str, list[Any]]) -> meds.Resolver:
    def resolve(reference: str | None) -> dict[str, Any] | None:
        for resource in record.get("Medication", ()):
            if f"Medication/{resource.get('id')}" == reference:
                return resource
        return None
    return resolve


def _odd_records() -> list[dict[str, list[Any]]]:
    concepts: list[Any] = [
        {"text": "denosumab 120 MG"}, {"text": "Prolia"}, {"text": "letrozole 2.5 mg"}, {"text": "capecitabine"},
        {"text": "paclitaxel"}, {"text": "calcium carbonate / vitamin D3"}, {"text": "ondansetron"}, "denosumab",
        None, [{"text": "letrozole"}],
    ]
    statuses: list[Any] = ["active", "completed", "stopped", "entered-in-error", None, 5, ["active"]]
    dates: list[dict[str, Any]] = [
        {"authoredOn": "2026-01-02"},
        {"effectivePeriod": {"start": "2025-01-01", "end": "2025-06-01"}},
        {"effectivePeriod": {"start": "2025-06-01", "end": "2025-01-01"}},
        {"effectivePeriod": {"start": "2027-01-01"}},
        {"effectivePeriod": "2025", "effectiveDateTime": "2025-03-03T10:00:00+05:00",
         "dispenseRequest": {"validityPeriod": {"end": "2026-12-01"}}},
        {"dosageInstruction": [{"timing": {"repeat": {"boundsPeriod": {"start": "2025-02-01", "end": "2026-02-01"}}}},
                               "odd", {"timing": "x"}], "authoredOn": "2024-01-01"},
        {"dosageInstruction": {"timing": {"repeat": {"boundsPeriod": {"end": "2026-05-01"}}}}},
        {"dateAsserted": "2026-05-20", "dosage": {"dose": {"value": 60, "unit": "mg"}}},
        {"effectiveDateTime": "soon", "effectivePeriod": {"start": "2025-04-04"}},
        {"effectiveDateTime": 20250101, "effectivePeriod": {"start": "2025-04-05"}, "authoredOn": "2025-04-06"},
        {},
    ]
    records: list[dict[str, list[Any]]] = []
    cases = list(itertools.product(concepts, statuses, dates))
    for chunk in range(0, len(cases), 33):
        record: dict[str, list[Any]] = {"MedicationRequest": [], "MedicationStatement": [],
                                        "MedicationAdministration": []}
        for n, (concept, state, extra) in enumerate(cases[chunk:chunk + 33]):
            rtype = ("MedicationRequest", "MedicationStatement", "MedicationAdministration")[n % 3]
            resource: dict[str, Any] = {"resourceType": rtype, "id": f"r{chunk}-{n}", **extra}
            if state is not None:
                resource["status"] = state
            if isinstance(concept, dict) and n % 4 == 0:
                resource["medicationReference"] = {"reference": f"Medication/m{n}"}
                record.setdefault("Medication", []).append({"resourceType": "Medication", "id": f"m{n}",
                                                            "code": concept})
            elif n % 5 == 0:
                resource["medicationReference"] = {"display": "Zometa"}
            else:
                resource["medicationCodeableConcept"] = concept
            if rtype == "MedicationAdministration" and n % 2:
                resource["effectiveDateTime"] = "2026-05-01T08:00:00Z"
            if n % 7 == 0:
                resource["verificationStatus"] = {"coding": [{"code": "entered-in-error"}]}
            record[rtype].append(resource)
        records.append(record)
    return records


@pytest.mark.parametrize("record", _odd_records())
def test_extraction_matches_the_general_reading(monkeypatch: pytest.MonkeyPatch, record: dict[str, list[Any]]) -> None:
    fast = _extract(record)
    assert fast == _general_extract(monkeypatch, record)
    assert fast.therapies  # each record names agents (a comparison of two empty results proves nothing)


@pytest.mark.parametrize("dates", [
    {"effectiveDateTime": "2026-05-01T08:00:00+02:00"},
    {"effectiveDateTime": "soon", "effectivePeriod": {"start": "2025-04-04"}},
    {"effectiveDateTime": 20250101, "effectivePeriod": {"start": "2025-04-05"}},
    {"effectiveDateTime": None, "effectivePeriod": {"start": "2025-04-06", "end": "2025-04-07"}},
    {"effectiveDateTime": "", "effectivePeriod": "2025-04-06"},
    {"effectiveDateTime": ["2025-04-06"]},
    {"effectivePeriod": {"end": "2025-04-07"}},
    {},
])
def test_an_administration_is_dated_as_first_date_reads_it(dates: dict[str, Any]) -> None:
    """The administration's date is read in the loop for the usual shape (a dateTime string), else by the paths."""
    given = {"resourceType": "MedicationAdministration", "id": "a", "status": "completed",
             "medicationCodeableConcept": {"text": "paclitaxel"}, **dates}
    (therapy,) = _extract({"MedicationAdministration": [given]}).therapies
    when = first_date(given, "effectiveDateTime", "effectivePeriod.start")
    assert therapy.doses == ((when,) if when is not None else ())
