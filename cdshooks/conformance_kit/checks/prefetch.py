"""How each service handles prefetch as clients really send it: nothing, absent keys with a FHIR server,
`null`, OperationOutcomes, a paginated searchset. The FHIR server is the kit's own stub; a check's requests
to it are found by the check's own patient id."""

from __future__ import annotations

from typing import Any

from cdshooks.conformance_kit.checks.invocation import answer
from cdshooks.conformance_kit.client import Exchange
from cdshooks.conformance_kit.context import Context, Service, check
from cdshooks.conformance_kit.hook_requests import context_for, full_prefetch, hook_request, patient_id
from cdshooks.conformance_kit.requirements import B, R
from cdshooks.conformance_kit.results import Status

NULL = R("#prefetch-template.null")
PAGES = R("#prefetch-template.pagination")
V2_SCOPES = B("#passing-the-access-token-to-the-cds-service")
OUTCOME = {"resourceType": "OperationOutcome", "issue": [
    {"severity": "error", "code": "timeout", "diagnostics": "conformance kit: the client could not fetch this key"}]}


def _with_prefetch(ctx: Context, *rids: str) -> list[Service]:
    services = [s for s in ctx.services if s.prefetch]
    if ctx.services and not services:
        for rid in rids:
            ctx.record(rid, Status.NA, "no service declares prefetch templates")
    return services


def _stub_unusable(ctx: Context, *rids: str) -> bool:
    if ctx.stub_usable:
        return False
    for rid in rids:
        ctx.record(rid, Status.NA, f"the kit's FHIR stub ({ctx.stub.base_url}) cannot be reached by a remote "
                   "service: pass --fhir-stub-host with an address the service can reach")
    return True


def _server(ctx: Context) -> dict[str, Any]:
    return {"fhir_server": ctx.stub.base_url, "token": ctx.stub.token, "spec": ctx.spec} if ctx.stub_usable else {}


def _token_presented(ctx: Context, patient: str, exchange: Exchange) -> int:
    """Requirement 61 from the stub's log; the number of FHIR requests this check caused."""
    hits = ctx.stub.hits(patient)
    refused = [h for h in hits if not h.authorized]
    if refused:
        ctx.record(R(61), Status.FAIL, f"{len(refused)} of {len(hits)} FHIR requests without the access token, e.g. "
                   f"{refused[0].method} {refused[0].target[:200]}", exchange)
    elif hits:
        ctx.record(R(61), Status.PASS, f"{len(hits)} FHIR requests, each with the access token", exchange)
    return len(hits)


@check(R(54))
def missing_data(ctx: Context) -> None:
    for service in _with_prefetch(ctx, R(54)):
        exchange = ctx.client.post(service.path, hook_request(service.hook, patient_id("none")))
        if exchange.status == 412:
            ctx.record(R(54), Status.PASS, f"{service.id}: no prefetch and no fhirServer: 412", exchange)
        elif exchange.status == 200:
            ctx.record(R(54), Status.WARN, f"{service.id}: no prefetch and no fhirServer, yet 200: right only if "
                       "none of its prefetch is required", exchange)
            answer(ctx, exchange, f"{service.id}: call without data")
        else:
            ctx.record(R(54), Status.FAIL, f"{service.id}: no prefetch and no fhirServer: 412 expected", exchange)
        ctx.error_body(exchange)


@check(R(34))
def absent_keys(ctx: Context) -> None:
    if _stub_unusable(ctx, R(34), R(61), V2_SCOPES):
        return
    for service in _with_prefetch(ctx, R(34), R(61), V2_SCOPES):
        patient = patient_id("absent")
        exchange = ctx.client.post(service.path, hook_request(service.hook, patient, **_server(ctx)))
        fetched = _token_presented(ctx, patient, exchange)
        if exchange.status == 200:
            ctx.record(R(34), Status.PASS, f"{service.id}: no prefetch, fhirServer given: 200 after {fetched} FHIR "
                       "requests", exchange)
            ctx.record(V2_SCOPES, Status.PASS, f"{service.id}: scope {'patient/*.rs'!r} accepted", exchange)
            answer(ctx, exchange, f"{service.id}: call with fhirServer")
            continue
        ctx.error_body(exchange)
        if exchange.status == 412:
            ctx.record(R(34), Status.WARN, f"{service.id}: 412 with {fetched} FHIR requests made: does the service "
                       f"accept {ctx.stub.base_url} as this client's FHIR server?", exchange)
        elif ctx.spec == "3.0" and exchange.status is not None and 400 <= exchange.status < 500:
            v1 = _server(ctx) | {"spec": "2.0"}
            retry = ctx.client.post(service.path, hook_request(service.hook, patient_id("absent"), **v1))
            if retry.status == 200:
                ctx.record(V2_SCOPES, Status.FAIL, f"{service.id}: refused SMART v2 scopes, accepted v1", exchange)
            else:
                ctx.record(R(34), Status.FAIL, f"{service.id}: no prefetch, fhirServer given: 200 expected", exchange)
        else:
            ctx.record(R(34), Status.FAIL, f"{service.id}: no prefetch, fhirServer given: 200 expected", exchange)


