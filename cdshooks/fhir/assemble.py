"""Assemble the patient record: prefetch as sent, plus what is missing fetched from fhirServer.

Per prefetch key, exactly as CDS Hooks 2.0 says:
- key absent -> fetch it from fhirServer;
- value `null` -> no data;
- an OperationOutcome (the client hit an error) -> treat as missing, fetch;
- a Bundle with a `next` link (the client paginated) -> follow the remaining pages (bounded);
- anything else that is not a FHIR resource -> treat as missing, fetch.

Missing keys are fetched concurrently under one overall time budget; past it the record is built from what
arrived. A required key that cannot be had (no usable fhirServer, the server refused, or it did not answer
within the budget) makes the call unanswerable: `Assembly.unavailable` names those keys and the caller
answers 412, never a silent empty 200.

Isolation: one call runs at most `concurrency` fetches at a time (workers that take keys from the call's own
queue, not one pool task per key; the default lets every key go at once), and one fhirServer holds at most
`per_server` of the worker's fetch threads (`HostGates`), so a slow server delays only the calls that use it.
A worker follows its search's `next` pages the moment each link is read; the remaining pages of prefetched
first pages (links known from the start) are queued first. Every read is bounded by the
call's deadline (FhirClient), so no fetch outlives the call by more than one socket read. The resources
fetched for one call are capped at `max_entries` (more: the key is marked partial).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future, wait
from dataclasses import dataclass, field
from typing import Any

from cdshooks.fhir.allowlist import normalize
from cdshooks.fhir.client import FetchError, FetchResult, FhirClient, bundle_resources, next_link
from cdshooks.fhir.prefetch import PrefetchKey, fill, fillable, token_values
from cdshooks.fhir.record import Record, RecordParts, Resource

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


class HostGates:
    """At most `per_server` concurrent fetches to one fhirServer (scheme, host, port) in this process."""

    def __init__(self, per_server: int) -> None:
        self._per_server = max(1, per_server)
        self._gates: dict[tuple[str, str, int], threading.BoundedSemaphore] = {}
        self._lock = threading.Lock()

    def gate(self, base_url: str) -> threading.BoundedSemaphore:
        parts = normalize(base_url)
        key = parts[:3] if parts else ("", base_url, 0)
        with self._lock:
            if key not in self._gates:
                self._gates[key] = threading.BoundedSemaphore(self._per_server)
            return self._gates[key]


UNLIMITED_GATES = HostGates(1_000_000)


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
    concurrency: int = 6,
    gates: HostGates = UNLIMITED_GATES,
    max_entries: int = 1_000_000,
) -> Assembly:
    deadline = time.monotonic() + budget
    sent = prefetch or {}
    values = token_values(context)
    # the record is grouped and indexed as the prefetch is read: one pass over the entries (RecordParts)
    parts = RecordParts()
    to_fetch: dict[str, str] = {}
    to_complete: dict[str, Resource] = {}
    degraded: dict[str, str] = {}

    for key, spec in templates.items():
        if not fillable(spec.template, values):
            degraded[key] = "template token has no value in this context"
            continue
        if key not in sent:  # a query is filled only when its key has to be fetched
            to_fetch[key] = fill(spec.template, values)
            continue
        value = sent[key]
        kind = classify(value)
        if kind == "null":
            continue
        if kind == "resource":
            parts.add(value)
        elif kind == "bundle":
            parts.add_entries(value)
            if next_link(value) is not None:
                to_complete[key] = value
        else:  # outcome or invalid: the client could not provide it
            degraded[key] = f"prefetch value was {'an OperationOutcome' if kind == 'outcome' else 'not FHIR'}"
            to_fetch[key] = fill(spec.template, values)

    unavailable: list[str] = []
    fetched: list[str] = []
    if to_fetch or to_complete:
        _run_fetches(plan, executor, deadline, to_fetch, to_complete, templates, parts, degraded, unavailable,
                     fetched, concurrency, gates, max_entries)
    record = parts.record(patient_id, draft_orders, selections, sorted(degraded))
    return Assembly(record, unavailable, degraded, fetched)


def _run_fetches(
    plan: FetchPlan,
    executor: Executor,
    deadline: float,
    to_fetch: dict[str, str],
    to_complete: dict[str, Resource],
    templates: Mapping[str, PrefetchKey],
    parts: RecordParts,
    degraded: dict[str, str],
    unavailable: list[str],
    fetched: list[str],
    concurrency: int,
    gates: HostGates,
    max_entries: int,
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
    jobs: deque[tuple[str, str, Callable[[], FetchResult]]] = deque()
    # the known chains first: a prefetched first page whose `next` link is already known
    for key, bundle in to_complete.items():
        jobs.append((key, "pages", lambda b=bundle: _remaining_pages(client, b, deadline)))  # type: ignore[misc]
    for key, query in to_fetch.items():
        jobs.append((key, "fetch", lambda q=query: client.fetch(q, deadline)))  # type: ignore[misc]
    outcomes: dict[str, tuple[str, FetchResult | BaseException]] = {}
    # slots of this fhirServer's share, taken without waiting: a pool thread never blocks on a busy server
    gate = gates.gate(client.base_url)
    slots = 0
    while slots < min(max(1, concurrency), len(jobs)) and gate.acquire(blocking=False):
        slots += 1

    def worker() -> None:
        try:
            while True:
                try:
                    key, mode, job = jobs.popleft()
                except IndexError:
                    return
                try:
                    outcomes[key] = (mode, job())
                except BaseException as exc:  # kept for the caller; a worker never dies silently
                    outcomes[key] = (mode, exc)
        finally:
            gate.release()

    if slots == 0:
        for key, mode, _ in jobs:
            outcomes[key] = (mode, FetchError("budget", "fhirServer busy with other calls"))
        jobs.clear()
    workers: list[Future[None]] = [executor.submit(worker) for _ in range(slots)]
    wait(workers, timeout=max(0.0, deadline - time.monotonic()) + 0.25)  # reads stop at the deadline
    jobs.clear()  # nothing new starts after the budget
    total = parts.received
    for key, mode in [(k, "fetch") for k in to_fetch] + [(k, "pages") for k in to_complete]:
        outcome = outcomes.get(key)
        required = mode == "fetch" and templates[key].required
        if outcome is None:
            degraded[key] = "time budget exceeded"
            if required:
                unavailable.append(key)
            continue
        result = outcome[1]
        if isinstance(result, FetchError):
            degraded[key] = f"fetch failed ({result.kind}: {result.detail})"
            if required:
                unavailable.append(key)
            continue
        if isinstance(result, BaseException):  # a bug or an odd server must not turn into a 5xx
            log.warning("prefetch fetch crashed", extra={"key": key, "error": type(result).__name__})
            degraded[key] = "fetch failed (internal error)"
            if required:
                unavailable.append(key)
            continue
        room = max(0, max_entries - total)
        parts.add_all(result.resources[:room])
        total += min(room, len(result.resources))
        degraded.pop(key, None)
        if mode == "fetch":
            fetched.append(key)
        if result.truncated or len(result.resources) > room:
            degraded[key] = "partial (page, entry or budget cap reached)"


def _remaining_pages(client: FhirClient, bundle: Resource, deadline: float) -> FetchResult:
    """Follow `next` from a prefetched first page; only the new pages' resources are returned."""
    result = client.complete(bundle, deadline)
    already = len(bundle_resources(bundle))
    return FetchResult(result.resources[already:], result.pages, result.truncated)
