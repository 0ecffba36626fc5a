"""Reading a JSON request body: content type (415), size (413), syntax and nesting depth (400).

Nesting is bounded twice. The parser (the standard library's C decoder) stops at the interpreter's recursion
bound (about 1,000 levels) with a RecursionError: a nesting bomb costs no more than reading it, answered 400.
Then everything the service validates with models, copies or echoes back (the envelope, `context`, `extension`,
a feedback batch) must nest at most CDSHOOKS_MAX_JSON_DEPTH levels, checked on the parsed values. The `prefetch`
values are not walked: they are FHIR resources read by fixed paths (cdshooks.clinical.extract), never
recursively, and walking them cost a third of parsing them (issue 15).
"""

from __future__ import annotations

import json
from typing import Any

from flask import request
from werkzeug.exceptions import UnsupportedMediaType

from cdshooks.protocol.request import RequestProblem
from cdshooks.runtime import runtime

_CONTAINERS = (dict, list)  # a tuple: `dict | list` would build a union object at every check
NOT_WALKED = "prefetch"  # the top-level member whose values the depth check leaves to the parser's bound


def nested_deeper(value: Any, limit: int, skip: str | None = None) -> bool:
    """Whether parsed JSON nests arrays/objects deeper than `limit` levels (a scalar is level 0, `[]` level 1),
    level by level without recursion; `skip`: a member of the top-level object left out."""
    if isinstance(value, dict) and skip is not None and skip in value:
        value = {key: item for key, item in value.items() if key != skip}
    level = [value] if isinstance(value, _CONTAINERS) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        below: list[Any] = []
        for node in level:
            for item in node.values() if isinstance(node, dict) else node:
                if isinstance(item, _CONTAINERS):
                    below.append(item)
        level = below
    return False


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
    limit = runtime().settings.max_json_depth
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise RequestProblem([("body", f"JSON nested deeper than the parser allows (the limit is {limit} levels)")]) \
            from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestProblem([("body", f"not valid JSON ({type(exc).__name__})")]) from None
    if nested_deeper(body, limit, skip=NOT_WALKED):
        raise RequestProblem([("body", f"JSON nested deeper than {limit} levels")])
    return body