@check(NULL)
def null_values(ctx: Context) -> None:
    for service in _with_prefetch(ctx, NULL):
        prefetch = dict.fromkeys(service.prefetch)
        exchange = ctx.client.post(service.path, hook_request(service.hook, patient_id("null"), prefetch=prefetch))
        if exchange.status == 200:
            ctx.record(NULL, Status.PASS, f"{service.id}: every key null: 200", exchange)
            answer(ctx, exchange, f"{service.id}: call with null prefetch")
            continue
        status = Status.WARN if exchange.status == 412 else Status.FAIL
        ctx.record(NULL, status, f"{service.id}: every key null (no data): 200 expected", exchange)
        ctx.error_body(exchange)


@check(R(52))
def operation_outcomes(ctx: Context) -> None:
    for service in _with_prefetch(ctx, R(52)):
        patient = patient_id("outcome")
        prefetch = dict.fromkeys(service.prefetch, OUTCOME)
        exchange = ctx.client.post(service.path, hook_request(service.hook, patient, prefetch=prefetch,
                                                              **_server(ctx)))
        fetched = _token_presented(ctx, patient, exchange)
        if exchange.status == 200:
            ctx.record(R(52), Status.PASS, f"{service.id}: every key an OperationOutcome: 200 ({fetched} keys "
                       "fetched from fhirServer)", exchange)
            answer(ctx, exchange, f"{service.id}: call with OperationOutcomes in prefetch")
            continue
        ctx.error_body(exchange)
        if exchange.status == 412 and not ctx.stub_usable:
            ctx.record(R(52), Status.PASS, f"{service.id}: OperationOutcomes taken as missing data: 412", exchange)
        elif exchange.status == 412:
            ctx.record(R(52), Status.WARN, f"{service.id}: OperationOutcomes in prefetch: 412 although fhirServer "
                       f"could have supplied the data ({fetched} FHIR requests)", exchange)
        else:
            ctx.record(R(52), Status.FAIL, f"{service.id}: OperationOutcomes in prefetch broke the call", exchange)


@check(PAGES)
def pagination(ctx: Context) -> None:
    if _stub_unusable(ctx, PAGES):
        return
    for service in _with_prefetch(ctx, PAGES):
        searches = {k: t.split("?")[0] for k, t in service.prefetch.items() if "?" in t and "/" not in t.split("?")[0]}
        if not searches:
            ctx.record(PAGES, Status.NA, f"{service.id}: no search template")
            continue
        patient = patient_id("pages")
        prefetch = full_prefetch(service.prefetch, context_for(service.hook, patient))
        for key, kind in searches.items():
            prefetch[key] = {"resourceType": "Bundle", "type": "searchset", "link": [
                {"relation": "next", "url": f"{ctx.stub.base_url}/{kind}?patient={patient}&_kitpage=2&_kitkey={key}"}]}
        exchange = ctx.client.post(service.path, hook_request(service.hook, patient, prefetch=prefetch,
                                                              **_server(ctx)))
        _token_presented(ctx, patient, exchange)
        followed = {h.target.split("_kitkey=")[-1] for h in ctx.stub.hits(patient) if "_kitpage=2" in h.target}
        if exchange.status != 200:
            ctx.record(PAGES, Status.FAIL, f"{service.id}: paginated searchsets in prefetch: 200 expected", exchange)
            ctx.error_body(exchange)
        elif followed:
            ctx.record(PAGES, Status.PASS, f"{service.id}: fetched the next page of {len(followed)} of "
                       f"{len(searches)} paginated keys", exchange)
            answer(ctx, exchange, f"{service.id}: call with paginated prefetch")
        else:
            ctx.record(PAGES, Status.WARN, f"{service.id}: answered without fetching any next page", exchange)
            answer(ctx, exchange, f"{service.id}: call with paginated prefetch")
