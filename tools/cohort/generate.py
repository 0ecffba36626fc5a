"""A synthetic cohort of breast-cancer patients for `cdshooks simulate`, in FHIR bulk-export shape.

Deterministic (`random.Random(SEED)`), every date relative to AS_OF (the fixtures' instant, written as the
export's `transactionTime`, which `cdshooks simulate` uses as its evaluation time). Two kinds of patient:

- follow-up patients built here with the fixture chart builders (tools/fixtures/builders.py): breast cancer
  diagnosed months to years ago, receptor results, routine labs (mostly normal: a few raised alkaline
  phosphatase or calcium, a few with reduced eGFR), a screening or follow-up mammogram with its report, endocrine
  therapy or none, now and then bone pain or back pain — the everyday population of a breast clinic;
- patients whose chart is one of the clinical scenarios of tools/fixtures (order-time and result-time, each
  written to make a card fire or narrowly not fire), moved back in time by a few days so windows fall
  differently: metastatic disease, discordant studies, flare, renal impairment, emergencies.

Ids are made unique per patient (`p042`, `p042-observation-3`) and every reference is rewritten to match, so the
output can be loaded anywhere a bulk export can. Run `python -m tools.cohort` to write `cohorts/breast-cancer/`,
`python -m tools.cohort --check` to verify the shipped files match.
"""

from __future__ import annotations

import copy
import json
import random
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from cdshooks.fhir.prefetch import PREFETCH
from cdshooks.replay import shift_dates
from tools.fixtures.builders import AS_OF, LOINC, RXNORM, SNOMED, Chart, Resource

SEED = 14
PATIENTS = 120
SCENARIO_SHARE = 0.45  # patients drawn from the clinical scenarios; the rest are routine follow-up
ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "cohorts" / "breast-cancer"
_REFERENCE = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})$")

MAMMOGRAM = (LOINC, "24606-6", "MG Breast Screening")
ER, PR, HER2 = "85337-4", "85339-0", "48676-1"
LETROZOLE = (RXNORM, "200064", "letrozole 2.5 MG Oral Tablet")
TAMOXIFEN = (RXNORM, "198240", "tamoxifen 20 MG Oral Tablet")
ANASTROZOLE = (RXNORM, "199224", "anastrozole 1 MG Oral Tablet")
BONE_PAIN = (SNOMED, "12584003", "Bone pain")
BACK_PAIN = (SNOMED, "279039007", "Low back pain")
STAGES = ("0", "IA", "IA", "IB", "IIA", "IIA", "IIB", "IIIA", "IIIB")  # the stages a breast clinic follows


def follow_up_chart(rng: random.Random, patient_id: str) -> Chart:
    """A routine follow-up patient: no sign of metastatic disease in most, a soft sign in a few."""
    born = AS_OF.date() - timedelta(days=rng.randint(36, 86) * 365 + rng.randint(0, 364))
    gender = "male" if rng.random() < 0.01 else "female"
    chart = Chart(patient_id, AS_OF, gender=gender, birth_date=born.isoformat())
    onset = -rng.randint(90, 2500)
    stage = rng.choice(STAGES) if rng.random() < 0.8 else None  # a staged diagnosis in most charts
    chart.breast_cancer(onset=onset, stage=f"Stage {stage}" if stage else None)
    er_negative = rng.random() < 0.2
    chart.receptor(ER, negative=er_negative, days=onset + 10)
    chart.receptor(PR, negative=er_negative or rng.random() < 0.2, days=onset + 10)
    chart.receptor(HER2, negative=rng.random() < 0.8, days=onset + 10)
    lab_day = -rng.randint(3, 120)
    alp = rng.choice((62, 71, 80, 88, 95, 104, 112)) if rng.random() < 0.9 else rng.choice((150, 188, 240))
    chart.alp(alp, lab_day)
    calcium = 9.4 if rng.random() < 0.95 else 11.6
    chart.lab("17861-6", calcium, "mg/dL", lab_day, high=10.3, low=8.6)
    egfr = rng.choice((92, 84, 77, 68, 63)) if rng.random() < 0.9 else rng.choice((41, 28))
    chart.egfr(egfr, lab_day)
    mammogram_day = -rng.randint(20, 360)
    study = chart.imaging_study(mammogram_day, "MG", MAMMOGRAM, description="Bilateral mammogram")
    chart.report(mammogram_day, MAMMOGRAM, conclusion="BI-RADS 2: benign findings. No evidence of malignancy.",
                 study=study)
    if not er_negative and rng.random() < 0.7:
        chart.medication_request(onset + rng.randint(30, 80), rng.choice((LETROZOLE, TAMOXIFEN, ANASTROZOLE)))
    if rng.random() < 0.12:
        chart.condition(rng.choice((BONE_PAIN, BACK_PAIN)), onset=-rng.randint(3, 40))
    return chart


