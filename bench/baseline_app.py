"""The benchmark's floor: a bare Flask app that reads the JSON body and answers `{"cards": []}`.

Same route shape and response construction as the service (`POST /cds-services/<id>`, body read with
`request.get_data()`, JSON with compact separators), nothing else: no validation, no prefetch handling, no
store. Service latency divided by this app's latency is the cost of the service's own work per call.

Used in-process by `bench/run.py` (`create_baseline_app()`) and under gunicorn as `bench.baseline_app:app`.
"""

from __future__ import annotations

import json

from flask import Flask, Response, jsonify, request

CARDS_NONE = json.dumps({"cards": []}, separators=(",", ":"))


def create_baseline_app() -> Flask:
    app = Flask(__name__)

    @app.post("/cds-services/<service_id>")
    def call(service_id: str) -> Response:
        json.loads(request.get_data())
        return Response(CARDS_NONE, mimetype="application/json")

    @app.get("/healthz")
    def alive() -> Response:
        return jsonify(status="ok")

    return app


app = create_baseline_app()
