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
from cdshooks.http.auth import current_client, current_identity
from cdshooks.http.body import read_json
from cdshooks.http.errors import operation_outcome, problem
from cdshooks.protocol.request import HookRequest, parse_request
from cdshooks.protocol.response import HookResponse
from cdshooks.runtime import Runtime, runtime
from cdshooks.services import BY_ID, ServiceDefinition
from cdshooks.store.store import IssuedCard, IssuedRating

log = logging.getLogger(__name__)

bp = Blueprint("services", __name__)

# what json.dumps(body, separators=(",", ":")) builds on every call (an encoder holds no state between calls)
_COMPACT = json.JSONEncoder(separators=(",", ":"))


def fetch_plan(request: HookRequest, rt: Runtime) -> FetchPlan:
    """How fhirServer may be reached. Authenticated: only the client's registered `fhir_servers` (https unless
    the client allows http); development mode: CDSHOOKS_FHIR_ALLOWLIST. Anything else is never contacted."""
    if request.fhirServer is None:
        return FetchPlan(None, "no fhirServer was given")
    client = current_client()
    if rt.auth is not None:
        if client is None:
            return FetchPlan(None, "no authenticated client")
        refusal = client.fhir_policy.refusal(request.fhirServer)
        if refusal is not None:
            log.warning("fhirServer not registered for the client; not contacted",
                        extra={"reason": "client-fhir-servers", "issuer": client.issuer})
            return FetchPlan(None, f"the fhirServer is not registered for this client ({refusal})")
    elif not rt.policy.allows(request.fhirServer):
        log.warning("fhirServer not allowlisted; not contacted", extra={"reason": "allowlist"})
        return FetchPlan(None, "the fhirServer is not on this service's allowlist")
    token = request.fhirAuthorization.access_token.get_secret_value() if request.fhirAuthorization else None
    fhir = FhirClient(rt.session, request.fhirServer, token, rt.settings.fhir_timeout, rt.settings.fhir_max_pages,
                      max_bytes=rt.settings.fhir_max_response_bytes, max_entries=rt.settings.max_prefetch_entries)
    return FetchPlan(fhir)


def prefetch_entries(body: Any) -> int:
    """FHIR resources in the request's prefetch: one per resource, one per Bundle entry."""
    prefetch = body.get("prefetch") if isinstance(body, dict) else None
    if not isinstance(prefetch, dict):
        return 0
    count = 0
    for value in prefetch.values():
        if isinstance(value, dict):
            entries = value.get("entry") if value.get("resourceType") == "Bundle" else None
            count += len(entries) if isinstance(entries, list) else 1
    return count


@bp.post("/cds-services/<service_id>")
def call(service_id: str) -> Response:
    started = time.perf_counter()
    service = BY_ID.get(service_id)
    if service is None:
        return problem(404, f"unknown service '{service_id[:100]}'")
    body = read_json()
    rt = runtime()
    entries = prefetch_entries(body)
    if entries > rt.settings.max_prefetch_entries:
        return problem(413, f"prefetch holds {entries} resources; at most {rt.settings.max_prefetch_entries} "
                       "are accepted", "prefetch")
    request, context = parse_request(body, expected_hook=service.hook)
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
        concurrency=rt.settings.fhir_concurrency,
        gates=rt.host_gates,
        max_entries=rt.settings.max_prefetch_entries,
    )
    if assembly.unavailable:
        _log_call(service, request, 412, started, None, assembly.degraded, assembly.unavailable)
        return operation_outcome(412, [
            (f"prefetch '{key}' is missing and cannot be fetched: {assembly.degraded.get(key, 'unavailable')}",
             f"prefetch.{key}")
            for key in assembly.unavailable
        ])
    patient_key = rt.store.patient_key(context.patientId)
    governance = pipeline.Governance(
        version=rt.knowledge_version, silent=rt.silent_topics,
        overridden=rt.repeats.for_patient(patient_key, now) if rt.repeats is not None else None)
    answer = pipeline.answer(service, assembly.record, now, rt.settings, rt.knowledge, rt.render, governance)
    body = answer.response.to_json()
    _record_issued(rt, service, request, patient_key, context.userId, answer, now)
    _log_call(service, request, 200, started, answer.response, assembly.degraded, [], assembly.fetched)
    return Response(_COMPACT.encode(body), mimetype="application/json")


def _record_issued(
    rt: Runtime, service: ServiceDefinition, request: HookRequest, patient_key: str, user_id: str,
    answer: pipeline.Answer, now: Any,
) -> None:
    """Every card the call produced (shown, silent, suppressed) and every rating, with the knowledge that produced
    them, the ordering clinician (keyed hash unless CDSHOOKS_STORE_USER_IDS) and the calling client."""
    if not answer.issued and not answer.ratings:
        return
    version = rt.knowledge_version
    client, tenant = current_identity()
    who = {
        "knowledge_version": version.version if version else None,
        "knowledge_hash": version.hash if version else None,
        "user_key": (user_id if rt.settings.store_user_ids else rt.store.user_key(user_id)) if user_id else None,
        "client_id": client.issuer if client else None,
        "tenant": tenant,
    }
    rows: list[IssuedCard | IssuedRating] = [
        IssuedCard(
            card_uuid=item.card.uuid,
            service_id=service.id,
            hook=service.hook,
            hook_instance=request.hookInstance,
            topic=item.card.topic,
            indicator=item.card.indicator,
            suggestion_uuids=tuple(s.uuid for s in item.card.suggestions),
            patient_key=patient_key,
            issued_at=now,
            delivery=item.delivery,
            evidence_key=item.evidence_key,
            **who,
        )
        for item in answer.issued
    ]
    consult_id = answer.consult.id if answer.consult else ""
    rows += [IssuedRating(consult_id=consult_id, service_id=service.id, hook=service.hook,
                          hook_instance=request.hookInstance, procedure_class=rating.procedure_class,
                          rating=rating.rating, patient_key=patient_key, rated_at=now, **who)
             for rating in answer.ratings]
    rt.store.record_cards(rows)


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
    if not log.isEnabledFor(logging.INFO):  # what log.info checks first, before its fields are gathered
        return
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
            "issuer": _issuer(),
        },
    )


def _issuer() -> str | None:
    client = current_client()
    return client.issuer if client else None
