"""Structured JSON logs, one object per line, with no tokens or patient identifiers.

Only fields listed in `SAFE_FIELDS` are copied from a record's `extra`; anything else a caller passes is
dropped, so a careless `extra={"patientId": ...}` cannot leak into the log. `issuer` is the authenticated
client's JWT `iss` (a public identifier, not a secret); the JWT itself, the fhirAuthorization access token and
patient ids are never logged. urllib3's own debug lines (they carry FHIR request URLs, hence patient ids) are
kept at WARNING.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

SAFE_FIELDS = frozenset({
    "event", "service", "hook", "hook_instance", "status", "latency_ms", "cards", "topics", "fetched",
    "degraded", "unavailable", "key", "error", "attempt", "lost", "lost_total", "unknown", "received",
    "stored", "duplicates", "reason", "method", "path", "system_actions", "dropped", "issuer",
})


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in SAFE_FIELDS:
            if name in record.__dict__:
                entry[name] = record.__dict__[name]
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__name__
        return json.dumps(entry, default=str)


def configure(level: str) -> None:
    root = logging.getLogger("cdshooks")
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(level)
    root.propagate = True
    urllib3 = logging.getLogger("urllib3")
    if urllib3.level == logging.NOTSET or urllib3.level < logging.WARNING:
        urllib3.setLevel(logging.WARNING)
