"""The feedback endpoint, when a service offers one (CDS Hooks makes it optional: 404 or 405 = not offered).

The kit reports an outcome for a card uuid it made up, never for a card the service issued, so a production
service's analytics are not skewed by the test.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from cdshooks.conformance_kit.context import Context, check
from cdshooks.conformance_kit.requirements import R
from cdshooks.conformance_kit.results import Status

ACCEPTED = R("#feedback.accepted")
MALFORMED = R("#feedback.malformed-request")


@check(ACCEPTED)
def feedback(ctx: Context) -> None:
    if not ctx.services:
        return
    path = f"{ctx.services[0].path}/feedback"
    moment = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    body = {"feedback": [{"card": str(uuid.uuid4()), "outcome": "overridden", "outcomeTimestamp": moment}]}
    exchange = ctx.client.post(path, body)
    if exchange.status in (404, 405):
        for rid in (ACCEPTED, MALFORMED):
            ctx.record(rid, Status.NA, f"no feedback endpoint (HTTP {exchange.status}): it is optional", exchange)
        return
    ctx.error_body(exchange)
    if exchange.status is not None and 200 <= exchange.status < 300:
        ctx.record(ACCEPTED, Status.PASS, "a well-formed feedback batch: accepted", exchange)
    elif exchange.status is not None and 400 <= exchange.status < 500:
        ctx.record(ACCEPTED, Status.WARN, "feedback about a card the service never issued was refused (the kit "
                   "never reports real cards)", exchange)
    else:
        ctx.record(ACCEPTED, Status.FAIL, "a well-formed feedback batch broke the endpoint", exchange)
    bad = ctx.client.post(path, raw=b'{"feedback": [')
    ctx.error_body(bad)
    if bad.status is not None and 400 <= bad.status < 500:
        ctx.record(MALFORMED, Status.PASS, f"malformed JSON: {bad.status}", bad)
    else:
        ctx.record(MALFORMED, Status.FAIL, "malformed JSON: a 4xx was expected", bad)
