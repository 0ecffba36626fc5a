"""GET /analytics: card acceptance and override statistics per topic (not part of CDS Hooks).

Authenticated like every other endpoint. `?since=YYYY-MM-DD` limits to cards issued since then. JSON by
default; the HTML page (the same as `cdshooks report --html`) with `?format=html` or for a client that prefers
text/html (a browser).
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, jsonify, request

from cdshooks.analytics.report import build_report
from cdshooks.http.errors import problem
from cdshooks.runtime import runtime

bp = Blueprint("analytics", __name__)


def parse_since(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@bp.get("/analytics")
def analytics() -> Response:
    try:
        since = parse_since(request.args.get("since"))
    except ValueError:
        return problem(400, "since: must be an ISO 8601 date or date-time", "since")
    rt = runtime()
    report = build_report(rt.store.engine, since=since, now=rt.clock(), catalog=rt.render.catalog)
    wanted = request.args.get("format") or (
        "html" if request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html" else "json")
    if wanted == "html":
        from cdshooks.analytics.html import render_html

        return Response(render_html(report), mimetype="text/html")
    if wanted != "json":
        return problem(400, "format: must be json or html", "format")
    return jsonify(report.to_json())
