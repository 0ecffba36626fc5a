"""Errors as FHIR OperationOutcome bodies, for every endpoint and every status."""

from __future__ import annotations

import json
import logging

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from cdshooks.protocol.request import RequestProblem

log = logging.getLogger(__name__)

# FHIR IssueType per HTTP status (http://hl7.org/fhir/issue-type)
_ISSUE_TYPE = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    412: "incomplete",
    413: "too-costly",
    415: "not-supported",
    429: "throttled",
    500: "exception",
    503: "transient",
}


def operation_outcome(status: int, issues: list[tuple[str, str | None]]) -> Response:
    """A JSON OperationOutcome; `issues` are (diagnostics, expression-or-None)."""
    code = _ISSUE_TYPE.get(status, "processing")
    body = {
        "resourceType": "OperationOutcome",
        "issue": [
            {"severity": "error", "code": code, "diagnostics": diagnostics}
            | ({"expression": [expression]} if expression else {})
            for diagnostics, expression in issues
        ],
    }
    return Response(json.dumps(body), status=status, mimetype="application/json")


def problem(status: int, diagnostics: str, expression: str | None = None) -> Response:
    return operation_outcome(status, [(diagnostics, expression)])


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(RequestProblem)
    def _bad_request(exc: RequestProblem) -> Response:
        return operation_outcome(400, [(f"{path}: {msg}", path) for path, msg in exc.problems])

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        messages = {
            404: "no such endpoint or service",
            405: "method not allowed",
            413: "request body too large",
            415: "Content-Type must be application/json",
        }
        response = problem(status, messages.get(status, exc.description or exc.name))
        if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error", extra={"error": type(exc).__name__})
        return problem(500, "internal error")
