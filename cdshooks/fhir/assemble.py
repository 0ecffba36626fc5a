"""Assemble the patient record: prefetch as sent, plus what is missing fetched from fhirServer.

Per prefetch key, exactly as CDS Hooks 2.0 says:
- key absent -> fetch it from fhirServer;
- value `null` -> no data;
- an OperationOutcome (the client hit an error) -> treat as missing, fetch;
- a Bundle with a `next` link (the client paginated) -> follow the remaining pages (bounded);
- anything else that is not a FHIR resource -> treat as missing, fetch.

Missing keys are fetched concurrently under one overall time budget; past it the record is built from what
arrived. A required key that cannot be had at all (no usable fhirServer, or the server refused) makes the
call unanswerable: `Assembly.unavailable` names those keys and the caller answers 412.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from concurrent.futures import Executor, Future, wait
from dataclasses import dataclass, field
from typing import Any

from cdshooks.fhir.client import FetchError, FetchResult, FhirClient, bundle_resources, next_link
from cdshooks.fhir.prefetch import PrefetchKey, render, token_values
from cdshooks.fhir.record import Record, Resource

log = logging.getLogger(__name__)


@dataclass
class Assembly:
    record: Record
    unavailable: list[str] = field(default_factory=list)  # required keys that could not be had
    degraded: dict[str, str] = field(default_factory=dict)  # key -> why its data is missing or partial
    fetched: list[str] = field(default_factory=list)  # keys fetched from fhirServer


@dataclass(frozen=True)
class FetchPlan:
    """How to reach fhirServer for this call (None client: no usable server, with the reason)."""

    client: FhirClient | None
    reason: str = ""


def classify(value: Any) -> str:
    """What a prefetch value is: null | resource | bundle | outcome | invalid."""
    if value is None:
        return "null"
    if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
        return "invalid"
    if value["resourceType"] == "OperationOutcome":
        return "outcome"
    if value["resourceType"] == "Bundle":
        return "bundle"
    return "resource"


def assemble(
    *,
    patient_id: str,
    context: Mapping[str, Any],
    prefetch: Mapping[str, Any] | None,
    templates: Mapping[str, PrefetchKey],
    plan: FetchPlan,
    executor: Executor,
    budget: float,
    draft_orders: list[Resource] | tuple[Resource, ...] = (),
    selections: list[str] | tuple[str, ...] = (),
) -> Assembly:
    deadline = time.monotonic() + budget
    sent = prefetch or {}
    values = token_values(context)
    resources: list[Resource] = []
    to_fetch: dict[str, str] = {}
    to_complete: dict[str, Resource] = {}
    degraded: dict[str, str] = {}

    for key, spec in templates.items():
        query = render(spec.template, values)
        if query is None:
            degraded[key] = "template token has no value in this context"
            continue
        if key not in sent:
            to_fetch[key] = query
            continue
        value = sent[key]
        kind = classify(value)
        if kind == "null":
            continue
        if kind == "resource":
            resources.append(value)
        elif kind == "bundle":
            resources.extend(bundle_resources(value))
            if next_link(value) is not None:
                to_complete[key] = value
        else:  # outcome or invalid: the client could not provide it
            degraded[key] = f"prefetch value was {'an OperationOutcome' if kind == 'outcome' else 'not FHIR'}"
            to_fetch[key] = query

    unavailable: list[str] = []
    fetched: list[str] = []
    if to_fetch or to_complete:
        _run_fetches(plan, executor, deadline, to_fetch, to_complete, templates, resources, degraded, unavailable,
                     fetched)
    record = Record.build(patient_id, resources, draft_orders, selections, sorted(degraded))
    return Assembly(record, unavailable, degraded, fetched)


def _run_fetches(
    plan: FetchPlan,
    executor: Executor,
    deadline: float,
    to_fetch: dict[str, str],
    to_complete: dict[str, Resource],
    templates: Mapping[str, PrefetchKey],
    resources: list[Resource],
    degraded: dict[str, str],
    unavailable: list[str],
    fetched: list[str],
) -> None:
    if plan.client is None:
        for key in to_fetch:
            degraded[key] = f"missing and {plan.reason}"
            if templates[key].required:
                unavailable.append(key)
        for key in to_complete:
            degraded[key] = f"partial (more pages) and {plan.reason}"
        return
    client = plan.client
    futures: dict[Future[FetchResult], tuple[str, str]] = {}
    for key, query in to_fetch.items():
        futures[executor.submit(client.fetch, query, deadline)] = (key, "fetch")
    for key, bundle in to_complete.items():
        futures[executor.submit(_remaining_pages, client, bundle, deadline)] = (key, "pages")
    done, not_done = wait(futures, timeout=max(0.0, deadline - time.monotonic()))
    for future in not_done:
        key, _ = futures[future]
        future.cancel()
        degraded[key] = "time budget exceeded"
    for future in done:
        key, mode = futures[future]
        try:
            result = future.result()
        except FetchError as exc:
            degraded[key] = f"fetch failed ({exc.kind}: {exc.detail})"
            if mode == "fetch" and templates[key].required and exc.kind not in {"timeout", "budget"}:
                unavailable.append(key)
            continue
        except Exception as exc:  # a bug or an odd server must not turn into a 5xx
            log.warning("prefetch fetch crashed", extra={"key": key, "error": type(exc).__name__})
            degraded[key] = "fetch failed (internal error)"
            continue
        resources.extend(result.resources)
        degraded.pop(key, None)
        if mode == "fetch":
            fetched.append(key)
        if result.truncated:
            degraded[key] = "partial (page cap or budget reached)"


def _remaining_pages(client: FhirClient, bundle: Resource, deadline: float) -> FetchResult:
    """Follow `next` from a prefetched first page; only the new pages' resources are returned."""
    result = client.complete(bundle, deadline)
    already = len(bundle_resources(bundle))
    return FetchResult(result.resources[already:], result.pages, result.truncated)
