"""POST /cds-services/{id}: validate the call, assemble the record, answer with cards and systemActions."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from flask import Blueprint, Response

from cdshooks import pipeline
from cdshooks.fhir.assemble import FetchPlan, assemble
from cdshooks.fhir.client import FhirClient
from cdshooks.http.body import read_json
from cdshooks.http.errors import operation_outcome, problem
from cdshooks.protocol.request import HookRequest, parse_request
from cdshooks.protocol.response import HookResponse
from cdshooks.runtime import Runtime, runtime
from cdshooks.services import BY_ID, ServiceDefinition
from cdshooks.store.store import IssuedCard

log = logging.getLogger(__name__)

bp = Blueprint("services", __name__)


def fetch_plan(request: HookRequest, rt: Runtime) -> FetchPlan:
    if request.fhirServer is None:
        return FetchPlan(None, "no fhirServer was given")
    if not rt.policy.allows(request.fhirServer):
        log.warning("fhirServer not allowlisted; not contacted", extra={"reason": "allowlist"})
        return FetchPlan(None, "the fhirServer is not on this service's allowlist")
    token = request.fhirAuthorization.access_token.get_secret_value() if request.fhirAuthorization else None
    client = FhirClient(rt.session, request.fhirServer, token, rt.settings.fhir_timeout, rt.settings.fhir_max_pages)
    return FetchPlan(client)


@bp.post("/cds-services/<service_id>")
def call(service_id: str) -> Response:
    started = time.perf_counter()
    service = BY_ID.get(service_id)
    if service is None:
        return problem(404, f"unknown service '{service_id[:100]}'")
    request, context = parse_request(read_json(), expected_hook=service.hook)
    rt = runtime()
    now = rt.clock()
    draft_orders = context.draftOrders.resources() if hasattr(context, "draftOrders") else []
    assembly = assemble(
        patient_id=context.patientId,
        context=request.context,
        prefetch=request.prefetch,
        templates=service.prefetch,
        plan=fetch_plan(request, rt),
        executor=rt.executor,
        budget=rt.settings.fhir_budget,
        draft_orders=draft_orders,
        selections=getattr(context, "selections", ()),
    )
    if assembly.unavailable:
        _log_call(service, request, 412, started, None, assembly.degraded, assembly.unavailable)
        return operation_outcome(412, [
            (f"prefetch '{key}' is missing and cannot be fetched: {assembly.degraded.get(key, 'unavailable')}",
             f"prefetch.{key}")
            for key in assembly.unavailable
        ])
    answer = pipeline.answer(service, assembly.record, now, rt.settings, rt.knowledge, render=rt.render,
                             rate=rt.rate)
    body = answer.response.to_json()
    _record_issued(rt, service, request, context.patientId, answer.response, now)
    _log_call(service, request, 200, started, answer.response, assembly.degraded, [], assembly.fetched)
    return Response(json.dumps(body, separators=(",", ":")), mimetype="application/json")


def _record_issued(
    rt: Runtime, service: ServiceDefinition, request: HookRequest, patient_id: str, response: HookResponse,
    now: Any,
) -> None:
    if not response.cards:
        return
    key = rt.store.patient_key(patient_id)
    rt.store.record_cards([
        IssuedCard(
            card_uuid=card.uuid,
            service_id=service.id,
            hook=service.hook,
            hook_instance=request.hookInstance,
            topic=card.topic,
            indicator=card.indicator,
            suggestion_uuids=tuple(s.uuid for s in card.suggestions),
            patient_key=key,
            issued_at=now,
        )
        for card in response.cards
    ])


def _log_call(
    service: ServiceDefinition,
    request: HookRequest,
    status: int,
    started: float,
    response: HookResponse | None,
    degraded: dict[str, str],
    unavailable: list[str],
    fetched: list[str] | None = None,
) -> None:
    log.info(
        "hook call",
        extra={
            "event": "hook",
            "service": service.id,
            "hook": service.hook,
            "hook_instance": request.hookInstance,
            "status": status,
            "latency_ms": round((time.perf_counter() - started) * 1000, 2),
            "cards": len(response.cards) if response else 0,
            "topics": [c.topic for c in response.cards] if response else [],
            "system_actions": len(response.system_actions) if response else 0,
            "fetched": fetched or [],
            "degraded": sorted(degraded),
            "unavailable": unavailable,
        },
    )
