"""Reading a JSON request body: content type (415), size (413), syntax and nesting depth (400).

The nesting depth is checked on the raw bytes before parsing, with C-speed byte operations only (string
contents dropped, then brackets counted), so a deeply nested body costs about as much as parsing it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import request
from werkzeug.exceptions import UnsupportedMediaType

from cdshooks.protocol.request import RequestProblem
from cdshooks.runtime import runtime

_RUNS = re.compile(rb"\[+|\]+")
_NOT_STRUCTURE = bytes(range(256)).translate(None, b'[]{}"')
_BRACKETS = bytes.maketrans(b"{}", b"[]")
_PASSES = 6


def too_deep(raw: bytes, limit: int) -> bool:
    """Whether the JSON text nests arrays/objects deeper than `limit` (invalid JSON: any answer, no error)."""
    # A quote right after a backslash may be escaped: drop escaped backslashes, then escaped quotes, so the quotes
    # left delimit strings. No backslash before any quote (e.g. report text with only \n): every quote delimits.
    if b'\\"' in raw:
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    text = raw.translate(_BRACKETS, _NOT_STRUCTURE)  # brackets (objects as arrays) and quotes only, in one pass
    if len(text) <= limit:  # fewer structure characters than levels allowed
        return False
    text = text.replace(b'""', b"")  # strings without brackets (nearly all): two quotes side by side
    if b'"' in text:
        text = b"".join(text.split(b'"')[::2])  # outside strings only
    if b"[" * (limit + 1) in text or b"]" * (limit + 1) in text:
        return True
    passes = min(_PASSES, limit)
    for _ in range(passes):  # each pass removes the innermost level
        if not text:
            return False
        text = text.replace(b"[]", b"")
    depth, left = 0, limit - passes
    for run in _RUNS.findall(text):
        depth += len(run) if run[0] == 0x5B else -len(run)
        if depth > left:
            return True
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
    if too_deep(raw, limit):
        raise RequestProblem([("body", f"JSON nested deeper than {limit} levels")])
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise RequestProblem([("body", "JSON nested too deeply")]) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestProblem([("body", f"not valid JSON ({type(exc).__name__})")]) from None
