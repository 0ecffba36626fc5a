"""What every check sees: the client to the service, the FHIR stub, the options, and the recorder."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdshooks.conformance_kit.client import Exchange, ServiceClient
from cdshooks.conformance_kit.requirements import B, R
from cdshooks.conformance_kit.results import Recorder, Status
from cdshooks.conformance_kit.stub import FhirStub

MAX_SERVICES = 20  # services checked one by one; more are listed in the notes


@dataclass(frozen=True)
class Service:
    id: str
    hook: str
    prefetch: dict[str, str]

    @property
    def path(self) -> str:
        return f"/cds-services/{self.id}"


@dataclass
class Context:
    client: ServiceClient
    recorder: Recorder
    spec: str
    stub: FhirStub
    stub_usable: bool  # the service can reach the stub (both on loopback, or the operator said so)
    auth_required: bool = False
    origin: str = "https://sandbox.cds-hooks.org"
    fixtures: list[Path] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)

    def record(self, rid: str, status: Status, message: str, exchange: Exchange | None = None) -> None:
        if exchange is None:
            self.recorder.add(rid, status, message)
        else:
            self.recorder.add(rid, status, message, exchange.request_text(), exchange.response_text())

    def note(self, text: str) -> None:
        self.recorder.notes.append(text)

    def json_body(self, exchange: Exchange) -> tuple[bool, Any]:
        """The JSON body of a 2xx answer, recording requirement 1 (JSON content type and syntax)."""
        ok, body = exchange.parsed()
        if not ok:
            self.record(R(1), Status.FAIL, "the body is not JSON", exchange)
        elif not exchange.is_json_type:
            self.record(R(1), Status.FAIL, f"content type {exchange.content_type or '(none)'} is not JSON", exchange)
        else:
            self.record(R(1), Status.PASS, "JSON answer", exchange)
        return ok, body

    def error_body(self, exchange: Exchange) -> None:
        """3.0: a non-2xx answer should carry an OperationOutcome."""
        if exchange.status is None or 200 <= exchange.status < 300:
            return
        if exchange.is_operation_outcome():
            self.record(B("#returning-operationoutcome"), Status.PASS, "OperationOutcome body", exchange)
        else:
            self.record(B("#returning-operationoutcome"), Status.WARN, "no OperationOutcome body", exchange)


Check = Callable[[Context], None]


def check(primary: str) -> Callable[[Check], Check]:
    """Mark a check with the requirement that a crash inside it is reported against."""

    def mark(function: Check) -> Check:
        function.primary = primary  # type: ignore[attr-defined]
        return function

    return mark


def run_guarded(function: Check, ctx: Context) -> None:
    """Run a check; whatever goes wrong becomes a failing finding, never a traceback."""
    try:
        function(ctx)
    except Exception as exc:
        primary = getattr(function, "primary", R(74))
        ctx.record(primary, Status.FAIL, f"the check {function.__name__} could not finish: {type(exc).__name__}: "
                   f"{str(exc)[:300]}")
