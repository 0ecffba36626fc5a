"""GET {base}/cds-services: status, shape, field types, prefetch templates; fills `ctx.services`."""

from __future__ import annotations

import re
from typing import Any

from cdshooks.conformance_kit.client import Exchange
from cdshooks.conformance_kit.context import MAX_SERVICES, Context, Service, check
from cdshooks.conformance_kit.requirements import B, R
from cdshooks.conformance_kit.results import Status
from cdshooks.conformance_kit.tokens import HOOK_TOKENS, Finding, cycle_findings, query_findings, template_findings
from cdshooks.protocol.conformance import discovery_problems

VERSION = re.compile(r"STU[1-9]|\d+\.\d+(\.\d+)?")


@check(R(13))
def discovery(ctx: Context) -> None:
    exchange = ctx.client.get("/cds-services", headers={"Origin": ctx.origin})
    if exchange.status != 200:
        for rid in (R(4), R(13)):
            ctx.record(rid, Status.FAIL, "discovery did not answer 200", exchange)
        ctx.error_body(exchange)
        return
    for rid in (R(4), R(13)):
        ctx.record(rid, Status.PASS, "discovery answered 200", exchange)
    _cors_on_answer(ctx, exchange)
    ok, body = ctx.json_body(exchange)
    if not ok:
        ctx.record(R(6), Status.FAIL, "no discovery document to read", exchange)
        return
    for rid in (R(6), R(3), R(7), R(9), R(10)):
        ctx.record(rid, Status.PASS, "discovery document checked", exchange)
    for problem in discovery_problems(body):
        ctx.record(problem.requirement or R(6), Status.FAIL, str(problem), exchange)
    services = body.get("services") if isinstance(body, dict) else None
    if not isinstance(services, list):
        return
    for i, entry in enumerate(services):
        if isinstance(entry, dict):
            _service(ctx, i, entry)
    if len(ctx.services) > MAX_SERVICES:
        ctx.note(f"{len(ctx.services)} services advertised; the first {MAX_SERVICES} were called")
        del ctx.services[MAX_SERVICES:]
    if not ctx.services:
        ctx.note("discovery lists no callable service: the invocation checks did not run")


def _service(ctx: Context, i: int, entry: dict[str, Any]) -> None:
    """One discovery entry (the evidence names its path; the document itself is on requirement 6)."""
    path = f"services[{i}]"
    title = entry.get("title")
    if isinstance(title, str) and title:
        ctx.record(R(8), Status.PASS, f"{path}.title present")
    else:
        ctx.record(R(8), Status.WARN, f"{path}.title: recommended string missing")
    _version(ctx, path, entry)
    _extension(ctx, path, entry.get("extension"), "extension" in entry)
    sid, hook, prefetch = entry.get("id"), entry.get("hook"), entry.get("prefetch")
    templates = {str(k): v for k, v in prefetch.items() if isinstance(v, str)} if isinstance(prefetch, dict) else {}
    if templates:
        ctx.record(R(36), Status.PASS, f"{path}.prefetch: {len(templates)} templates")
    if isinstance(sid, str) and sid and isinstance(hook, str) and hook:
        ctx.services.append(Service(sid, hook, templates))
        _templates(ctx, path, hook, templates)


def _version(ctx: Context, path: str, entry: dict[str, Any]) -> None:
    rid = B("#response.version")
    value = entry.get("version")
    if value is None:
        ctx.record(rid, Status.WARN, f"{path}.version: not advertised")
    elif isinstance(value, str) and VERSION.fullmatch(value):
        ctx.record(rid, Status.PASS, f"{path}.version = {value}")
    else:
        ctx.record(rid, Status.FAIL, f"{path}.version: must be a string such as STU2 or STU3")


def _extension(ctx: Context, path: str, value: Any, present: bool) -> None:
    if not present:
        return
    if not isinstance(value, dict):
        ctx.record(R(214), Status.FAIL, f"{path}.extension: must be an object")
        return
    ctx.record(R(214), Status.PASS, f"{path}.extension is an object")
    for name in value:
        status = Status.PASS if "." in str(name) else Status.WARN
        ctx.record(R(215), status, f"{path}.extension.{name}")


def _templates(ctx: Context, path: str, hook: str, templates: dict[str, str]) -> None:
    recorded: set[str] = set()
    findings = []
    for key, template in templates.items():
        findings += template_findings(key, template, hook, ctx.spec, templates.keys())
        findings += query_findings(key, template)
    if ctx.spec == "3.0":
        findings += cycle_findings(templates)
    forbidden = [rid for rid in HOOK_TOKENS.get(hook, {}).values() if rid]
    findings += [Finding(rid, Status.PASS, "no template uses a forbidden context field") for rid in forbidden]
    for finding in findings:
        if finding.status is Status.PASS:
            if finding.requirement in recorded:
                continue  # one pass per requirement and service is evidence enough
            recorded.add(finding.requirement)
        ctx.record(finding.requirement, finding.status, f"{path} {finding.message}")  # the document is evidence


def _cors_on_answer(ctx: Context, exchange: Exchange) -> None:
    allowed = exchange.headers.get("Access-Control-Allow-Origin")
    if allowed in (ctx.origin, "*"):
        ctx.record(R(208), Status.PASS, f"GET with Origin {ctx.origin}: Access-Control-Allow-Origin {allowed}",
                   exchange)
    else:
        ctx.record(R(208), Status.FAIL, f"GET with Origin {ctx.origin}: no Access-Control-Allow-Origin for it",
                   exchange)
