"""Reading a JSON request body: content type (415), size (413), syntax and nesting (400)."""

from __future__ import annotations

import json
from typing import Any

from flask import request
from werkzeug.exceptions import UnsupportedMediaType

from cdshooks.protocol.request import RequestProblem


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def is_json_mimetype(mimetype: str) -> bool:
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def read_json() -> Any:
    """The decoded body. Raises 415, 413 (via MAX_CONTENT_LENGTH) or RequestProblem (400)."""
    if not is_json_mimetype(request.mimetype):
        raise UnsupportedMediaType()
    raw = request.get_data(cache=False)
    if not raw:
        raise RequestProblem([("body", "empty body; a JSON object is required")])
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise RequestProblem([("body", "JSON nested too deeply")]) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestProblem([("body", f"not valid JSON ({type(exc).__name__})")]) from None
