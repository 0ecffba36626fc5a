"""GET /cds-services: the discovery document (with `version` only when CDSHOOKS_DISCOVERY_VERSION is set)."""

from __future__ import annotations

import json
from functools import lru_cache

from flask import Blueprint, Response

from cdshooks.runtime import runtime
from cdshooks.services import discovery_document

bp = Blueprint("discovery", __name__)


@lru_cache(maxsize=4)
def _body(version: str) -> str:
    return json.dumps(discovery_document(version))


@bp.get("/cds-services")
def discover() -> Response:
    return Response(_body(runtime().settings.discovery_version), mimetype="application/json")
