"""GET /cds-services: the discovery document."""

from __future__ import annotations

import json

from flask import Blueprint, Response

from cdshooks.services import discovery_document

bp = Blueprint("discovery", __name__)

_BODY = json.dumps(discovery_document())


@bp.get("/cds-services")
def discover() -> Response:
    return Response(_BODY, mimetype="application/json")
