"""What the checks found: evidence per requirement, folded into one status per requirement id.

A requirement fails when any evidence fails (a SHOULD that is not met is a warning), passes when it was
exercised and nothing failed, and is not applicable when no check exercised it (e.g. no card carried links).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from cdshooks.conformance_kit.requirements import BY_ID, Requirement, applicable

MAX_EVIDENCE = 8  # per requirement and status, so one broken field in 200 cards stays readable


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    NA = "n/a"


_RANK = {Status.NA: 0, Status.PASS: 1, Status.WARN: 2, Status.FAIL: 3}


@dataclass(frozen=True)
class Evidence:
    status: Status
    message: str
    request: str = ""  # what was sent (method, URL, body excerpt); never a token
    response: str = ""  # what came back (status, content type, body excerpt)


@dataclass
class Outcome:
    requirement: Requirement
    evidence: list[Evidence] = field(default_factory=list)
    omitted: int = 0  # evidence items not kept (MAX_EVIDENCE)

    @property
    def status(self) -> Status:
        found = [e.status for e in self.evidence]
        return max(found, key=_RANK.__getitem__) if found else Status.NA


@dataclass
class Report:
    base_url: str
    spec: str
    outcomes: list[Outcome]
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in Status}
        for outcome in self.outcomes:
            out[outcome.status.value] += 1
        return out

    @property
    def failed(self) -> bool:
        return any(o.status is Status.FAIL for o in self.outcomes)

    def by_id(self) -> dict[str, Outcome]:
        return {o.requirement.id: o for o in self.outcomes}


class Recorder:
    """Collects evidence while the checks run; evidence for requirements outside `spec` is dropped."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self._outcomes = {r.id: Outcome(r) for r in applicable(spec)}
        self.notes: list[str] = []

    def add(self, rid: str, status: Status, message: str, request: str = "", response: str = "") -> None:
        if rid not in BY_ID:
            raise KeyError(f"unknown requirement id {rid}")  # a kit bug, reported by the check's guard
        outcome = self._outcomes.get(rid)
        if outcome is None:
            return
        if status is Status.FAIL and outcome.requirement.advisory:
            status = Status.WARN
        if any(e.status is status and e.message == message for e in outcome.evidence):
            return  # the same finding in another answer: the first one is evidence enough
        if sum(e.status is status for e in outcome.evidence) >= MAX_EVIDENCE:
            outcome.omitted += 1
            return
        outcome.evidence.append(Evidence(status, message, request, response))

    def report(self, base_url: str, seconds: float) -> Report:
        return Report(base_url, self.spec, list(self._outcomes.values()), list(self.notes), seconds)
