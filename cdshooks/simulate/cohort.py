"""A cohort: patient records from FHIR Bundles (`*.json`) and bulk-export ndjson (`*.ndjson`), grouped by patient.

A resource belongs to the patient its `subject` or `patient` reference names (or that it is, for a Patient);
a resource of no patient (a Medication, say) goes with every patient whose resources reference it. Bundles whose
entries reference each other by `fullUrl` (`urn:uuid:...`, as transaction Bundles from synthetic-patient
generators do) have those references rewritten to `Type/id`. A bulk-export `manifest.json` beside the files
gives the evaluation time (`transactionTime`) when `--as-of` is not given.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

Resource = dict[str, Any]


class CohortError(ValueError):
    """A cohort file cannot be read; the message names the file (and line)."""


@dataclass(frozen=True)
class Patient:
    id: str
    resources: tuple[Resource, ...]


@dataclass(frozen=True)
class Cohort:
    patients: tuple[Patient, ...]
    files: int
    as_of: datetime | None  # the export's transactionTime, when a manifest gave one


def cohort_files(paths: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in {".json", ".ndjson"})
        else:
            found.append(path)
    return found


def _bundle_resources(bundle: Resource) -> Iterator[Resource]:
    """The Bundle's resources, with `fullUrl` references (urn:uuid:...) rewritten to `Type/id`."""
    entries = [e for e in bundle.get("entry") or [] if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
    local: dict[str, str] = {}
    for entry in entries:
        resource = entry["resource"]
        full_url = entry.get("fullUrl")
        if isinstance(full_url, str) and isinstance(resource.get("resourceType"), str):
            resource.setdefault("id", full_url.rsplit(":", 1)[-1].rsplit("/", 1)[-1])
            local[full_url] = f"{resource['resourceType']}/{resource['id']}"
    for entry in entries:
        yield _relinked(entry["resource"], local) if local else entry["resource"]


def _relinked(value: Any, local: dict[str, str]) -> Any:
    if isinstance(value, list):
        return [_relinked(v, local) for v in value]
    if not isinstance(value, dict):
        return value
    return {k: (local.get(v, v) if k == "reference" and isinstance(v, str) else _relinked(v, local))
            for k, v in value.items()}


def _read(path: Path) -> tuple[list[Resource], datetime | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CohortError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if path.suffix == ".ndjson":
        resources = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                resources.append(json.loads(line))
            except ValueError:
                raise CohortError(f"{path}:{number}: not a JSON resource") from None
        return [r for r in resources if isinstance(r, dict)], None
    try:
        data = json.loads(text)
    except ValueError:
        raise CohortError(f"{path}: not JSON") from None
    if not isinstance(data, dict):
        raise CohortError(f"{path}: not a FHIR Bundle or resource")
    if "resourceType" not in data:  # a bulk-export manifest, or something else that is not FHIR
        moment = data.get("transactionTime")
        return [], _instant(moment) if isinstance(moment, str) else None
    if data["resourceType"] == "Bundle":
        return list(_bundle_resources(data)), None
    return [data], None


def _instant(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _patient_of(resource: Resource) -> str | None:
    if resource.get("resourceType") == "Patient":
        rid = resource.get("id")
        return rid if isinstance(rid, str) else None
    for key in ("subject", "patient"):
        ref = resource.get(key)
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
            kind, _, rid = ref["reference"].rstrip("/").rpartition("/")
            if kind.endswith("Patient") and rid:
                return rid
    return None


def _references(value: Any, out: set[str]) -> None:
    if isinstance(value, list):
        for item in value:
            _references(item, out)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                out.add("/".join(item.rstrip("/").split("/")[-2:]))
            else:
                _references(item, out)


def load_cohort(paths: Iterable[Path]) -> Cohort:
    files = cohort_files(paths)
    owned: dict[str, list[Resource]] = defaultdict(list)
    shared: dict[str, Resource] = {}
    as_of: datetime | None = None
    for path in files:
        resources, moment = _read(path)
        as_of = as_of or moment
        for resource in resources:
            if not isinstance(resource.get("resourceType"), str):
                continue
            patient = _patient_of(resource)
            if patient is not None:
                owned[patient].append(resource)
            elif isinstance(resource.get("id"), str):
                shared[f"{resource['resourceType']}/{resource['id']}"] = resource
    patients = []
    for patient_id in sorted(owned):
        resources = owned[patient_id]
        if shared:
            wanted: set[str] = set()
            _references(resources, wanted)
            resources = resources + [shared[ref] for ref in sorted(wanted) if ref in shared]
        patients.append(Patient(patient_id, tuple(resources)))
    return Cohort(tuple(patients), len(files), as_of)
