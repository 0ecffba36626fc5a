"""Calling each service: a valid call with full prefetch, malformed calls, and the operator's fixtures."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime

from cdshooks import replay
from cdshooks.conformance_kit.checks.responses import check_answer
from cdshooks.conformance_kit.client import Exchange
from cdshooks.conformance_kit.context import Context, Service, check
from cdshooks.conformance_kit.hook_requests import context_for, full_prefetch, hook_request, patient_id
from cdshooks.conformance_kit.requirements import R
from cdshooks.conformance_kit.results import Status

QUICK_MS = 500.0
MALFORMED = R("#http-status-codes.malformed-request")
MAX_FIXTURES = 200


def answer(ctx: Context, exchange: Exchange, what: str) -> bool:
    """Judge a call that should succeed: 200 with a valid body. True when it did."""
    if exchange.status != 200:
        ctx.record(R(74), Status.FAIL, f"{what}: expected 200", exchange)
        ctx.error_body(exchange)
        return False
    ok, body = ctx.json_body(exchange)
    if ok:
        check_answer(ctx, exchange, body)
    else:
        ctx.record(R(74), Status.FAIL, f"{what}: no JSON body", exchange)
    return ok


@check(R(74))
def invocation(ctx: Context) -> None:
    for service in ctx.services:
        patient = patient_id("call")
        prefetch = full_prefetch(service.prefetch, context_for(service.hook, patient))
        fastest = None
        for _ in range(2):  # the faster of two calls: the first may pay for warm-up
            exchange = ctx.client.post(service.path, hook_request(service.hook, patient, prefetch=prefetch))
            if exchange.status in (404, 405) or exchange.status is None:
                ctx.record(R(16), Status.FAIL, f"{service.id}: the advertised service does not answer", exchange)
                break
            ctx.record(R(16), Status.PASS, f"{service.id}: answers", exchange)
            if not answer(ctx, exchange, f"{service.id}: valid call with full prefetch"):
                break
            fastest = exchange if fastest is None or exchange.elapsed_ms < fastest.elapsed_ms else fastest
        if fastest is not None:
            status = Status.PASS if fastest.elapsed_ms <= QUICK_MS else Status.WARN
            ctx.record(R(27), status, f"{service.id}: answered in {fastest.elapsed_ms:.0f} ms", fastest)


@check(MALFORMED)
def malformed(ctx: Context) -> None:
    for service in ctx.services:
        exchange = ctx.client.post(service.path, raw=b'{"hook": "' + service.hook.encode() + b'", "context": ')
        _client_error(ctx, exchange, f"{service.id}: body that is not JSON", lenient=False)
        body = {"hook": service.hook, "context": {}}  # no hookInstance, empty context
        exchange = ctx.client.post(service.path, body)
        _client_error(ctx, exchange, f"{service.id}: hookInstance missing, empty context", lenient=True)


def _client_error(ctx: Context, exchange: Exchange, what: str, lenient: bool) -> None:
    status = exchange.status
    if status is not None and 400 <= status < 500:
        ctx.record(MALFORMED, Status.PASS, f"{what}: {status}", exchange)
    elif status is not None and 200 <= status < 300 and lenient:
        ctx.record(MALFORMED, Status.WARN, f"{what}: accepted (a client error was expected)", exchange)
    else:
        ctx.record(MALFORMED, Status.FAIL, f"{what}: a 4xx was expected", exchange)
    ctx.error_body(exchange)


@check(R(74))
def fixtures(ctx: Context) -> None:
    paths = replay.collect(ctx.fixtures)
    if len(paths) > MAX_FIXTURES:
        ctx.note(f"{len(paths)} fixtures found; the first {MAX_FIXTURES} were sent")
    for path in paths[:MAX_FIXTURES]:
        try:
            fixture = replay.load_fixture(path)
        except ValueError as exc:
            ctx.note(f"{path}: not a fixture ({exc})")
            continue
        service = _target(ctx, fixture)
        if service is None:
            ctx.note(f"{path}: no advertised service answers hook {fixture.request.get('hook')!r}")
            continue
        request = copy.deepcopy(fixture.request)
        if fixture.as_of is not None:  # dates never rot: shift them to today, as `replay --url` does
            request = replay.shift_dates(request, (datetime.now(UTC).date() - fixture.as_of.date()).days)
        request["hookInstance"] = str(uuid.uuid4())
        exchange = ctx.client.post(service.path, request)
        expected = fixture.expect.get("status", 200)
        if expected == 200:
            answer(ctx, exchange, f"fixture {path.name}")
            continue
        if exchange.status != expected:
            ctx.record(R(74), Status.FAIL, f"fixture {path.name}: expected HTTP {expected}", exchange)
        elif expected == 412:
            ctx.record(R(54), Status.PASS, f"fixture {path.name}: 412 as expected", exchange)
        ctx.error_body(exchange)


def _target(ctx: Context, fixture: replay.Fixture) -> Service | None:
    hook = fixture.request.get("hook")
    for service in ctx.services:
        if service.id == fixture.service_id and service.hook == hook:
            return service
    return next((s for s in ctx.services if s.hook == hook), None)
