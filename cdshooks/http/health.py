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
    if runtime().store.ping():
        return jsonify(status="ready", store="ok"), 200
    return jsonify(status="not-ready", store="unreachable"), 503
