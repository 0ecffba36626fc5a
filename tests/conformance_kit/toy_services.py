"""Deliberately broken CDS services for the kit's tests, served on loopback by werkzeug in a thread.

`broken_toy()` is a plausible service with a handful of classic mistakes and nothing else wrong (so the kit
must fail exactly those ids). `weird_service()` answers nonsense of every kind under path prefixes
(`/html`, `/garbage`, `/slow`), to prove the kit reports instead of crashing and stays within its time budget.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from flask import Flask, Response, jsonify, request
from werkzeug.serving import make_server

TOY_DISCOVERY = {"services": [
    {"hook": "patient-view", "id": "toy-patient-view", "title": "Toy patient view",
     "description": "Greets the patient.", "prefetch": {"patient": "Patient/{{context.patientId}}"}},
    {"hook": "order-select", "id": "toy-order-select", "title": "Toy order select",
     "description": "Comments on orders.",
     "prefetch": {"patient": "Patient/{{context.patientId}}",
                  # a Da Vinci CRD style token: nested, and draftOrders is no prefetch token for order-select
                  "orders": "ServiceRequest?_id={{context.draftOrders.ServiceRequest.id}}"}},
]}

TOY_CARDS = [
    {"uuid": str(uuid.UUID(int=1)), "summary": "Consider the guideline. " + "x" * 176,  # 200 characters
     "indicator": "warning", "source": {"label": "Toy guideline"},
     "suggestions": [{"label": "Order it", "uuid": str(uuid.UUID(int=2)), "actions": [  # no selectionBehavior
         {"type": "create", "description": "Order a review",
          "resource": {"resourceType": "ServiceRequest", "status": "draft", "intent": "order"}}]}],
     "links": [{"label": "Guide", "url": "https://toy.example.org/guide", "type": "absolute",
                "appContext": "session-42"}]},  # appContext on an absolute link
    {"uuid": str(uuid.UUID(int=3)), "summary": "Check the dose", "indicator": "info",
     "source": {"label": "Toy"},
     "overrideReasons": [{"system": "https://toy.example.org/reasons", "code": "no"}]},  # no display
]


def _cors(response: Response) -> Response:
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
    response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    return response


def _fetch_patient(body: dict[str, Any]) -> bool:
    """Fetch Patient from fhirServer with the access token; True when it answered 200."""
    server, auth = body.get("fhirServer"), body.get("fhirAuthorization") or {}
    if not server:
        return False
    response = requests.get(f"{server}/Patient/{body['context']['patientId']}", timeout=5,
                            headers={"Authorization": f"Bearer {auth.get('access_token')}"})
    return response.status_code == 200


def broken_toy() -> Flask:
    app = Flask("broken_toy")
    app.logger.setLevel(logging.CRITICAL)  # its 500s are deliberate: no traceback in the test output
    app.after_request(_cors)

    @app.get("/cds-services")
    def discovery() -> Response:
        return jsonify(TOY_DISCOVERY)

    @app.route("/cds-services/<service_id>", methods=["OPTIONS"])
    @app.route("/cds-services", methods=["OPTIONS"])
    def preflight(service_id: str = "") -> tuple[str, int]:
        return "", 204

    @app.post("/cds-services/<service_id>")
    def call(service_id: str) -> Response | tuple[Response, int]:
        body = json.loads(request.data)  # bad JSON: an unhandled exception, so a 500
        if "hookInstance" not in body:
            return jsonify({"resourceType": "OperationOutcome",
                            "issue": [{"severity": "error", "code": "invalid"}]}), 400
        prefetch = body.get("prefetch") or {}
        patient = prefetch.get("patient", "absent")
        usable = patient is None or (isinstance(patient, dict) and patient.get("resourceType") == "Patient")
        if not usable and not _fetch_patient(body):
            return jsonify({"resourceType": "OperationOutcome", "issue": [{"severity": "error",
                                                                           "code": "incomplete"}]}), 412
        return jsonify({"cards": TOY_CARDS})

    return app


def weird_service() -> Flask:
    app = Flask("weird")

    @app.get("/html/cds-services")
    def html() -> Response:
        return Response("<html><body>It works!</body></html>", mimetype="text/html")

    @app.get("/garbage/cds-services")
    def garbage_discovery() -> Response:
        return jsonify({"services": [
            {"id": ["x"], "hook": 5}, "text", None,
            {"id": "svc", "hook": "patient-view", "description": "d", "extension": "no",
             "prefetch": {"a": 5, "b": "Patient/{{context.patientId", "c": "Observation?patient={{context.x.y}}"}},
        ]})

    @app.post("/garbage/cds-services/svc")
    def garbage_call() -> Response:
        return jsonify({"cards": [1, None, {"summary": 5, "indicator": ["x"], "source": "s", "uuid": {"a": 1},
                                            "suggestions": {"a": 1}, "overrideReasons": [[]],
                                            "links": [{"type": ["absolute"], "url": "http://[::1", "appContext": 3}]},
                                  {"summary": "ok", "indicator": "info", "source": {"label": "l", "topic": 7},
                                   "extension": [1], "suggestions": [{"actions": "x"}, {"label": "y", "actions": [
                                       {"type": {}, "resourceId": 5}]}], "selectionBehavior": ["any"]}],
                        "systemActions": "no", "extension": 3})

    @app.post("/garbage/cds-services/svc/feedback")
    def garbage_feedback() -> tuple[str, int]:
        return "boom", 500

    @app.route("/garbage/cds-services", methods=["OPTIONS"])
    def garbage_preflight() -> tuple[str, int]:
        return "no", 500

    @app.get("/slow/cds-services")
    def slow_discovery() -> Response:
        return jsonify({"services": [{"id": "svc", "hook": "patient-view", "description": "d",
                                      "prefetch": {"patient": "Patient/{{context.patientId}}"}}]})

    @app.post("/slow/cds-services/svc")
    def slow_call() -> Response:
        time.sleep(2.0)
        return jsonify({"cards": []})

    return app


@contextmanager
def serve(app: Flask, ssl_context: ssl.SSLContext | None = None) -> Iterator[str]:
    """Serve `app` on a free loopback port in a thread; yields its base URL (ready when yielded: the socket
    listens before the thread starts)."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log in the test output
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=ssl_context)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
