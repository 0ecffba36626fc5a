"""POST /cds-services/{id}/feedback: accepted / overridden outcomes, stored idempotently."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify
from sqlalchemy.exc import SQLAlchemyError

from cdshooks.http.auth import current_client
from cdshooks.http.body import read_json
from cdshooks.http.errors import problem
from cdshooks.protocol.feedback import parse_feedback
from cdshooks.runtime import runtime
from cdshooks.services import BY_ID

log = logging.getLogger(__name__)

bp = Blueprint("feedback", __name__)


@bp.post("/cds-services/<service_id>/feedback")
def receive(service_id: str) -> Response | tuple[Response, int]:
    if service_id not in BY_ID:
        return problem(404, f"unknown service '{service_id[:100]}'")
    batch = parse_feedback(read_json())
    rt = runtime()
    try:
        result = rt.store.add_feedback(service_id, batch.feedback, rt.clock())
    except SQLAlchemyError as exc:
        log.error("feedback not stored: store unavailable", extra={"error": type(exc).__name__})
        return problem(503, "feedback store unavailable; retry later")
    log.info(
        "feedback",
        extra={"event": "feedback", "service": service_id, "received": result.received, "stored": result.stored,
               "duplicates": result.duplicates, "unknown": result.unknown_cards,
               "issuer": client.issuer if (client := current_client()) else None},
    )
    return jsonify(
        received=result.received, stored=result.stored, duplicates=result.duplicates,
        unknownCards=result.unknown_cards,
    ), 200
