"""Liveness and readiness probes."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from cdshooks.runtime import runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def alive() -> Response:
    return jsonify(status="ok")


@bp.get("/readyz")
def ready() -> tuple[Response, int]:
    """Ready when the store answers; `lostCardWrites` counts issued-card audit rows this worker gave up on."""
    store = runtime().store
    lost = store.lost_cards
    if store.ping():
        return jsonify(status="ready", store="ok", lostCardWrites=lost), 200
    return jsonify(status="not-ready", store="unreachable", lostCardWrites=lost), 503