def scenario_charts() -> list[list[Resource]]:
    """The distinct charts of the clinical scenarios (tools/fixtures), each as its resources."""
    from tools.fixtures.__main__ import scenarios

    charts: dict[str, list[Resource]] = {}
    for _, request in scenarios():
        prefetch = request.get("prefetch") or {}
        resources: list[Resource] = []
        for key in PREFETCH:
            value = prefetch.get(key)
            if isinstance(value, dict) and value.get("resourceType") == "Bundle":
                resources += [e["resource"] for e in value.get("entry", []) if "resource" in e]
            elif isinstance(value, dict):
                resources.append(value)
        if any(r.get("resourceType") == "Patient" for r in resources):
            charts.setdefault(json.dumps(resources, sort_keys=True), resources)
    return list(charts.values())


def _renamed(value: Any, patient_id: str, old_patient: str) -> Any:
    """Every id made unique to the patient, every `Type/id` reference rewritten to match."""
    if isinstance(value, list):
        return [_renamed(v, patient_id, old_patient) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "reference" and isinstance(item, str) and (match := _REFERENCE.match(item)):
            kind, rid = match.groups()
            own = kind == "Patient" and rid == old_patient
            out[key] = f"Patient/{patient_id}" if own else f"{kind}/{patient_id}-{rid}"
        elif key == "id" and isinstance(item, str) and "resourceType" in value:
            out[key] = patient_id if value["resourceType"] == "Patient" else f"{patient_id}-{item}"
        else:
            out[key] = _renamed(item, patient_id, old_patient)
    return out


def from_scenario(rng: random.Random, chart: list[Resource], patient_id: str) -> list[Resource]:
    old = next(r["id"] for r in chart if r.get("resourceType") == "Patient")
    moved = shift_dates(copy.deepcopy(chart), -rng.randint(0, 12))  # the chart written a few days earlier
    patient = next(r for r in moved if r.get("resourceType") == "Patient")
    patient["birthDate"] = (AS_OF.date() - timedelta(days=rng.randint(38, 84) * 365 + rng.randint(0, 364))).isoformat()
    return [_renamed(r, patient_id, old) for r in moved]


def cohort(size: int = PATIENTS, seed: int = SEED) -> list[list[Resource]]:
    rng = random.Random(seed)
    scenarios = scenario_charts()
    patients: list[list[Resource]] = []
    for n in range(1, size + 1):
        patient_id = f"p{n:03d}"
        if rng.random() < SCENARIO_SHARE:
            patients.append(from_scenario(rng, rng.choice(scenarios), patient_id))
        else:
            patients.append(_renamed(follow_up_chart(rng, "x").resources, patient_id, "x"))
    return patients


def files(patients: list[list[Resource]]) -> Iterator[tuple[str, str]]:
    """(file name, text): one ndjson file per resource type, and the export manifest."""
    by_type: dict[str, list[str]] = defaultdict(list)
    for resources in patients:
        for resource in resources:
            by_type[resource["resourceType"]].append(json.dumps(resource, separators=(",", ":"), sort_keys=True))
    manifest = {
        "transactionTime": AS_OF.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "request": "tools/cohort (synthetic): python -m tools.cohort",
        "requiresAccessToken": False,
        "output": [{"type": kind, "url": f"{kind}.ndjson", "count": len(lines)}
                   for kind, lines in sorted(by_type.items())],
        "error": [],
    }
    yield "manifest.json", json.dumps(manifest, indent=2) + "\n"
    for kind, lines in sorted(by_type.items()):
        yield f"{kind}.ndjson", "\n".join(lines) + "\n"
