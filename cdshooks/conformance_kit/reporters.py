"""The report as text (for people), JSON (for tools) and JUnit XML (for CI dashboards)."""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree

from cdshooks.conformance_kit.results import Outcome, Report, Status

_LABEL = {Status.PASS: "PASS", Status.FAIL: "FAIL", Status.WARN: "WARN", Status.NA: "n/a "}


def _shown(outcome: Outcome) -> list[str]:
    """Evidence lines worth printing: failures and warnings, or why a requirement did not apply."""
    status = outcome.status
    lines = []
    for item in outcome.evidence:
        if item.status is not status or status is Status.PASS:
            continue
        lines.append(f"        {item.message}")
        if item.request:
            lines.append(f"          sent: {item.request}")
        if item.response:
            lines.append(f"          got:  {item.response}")
    if outcome.omitted and status in (Status.FAIL, Status.WARN):
        lines.append(f"        (+{outcome.omitted} more)")
    return lines


def text(report: Report) -> str:
    counts = report.counts()
    out = [f"CDS Hooks {report.spec} conformance of {report.base_url}", ""]
    area = ""
    for outcome in report.outcomes:
        requirement = outcome.requirement
        if requirement.area != area:
            area = requirement.area
            out.append(f"[{area}]")
        out.append(f"  {_LABEL[outcome.status]}  {requirement.id}  {requirement.level}: {requirement.text}")
        out.extend(_shown(outcome))
    out.extend(f"note: {note}" for note in report.notes)
    out.append("")
    out.append(f"{counts['pass']} passed, {counts['fail']} failed, {counts['warn']} warnings, {counts['n/a']} not "
               f"applicable ({len(report.outcomes)} requirements, {report.seconds:.1f} s)")
    return "\n".join(out)


def to_json(report: Report) -> dict[str, Any]:
    return {
        "tool": "cdshooks check-service",
        "spec": report.spec,
        "baseUrl": report.base_url,
        "summary": report.counts(),
        "seconds": round(report.seconds, 2),
        "notes": report.notes,
        "requirements": [
            {
                "id": o.requirement.id,
                "level": o.requirement.level,
                "area": o.requirement.area,
                "text": o.requirement.text,
                "url": o.requirement.url,
                "status": o.status.value,
                "evidence": [
                    {"status": e.status.value, "message": e.message}
                    | ({"request": e.request} if e.request else {})
                    | ({"response": e.response} if e.response else {})
                    for e in o.evidence
                ],
                "omitted": o.omitted,
            }
            for o in report.outcomes
        ],
    }


def json_text(report: Report) -> str:
    return json.dumps(to_json(report), indent=2)


def junit(report: Report) -> bytes:
    """One test case per requirement (class name = area); n/a is skipped, a warning passes with its output."""
    counts = report.counts()
    suite = ElementTree.Element("testsuite", {
        "name": f"cdshooks check-service (CDS Hooks {report.spec})", "tests": str(len(report.outcomes)),
        "failures": str(counts["fail"]), "skipped": str(counts["n/a"]), "errors": "0",
        "time": f"{report.seconds:.2f}"})
    for outcome in report.outcomes:
        requirement = outcome.requirement
        case = ElementTree.SubElement(suite, "testcase", {
            "classname": f"cds-hooks.{requirement.area}", "name": f"{requirement.id} {requirement.text}"})
        detail = "\n".join(line.strip() for line in _shown(outcome))
        if outcome.status is Status.FAIL:
            failure = ElementTree.SubElement(case, "failure", {"message": f"{requirement.level} not met"})
            failure.text = detail
        elif outcome.status is Status.NA:
            reason = next((e.message for e in outcome.evidence), "not exercised by this service's answers")
            ElementTree.SubElement(case, "skipped", {"message": reason[:500]})
        elif outcome.status is Status.WARN:
            ElementTree.SubElement(case, "system-out").text = f"WARNING ({requirement.level} not met)\n{detail}"
    testsuites = ElementTree.Element("testsuites")
    testsuites.append(suite)
    return ElementTree.tostring(testsuites, encoding="utf-8", xml_declaration=True)
